"""The Compose stack proven as processes: the committed file's commands and env, run locally.

Migration, 2 web (gunicorn) processes, 2 workers and a model server start from
``docker-compose.yml`` (see ``stack_processes.py`` for what is translated and why the model
server is the scripted model) against real PostgreSQL and Redis; 20 analysis runs go in through
the JSON API of both web processes at once. Every run succeeds exactly once and no stage runs
twice, though one worker is killed with SIGKILL mid-stage (the survivor's sweeper requeues its
runs) and another is stopped with SIGTERM (it finishes the stage in flight, hands its runs back to
the queue for the other worker and exits 0 within seconds, not after whole runs). ``/readyz`` of
every process answers 200, and so does each service's own Compose healthcheck command.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import redis
import yaml
from sqlalchemy import select
from stack_compose import COMPOSE_FILE, ENV_EXAMPLE, compose_services
from stack_processes import (
    LocalStack,
    create_database,
    drop_database,
    local_redis_url,
)
from stack_runs import (
    api_token,
    assert_none_failed,
    mid_run,
    open_stages,
    problems,
    records,
    requeued,
    runs_of,
    start_runs,
    wait_finished,
    wait_for,
)

from agent_team.plan import STAGE_ORDER
from agent_team.runs.models import Run, RunEvent, RunStatus
from paissive_income.db import Database
from paissive_income.deploy.stack import AI_MODELS, WEB, WORKER

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

RUNS = 20
STARTED = ("migrate", "web", "worker", "ai-models")
REDIS_DB = 13  # the test processes use 15 and 14 (tests/conftest.py)
# Test-only settings on top of the Compose env: a killed worker's runs are requeued within
# seconds (the defaults, 120 s stale and 10 s beats, suit production); each model reply takes a
# moment, so stages are in flight when a worker is stopped.
EXTRA_ENV = {
    "worker": {"AGENT_STALE_SECONDS": "5", "AGENT_HEARTBEAT_SECONDS": "1"},
    "ai-models": {"SCRIPTED_DELAY": "0.25"},
}


def _require(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        if os.environ.get("REQUIRE_TEST_SERVICES") == "1":
            pytest.fail(f"required for CI: {variable} is not set")
        pytest.skip(f"{variable} is not set")
    return value


@pytest.fixture
def stack(tmp_path):
    """The Compose file's services as processes on a fresh database; all killed afterwards."""
    admin_url = _require("TEST_DATABASE_URL")
    redis_url = local_redis_url(_require("TEST_REDIS_URL"), REDIS_DB)
    services = compose_services(COMPOSE_FILE)
    queue = redis.Redis.from_url(redis_url)
    queue.flushdb()
    name, database_url = create_database(admin_url)
    local = LocalStack(
        services,
        workdir=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        extra_env=EXTRA_ENV,
    )
    try:
        yield local
    finally:
        local.stop()
        drop_database(admin_url, name)
        queue.flushdb()
        queue.close()


def _compose_facts(services: dict) -> None:
    """What the process test relies on in the Compose file itself."""
    assert set(STARTED) <= set(services), sorted(services)
    for name in ("web", "worker"):
        after = services[name]["depends_on"]["migrate"]["condition"]
        assert after == "service_completed_successfully", (name, after)
    assert services["worker"]["deploy"]["replicas"] == WORKER.scaling.replicas
    assert services["ai-models"]["command"] == list(AI_MODELS.command)  # replaced: see above
    if shutil.which("docker-compose"):  # Compose's own reading agrees with ours
        resolved = subprocess.run(
            ["docker-compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config"],
            capture_output=True,
            text=True,
            check=True,
        )
        theirs = yaml.safe_load(resolved.stdout)["services"]
        for name in STARTED:
            assert services[name]["command"] == theirs[name]["command"], name
            assert services[name]["environment"] == theirs[name]["environment"], name


def test_compose_stack_as_processes_runs_20_plans_exactly_once_through_kill_and_stop(stack):
    _compose_facts(stack.services)
    with stack.failure_report():
        stack.run_once("migrate")  # must exit 0 before the others start (depends_on)
        model = stack.start("ai-models")
        webs = [stack.start("web") for _ in range(WEB.scaling.replicas)]  # Kubernetes' 2
        killed, stopped = [stack.start("worker") for _ in range(WORKER.scaling.replicas)]
        stack.wait_ready([model, *webs, killed, stopped])
        assert set(stack.statuses().values()) == {200}, stack.statuses()
        for process in stack.processes[1:]:  # the services' own Compose healthchecks pass
            probe = stack.healthcheck(process)
            assert probe.returncode == 0, (process.name, probe.stdout, probe.stderr)

        database = Database(stack.database_url)
        try:
            run_ids = start_runs([web.url("") for web in webs], api_token(database), RUNS)
            assert len(set(run_ids)) == RUNS

            # SIGKILL a worker in the middle of a run: nothing it held may be lost.
            kill_pid = killed.popen.pid

            def busy(pid: int) -> bool:
                assert_none_failed(database, run_ids)
                return mid_run(database, pid)

            wait_for(lambda: busy(kill_pid), 60, "a worker mid-way through a run")
            mark = stopped.log_size()
            os.kill(kill_pid, signal.SIGKILL)
            assert killed.popen.wait(timeout=10) == -signal.SIGKILL
            orphans = runs_of(database, kill_pid)  # the dead worker can write nothing more
            interrupted = open_stages(database, orphans)
            # A stage after the first was cut off before its artifact was saved: it must run
            # again exactly once, and the stages before it must be skipped.
            assert any(s != "research" and not saved for (_r, s), saved in interrupted.items())
            # The survivor's sweeper puts them back on the queue (claimed when a thread is free).
            wait_for(lambda: requeued(stopped, mark, orphans), 30, "the survivor's sweeper")

            # A replacement starts (Compose's restart policy); SIGTERM the survivor while it is
            # inside a stage before the last: it ends that stage, hands the run back to the queue
            # (the replacement resumes it) and exits 0 in seconds, not after whole runs.
            replacement = stack.start("worker")
            stop_pid = stopped.popen.pid
            wait_for(lambda: _before_last_stage(database, run_ids, stop_pid), 30, "a busy worker")
            held = runs_of(database, stop_pid)
            os.kill(stop_pid, signal.SIGTERM)
            began = time.monotonic()
            assert stopped.popen.wait(timeout=60) == 0
            stopped_in = time.monotonic() - began
            assert stopped_in < 20, f"SIGTERM to exit took {stopped_in:.1f} s"
            assert runs_of(database, stop_pid) == []  # nothing left "running" in its name
            handed_back = _released(database, held)
            # Each run it held went back on the queue, or ended if its stage in flight was its
            # last; none was cut mid-stage (problems() below: no stage started twice).
            assert handed_back, f"SIGTERM handed back none of {held}"
            ended = _statuses(database, set(held) - handed_back)
            assert set(ended.values()) <= {RunStatus.SUCCEEDED}, ended

            stack.wait_ready([replacement])
            wait_finished(database, run_ids, timeout=120)
            found = records(database, run_ids)
            assert problems(found, run_ids, interrupted) == []
            assert sum(r.attempts > 1 for r in found.values()) >= len(orphans)
            statuses = stack.statuses()
            assert set(statuses) == {"ai-models-1", "web-1", "web-2", "worker-3"}
            assert set(statuses.values()) == {200}, statuses
        finally:
            database.dispose()


def _before_last_stage(database: Database, run_ids: list[int], pid: int) -> bool:
    """Say whether worker ``pid`` is inside a stage before the last (fail on a failed run)."""
    assert_none_failed(database, run_ids)
    opened = open_stages(database, runs_of(database, pid))
    return any(stage != STAGE_ORDER[-1] for (_run, stage) in opened)


def _released(database: Database, run_ids: list[int]) -> set[int]:
    """Return the runs among ``run_ids`` that a stopping worker handed back to the queue."""
    with database.session() as session:
        query = select(RunEvent.run_id).where(
            RunEvent.run_id.in_(run_ids), RunEvent.kind == "released"
        )
        return set(session.scalars(query))


def _statuses(database: Database, run_ids: set[int]) -> dict[int, RunStatus]:
    """Return the status of each run."""
    with database.session() as session:
        rows = session.execute(select(Run.id, Run.status).where(Run.id.in_(run_ids))).all()
    return {run_id: status for run_id, status in rows}
