"""The model server stopped, slow or gone in the middle of a run, over real HTTP.

A worker's executor runs a plan against the scripted model served on a fixed port; the server
is closed (connections refused) once the research stage is saved. Within the wait deadline
(``AGENT_MODEL_WAIT_SECONDS``) the run waits, says so, and goes on when the server is back;
past it the run fails with a clear error naming the setting, and ``resume`` continues from its
last finished stage (research is not asked again). A server slower than the client's timeout is
waited for the same way. A reply cache that is down (Redis) only costs the cache.
"""

from __future__ import annotations

import threading

import pytest
from outage_support import ScriptedServer, client_factory, make_owner
from sqlalchemy import select
from werkzeug.serving import make_server

from agent_team.config import AgentSettings
from agent_team.runs import events, service
from agent_team.runs.models import Run, RunArtifact
from agent_team.runs.worker import RunExecutor
from paissive_income.cache import RedisCache
from paissive_income.db import Database, migrate

pytestmark = pytest.mark.slow


class RestartableModel:
    """The scripted model on one port that can be closed (refusing connections) and reopened."""

    def __init__(self, delay: float = 0.0) -> None:
        self.scripted = ScriptedServer(delay=delay)  # bound to a free port, not serving yet
        self.model, self.url = self.scripted.model, self.scripted.url
        self._server = self.scripted._server
        self._thread = None
        self.open()

    def open(self) -> None:
        if self._server is None:
            port = int(self.url.rsplit(":", 1)[1].split("/")[0])
            self._server = make_server("127.0.0.1", port, self.scripted._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # connections are refused from now on
            self._server = None


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'runs.db'}")
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def server():
    model = RestartableModel()
    yield model
    model.close()


def _executor(database, server, *, timeout: float = 30, cache=None, **agent) -> RunExecutor:
    settings = {"AGENT_HEARTBEAT_SECONDS": 0.2, **agent}
    return RunExecutor(
        database=database,
        cache=cache,
        settings=AgentSettings(**settings),
        client_factory=client_factory(server, timeout=timeout),
        worker="w1",
    )


def _new_run(database) -> tuple[int, int]:
    owner, project = make_owner(database)
    with database.session() as session:
        run = service.create_run(session, owner_id=owner, project_id=project, model="scripted")
        return owner, run.id


def _close_after_research(executor: RunExecutor, server: RestartableModel, reopen: float | None):
    """Close the server once research is saved; reopen it ``reopen`` seconds later."""

    def listener(kind: str, stage: str, _detail) -> None:
        if kind == "stage_finished" and stage == "research":
            server.close()
            if reopen is not None:
                threading.Timer(reopen, server.open).start()

    executor.listeners.append(listener)


def _steps(database, run_id: int) -> list[str]:
    with database.session() as session:
        found = events.events_since(session, run_id=run_id)
    return [f"{e.kind}:{e.stage}:{e.detail.get('step', '')}" for e in found]


def test_model_server_down_mid_run_the_run_waits_and_goes_on_when_it_is_back(database, server):
    _owner, run_id = _new_run(database)
    executor = _executor(database, server, AGENT_MODEL_WAIT_SECONDS=30)
    _close_after_research(executor, server, reopen=2.0)
    assert executor.execute(run_id) == "succeeded"
    steps = _steps(database, run_id)
    waits = [s for s in steps if "waiting for the model server" in s]
    assert len(waits) == 1 and "cannot be reached" in waits[0], steps  # said once
    assert server.model.calls("NicheIdeas") == 1  # the finished stage was not asked again


def test_model_server_gone_past_the_deadline_fails_clearly_and_resume_goes_on(database, server):
    owner, run_id = _new_run(database)
    executor = _executor(database, server, AGENT_MODEL_WAIT_SECONDS=1.5)
    _close_after_research(executor, server, reopen=None)
    assert executor.execute(run_id) == "failed"
    with database.session() as session:
        run = session.get(Run, run_id)
        saved = session.scalars(select(RunArtifact.stage).where(RunArtifact.run_id == run_id))
        assert list(saved) == ["research"]
    assert "cannot be reached" in run.error and "AGENT_MODEL_WAIT_SECONDS" in run.error
    assert "waited" in run.error or "waiting" in run.error, run.error

    server.open()
    with database.session() as session:
        service.resume_run(session, owner_id=owner, run_id=run_id)
    executor.listeners.clear()
    assert executor.execute(run_id) == "succeeded"
    assert server.model.calls("NicheIdeas") == 1  # resumed from its last finished stage
    assert "stage_skipped:research:" in _steps(database, run_id)


def test_a_model_server_slower_than_the_timeout_is_waited_for(database):
    slow = RestartableModel(delay=1.0)  # each reply takes 1 s; the client gives up after 0.5 s
    try:
        _owner, run_id = _new_run(database)
        executor = _executor(database, slow, timeout=0.5, AGENT_MODEL_WAIT_SECONDS=30)
        threading.Timer(1.5, lambda: setattr(slow.scripted, "delay", 0.0)).start()
        assert executor.execute(run_id) == "succeeded"
        waits = [s for s in _steps(database, run_id) if "waiting for the model server" in s]
        assert waits and "timed out" in waits[0].lower(), waits
    finally:
        slow.close()


def test_a_reply_cache_that_is_down_does_not_fail_the_run(database, server):
    _owner, run_id = _new_run(database)
    down = RedisCache("redis://127.0.0.1:1/0")  # nothing listens on port 1
    executor = _executor(database, server, cache=down, AGENT_MODEL_WAIT_SECONDS=0)
    assert executor.execute(run_id) == "succeeded"
    down.close()
