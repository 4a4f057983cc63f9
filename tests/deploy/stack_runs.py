"""Driving analysis runs through the stack's web API, and reading what happened from the database.

A run's stages are recorded as ``run_events`` (``stage_started``, ``stage_finished``,
``stage_skipped`` when a resumed run finds the stage's artifact) and ``run_artifacts`` (one row
per run and stage, unique); ``runs.attempts`` counts claims and ``runs.worker`` names the
claiming process (``host:pid:id``). Shared by the stack test and ``benchmarks/stack.py``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from agent_team.plan import STAGE_ORDER
from agent_team.runs.models import FINISHED, Run, RunArtifact, RunEvent, RunStatus
from paissive_income.auth.service import create_token, register_user
from paissive_income.db import Database

FAILED = [status for status in FINISHED if status != RunStatus.SUCCEEDED]


def api_token(database: Database) -> str:
    """Register the first user (an admin) and return a new API token's secret."""
    with database.session() as session:
        user = register_user(session, email="stack@example.com", password="correct horse battery")
        _token, secret = create_token(session, user=user, name="stack test")
    return secret


def start_runs(base_urls: list[str], token: str, count: int, tag: str = "") -> list[int]:
    """Create ``count`` projects and start a run of each, all at once, alternating web servers.

    Each project's segment is new (``tag`` tells batches apart), so no reply comes from the
    response cache: every run asks the model.
    """
    headers = {"Authorization": f"Bearer {token}"}
    barrier = threading.Barrier(count)

    def one(i: int) -> int:
        with httpx.Client(base_url=base_urls[i % len(base_urls)], headers=headers, timeout=60) as c:
            barrier.wait(timeout=60)  # the requests overlap for real
            segment = f"freelance translators, cohort {i}{tag}"
            project = c.post(
                "/api/v1/projects", json={"name": f"Stack {i}", "market_segments": [segment]}
            )
            assert project.status_code == 201, project.text
            run = c.post(f"/api/v1/projects/{project.json()['id']}/runs", json={})
            assert run.status_code == 202, run.text
            return run.json()["id"]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def wait_finished(database: Database, run_ids: list[int], timeout: float) -> float:
    """Wait until every run has a final status; return the seconds it took."""
    began = time.monotonic()
    while True:
        with database.session() as session:
            statuses = session.scalars(select(Run.status).where(Run.id.in_(run_ids))).all()
        if len(statuses) == len(run_ids) and all(s in FINISHED for s in statuses):
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise AssertionError(f"runs not finished after {timeout} s: {Counter(statuses)}")
        time.sleep(0.2)


def wait_for(predicate, timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is true, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def assert_none_failed(database: Database, run_ids: list[int]) -> None:
    """Fail at once, with the runs' errors, when a run has ended other than succeeded."""
    with database.session() as session:
        rows = session.execute(
            select(Run.id, Run.status, Run.error).where(
                Run.id.in_(run_ids),
                Run.status.in_([s for s in FINISHED if s != RunStatus.SUCCEEDED]),
            )
        ).all()
    assert not rows, [f"run {r.id} {r.status.value}: {r.error}" for r in rows][:3]


def requeued(process, mark: int, run_ids: list[int]) -> bool:
    """Say whether ``process`` (a worker) logged requeueing every run, after log mark ``mark``.

    The sweeper's line (``agent_team.runs.tasks``): a silent run goes back on the queue, to be
    claimed when a job thread is free.
    """
    text = process.logged_since(mark)
    return all(f"requeueing run {run_id} (no live worker)" in text for run_id in run_ids)


def worker_pid(worker: str | None) -> int | None:
    """Return the process id in a run's ``worker`` name (``host:pid:id``)."""
    return int(worker.split(":")[1]) if worker else None


def runs_of(database: Database, pid: int) -> list[int]:
    """Return the ids of the runs process ``pid`` is working now."""
    with database.session() as session:
        rows = session.execute(
            select(Run.id, Run.worker).where(Run.status == RunStatus.RUNNING)
        ).all()
    return [run_id for run_id, worker in rows if worker_pid(worker) == pid]


def open_stages(database: Database, run_ids: list[int]) -> dict[tuple[int, str], bool]:
    """Return the stages begun and not finished: (run, stage) -> whether its artifact is saved.

    A stage is open when its run's last stage event is ``stage_started``. Its artifact may be
    saved already when a worker died between writing it and recording ``stage_finished``.
    """
    found = {}
    with database.session() as session:
        for run_id in run_ids:
            last = session.execute(
                select(RunEvent.kind, RunEvent.stage)
                .where(RunEvent.run_id == run_id, RunEvent.kind.like("stage_%"))
                .order_by(RunEvent.id.desc())
                .limit(1)
            ).one_or_none()
            if last is not None and last.kind == "stage_started":
                saved = session.scalar(
                    select(RunArtifact.id).where(
                        RunArtifact.run_id == run_id, RunArtifact.stage == last.stage
                    )
                )
                found[(run_id, last.stage)] = saved is not None
    return found


def mid_run(database: Database, pid: int) -> bool:
    """Say whether process ``pid`` is inside a stage after the first of some run.

    A worker killed then leaves finished stages behind as well as a cut-off one: the run's
    resumption must skip the former and run the latter again.
    """
    opened = open_stages(database, runs_of(database, pid))
    return any(stage != STAGE_ORDER[0] and not saved for (_r, stage), saved in opened.items())


@dataclass
class RunRecord:
    """What the database says happened to one run."""

    run_id: int
    status: str
    attempts: int
    seconds: float
    started: Counter  # stage -> stage_started events
    finished: Counter  # stage -> stage_finished events
    artifacts: Counter  # stage -> artifact rows
    run_finished: int


def records(database: Database, run_ids: list[int]) -> dict[int, RunRecord]:
    """Read every run's status, attempts, duration, stage events and artifacts."""
    found = {}
    with database.session() as session:
        for run in session.scalars(select(Run).where(Run.id.in_(run_ids))):
            events = session.execute(
                select(RunEvent.kind, RunEvent.stage).where(RunEvent.run_id == run.id)
            ).all()
            stages = session.scalars(select(RunArtifact.stage).where(RunArtifact.run_id == run.id))
            end = run.finished_at or run.created_at
            found[run.id] = RunRecord(
                run_id=run.id,
                status=run.status.value,
                attempts=run.attempts,
                seconds=(end - run.created_at).total_seconds(),
                started=Counter(s for k, s in events if k == "stage_started"),
                finished=Counter(s for k, s in events if k == "stage_finished"),
                artifacts=Counter(stages),
                run_finished=sum(k == "run_finished" for k, _s in events),
            )
    return found


def problems(
    found: dict[int, RunRecord], run_ids: list[int], killed: dict[tuple[int, str], bool]
) -> list[str]:
    """List every way the runs broke "each run succeeds once, no stage runs twice".

    ``killed`` holds the stages a SIGKILL left open (``open_stages``): one without its artifact
    must start exactly twice; one whose artifact was saved is skipped on resume, so it starts
    once and may lack its ``stage_finished``.
    """
    wrong = [f"run {r}: missing" for r in run_ids if r not in found]
    for record in found.values():
        r = record.run_id
        if record.status != RunStatus.SUCCEEDED.value:
            wrong.append(f"run {r}: {record.status}")
        if record.run_finished != 1:
            wrong.append(f"run {r}: finished {record.run_finished} times")
        for stage in STAGE_ORDER:
            saved = killed.get((r, stage))
            starts = 2 if saved is False else 1
            if record.started[stage] != starts:
                wrong.append(f"run {r}: {stage} started {record.started[stage]}x, not {starts}x")
            if record.artifacts[stage] != 1:
                wrong.append(f"run {r}: {stage} has {record.artifacts[stage]} artifacts")
            if record.finished[stage] != 1 and not (saved and record.finished[stage] == 0):
                wrong.append(f"run {r}: {stage} finished {record.finished[stage]}x")
    return wrong


def percentile(values: list[float], share: float) -> float:
    """Return the ``share`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]
