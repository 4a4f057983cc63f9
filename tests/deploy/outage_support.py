"""Helpers for the failure tests: a worker in this process, runs through the API, their record.

A worker here is what ``paissive-income worker`` runs (``build_team`` + ``JobQueue.consume``:
huey consumer threads and the sweeper) with a database connection pool of its own, working runs
against the scripted model over HTTP. What happened to each run is read from the database: its
status, its artifacts (one per stage, unique) and its ``run_finished`` events.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent_team"))

from agent_support import make_owner  # noqa: E402
from scripted_model import ScriptedServer  # noqa: E402

from agent_team.config import AgentSettings  # noqa: E402
from agent_team.plan import STAGE_ORDER  # noqa: E402
from agent_team.runs.models import FINISHED, Run, RunArtifact, RunEvent  # noqa: E402
from agent_team.team import build_team  # noqa: E402
from paissive_income.auth.service import create_token, register_user  # noqa: E402
from paissive_income.cache import create_cache  # noqa: E402
from paissive_income.db import Database  # noqa: E402

__all__ = [
    "ScriptedServer",
    "api_token",
    "make_owner",
    "problems",
    "start_runs",
    "wait_for",
    "worker",
    "worker_process",
]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``predicate`` until it is true, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


def api_token(database: Database, email: str = "ops@example.com") -> str:
    """Register a user and return a new API token's secret."""
    with database.session() as session:
        user = register_user(session, email=email, password="correct horse battery")
        _token, secret = create_token(session, user=user, name="failure tests")
    return secret


def start_runs(base_url: str, token: str, count: int, tag: str) -> list[int]:
    """Create ``count`` projects through the API and start a run of each; return the run ids.

    Each project's segment is new, so no model reply comes from the response cache.
    """
    headers = {"Authorization": f"Bearer {token}"}
    ids = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for i in range(count):
            project = client.post(
                "/api/v1/projects",
                json={"name": f"Ops {tag} {i}", "market_segments": [f"translators {tag} {i}"]},
            )
            assert project.status_code == 201, project.text
            run = client.post(f"/api/v1/projects/{project.json()['id']}/runs", json={})
            assert run.status_code == 202, run.text
            ids.append(run.json()["id"])
    return ids


def statuses(database: Database, run_ids: list[int]) -> Counter:
    """Count the runs' statuses."""
    with database.session() as session:
        found = session.scalars(select(Run.status).where(Run.id.in_(run_ids))).all()
    return Counter(status.value for status in found)


def finished(database: Database, run_ids: list[int]) -> bool:
    """Say whether every run has a final status."""
    with database.session() as session:
        found = session.scalars(select(Run.status).where(Run.id.in_(run_ids))).all()
    return len(found) == len(run_ids) and all(status in FINISHED for status in found)


def problems(database: Database, run_ids: list[int]) -> list[str]:
    """List every way the runs broke "each run succeeded once, each stage saved once"."""
    wrong = []
    with database.session() as session:
        for run_id in run_ids:
            run = session.get(Run, run_id)
            if run is None:
                wrong.append(f"run {run_id}: lost")
                continue
            if run.status.value != "succeeded":
                wrong.append(f"run {run_id}: {run.status.value} ({run.error})")
            stages = Counter(
                session.scalars(select(RunArtifact.stage).where(RunArtifact.run_id == run_id))
            )
            if stages != Counter(STAGE_ORDER):
                wrong.append(f"run {run_id}: artifacts {dict(stages)}")
            ends = session.scalar(
                select(func.count())
                .select_from(RunEvent)
                .where(RunEvent.run_id == run_id, RunEvent.kind == "run_finished")
            )
            if ends != 1:
                wrong.append(f"run {run_id}: finished {ends} times")
    return wrong


def client_factory(model: ScriptedServer, timeout: float = 30):
    """Return a factory of OpenAI clients of the scripted model over HTTP."""
    return lambda: openai.OpenAI(base_url=model.url, api_key="k", max_retries=0, timeout=timeout)


@contextmanager
def worker(settings, model: ScriptedServer, **agent) -> Iterator:
    """Run a worker (consumer threads and sweeper) in this process; stop it after the block.

    ``agent`` are AGENT_* settings (small stale and heartbeat seconds make the sweeper quick).
    """
    database = Database(settings.sqlalchemy_url)
    cache = create_cache(redis_url=settings.redis_url, directory=settings.cache_path)
    team = build_team(
        settings,
        database,
        cache,
        agent_settings=AgentSettings(**agent),
        client_factory=client_factory(model),
    )
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    consumer = team.queue.consume(workers=2, block=False)
    for sig, handler in kept.items():
        signal.signal(sig, handler)  # huey's handlers would swallow Ctrl+C in the tests
    try:
        yield team
    finally:
        team.queue.stop(consumer)
        cache.close()
        database.dispose()


@contextmanager
def worker_process(settings, model: ScriptedServer, port: int, log: Path, **agent) -> Iterator[str]:
    """Run ``paissive-income worker`` with its health server on ``port``; yield that URL.

    It is stopped with SIGTERM (SIGKILL after 30 s) after the block.
    """
    keep = ("PATH", "LANG", "LC_ALL", "VIRTUAL_ENV", "PYTHONPATH", "HOME")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        DATABASE_URL=settings.sqlalchemy_url,
        REDIS_URL=settings.redis_url or "",
        SECRET_KEY=settings.secret_key.get_secret_value(),
        INSTANCE_PATH=str(settings.instance_path),
        AI_MODELS_URL=model.url,
        AI_CHAT_MODEL="scripted",
        AI_MODEL_API_KEY="scripted",
        WORKER_HEALTH_PORT=str(port),
        LOG_LEVEL="WARNING",
        **{name: str(value) for name, value in agent.items()},
    )
    script = Path(sys.executable).parent / "paissive-income"
    command = [str(script) if script.exists() else "paissive-income", "worker", "--workers", "2"]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                return httpx.get(url + "/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 60, "the worker's /readyz")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
