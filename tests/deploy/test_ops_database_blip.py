"""The database goes away in the middle of a stage and is back before the worker's next write.

The worker cannot tell a blip (PostgreSQL restarting, a failover) from a long outage when its
write fails, so it leaves the run ``running`` without a heartbeat rather than ending it: a sweep
resumes it from its last finished stage, as after a long outage (``test_ops_database_redis_down``).
Ending it ``failed`` instead would need a person to resume it whenever the database came back
in time to take that status.
"""

from __future__ import annotations

import time

import pytest
from outage_support import ScriptedServer, client_factory, make_owner
from sqlalchemy.exc import OperationalError

from agent_team.config import AgentSettings
from agent_team.runs import service
from agent_team.runs.claims import stale_runs
from agent_team.runs.models import Run, RunStatus
from agent_team.runs.worker import RunExecutor
from paissive_income.db import Database, migrate

STALE = 0.5


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'runs.db'}")
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def _executor(database, model, worker: str) -> RunExecutor:
    return RunExecutor(
        database=database,
        cache=None,
        settings=AgentSettings(AGENT_HEARTBEAT_SECONDS=0.1, AGENT_STALE_SECONDS=STALE),
        client_factory=client_factory(model),
        worker=worker,
    )


def test_a_database_blip_mid_stage_leaves_the_run_to_the_sweep_which_resumes_it(
    database, monkeypatch
):
    owner, project = make_owner(database)
    with database.session() as session:
        run_id = service.create_run(
            session, owner_id=owner, project_id=project, model="scripted"
        ).id
    with ScriptedServer() as model:
        first = _executor(database, model, "w1")
        progress = first._progress
        cut = {"done": False}

        def progress_cut_once(run, step, meter):
            with database.session() as session:
                stored = service.stored_artifacts(session, run)
            if "research" in stored and not cut["done"]:
                cut["done"] = True  # the connection is lost during this write, once
                reason = Exception("server closed the connection unexpectedly")
                raise OperationalError("UPDATE runs SET step=...", {}, reason)
            return progress(run, step, meter)

        monkeypatch.setattr(first, "_progress", progress_cut_once)
        assert first.execute(run_id) == "interrupted"
        with database.session() as session:
            run = session.get(Run, run_id)
            assert (run.status, run.error, run.worker) == (RunStatus.RUNNING, None, "w1")
            assert set(service.stored_artifacts(session, run_id)) == {"research"}

        time.sleep(STALE + 0.2)  # the heartbeat stopped with the worker's attempt
        with database.session() as session:
            assert stale_runs(session, stale_seconds=STALE) == [run_id]
        assert _executor(database, model, "w2").execute(run_id) == "succeeded"
    with database.session() as session:
        run = session.get(Run, run_id)
        assert (run.attempts, run.worker) == (2, "w2")
    assert model.model.calls("NicheIdeas") == 1  # research was not asked again
