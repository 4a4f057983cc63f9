"""PostgreSQL and Redis taken away while the web app and a worker run, then given back.

Private servers (``private_services.py``; the shared ones on 5432/6379 serve other tests) are
stopped and started again under a live web app (the Flask app over HTTP) and a worker in this
process, with runs on the scripted model. Expected: pages and the API answer a 503 naming the
dependency, never a 500 or a traceback; ``/readyz`` turns 503 naming it and back to 200; every
run succeeds exactly once when the dependency is back (one artifact per stage, one end).
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
from outage_support import (
    ScriptedServer,
    api_token,
    finished,
    problems,
    start_runs,
    wait_for,
    worker_process,
)
from outage_support import worker as start_worker
from private_services import PrivatePostgres, PrivateRedis, free_port
from sqlalchemy import select

from agent_team.runs.models import Run, RunArtifact, RunStatus
from live_server import live_server
from paissive_income.config import load_settings
from paissive_income.db import Database, migrate
from paissive_income.web import create_app
from web_support import csrf_token

pytestmark = pytest.mark.slow

PASSWORD = "pg-secret-Zq81"  # trust auth ignores it: only to prove no answer ever shows it
# The sweeper requeues a silent running run, or a queued run with no job, after STALE seconds.
AGENT = {"AGENT_STALE_SECONDS": 2, "AGENT_HEARTBEAT_SECONDS": 0.5, "AGENT_MODEL_WAIT_SECONDS": 30}


@pytest.fixture(scope="module")
def private_postgres():
    """A PostgreSQL cluster of this module's own (the shared one serves other tests)."""
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def private_redis():
    """A Redis server of this module's own, without persistence."""
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def model():
    with ScriptedServer(delay=0.1) as server:
        yield server


@pytest.fixture(scope="module")
def system(private_postgres, private_redis, tmp_path_factory):
    """The web app over HTTP on the private PostgreSQL and Redis; yield (settings, base URL)."""
    url = private_postgres.url.replace("postgres@", f"postgres:{PASSWORD}@")
    settings = load_settings(
        {},
        instance_path=tmp_path_factory.mktemp("instance"),
        database_url=url,
        redis_url=private_redis.url,
        secret_key="failure-tests-" + "k" * 40,
        log_level="ERROR",
        open_registration=True,
    )
    app = create_app(settings)
    migrate.upgrade(app.extensions["paissive"].database.engine)
    with live_server(app) as base:
        yield settings, base
    app.extensions["paissive"].database.dispose()


@pytest.fixture(scope="module")
def database(system):
    """The test's own connection to the private database (for reading what happened)."""
    database = Database(system[0].sqlalchemy_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def token(database):
    return api_token(database)


def _signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/register").text
    password = "correct horse battery"
    email = "pages@example.com"
    form = {"email": email, "password": password, "confirm": password}
    assert client.post("/register", data={**form, "csrf_token": csrf_token(page)}).is_redirect
    return client


def _ready(base: str) -> tuple[int, dict]:
    answer = httpx.get(base + "/readyz", timeout=30)
    return answer.status_code, answer.json()


def _clear_503(answer: httpx.Response, *words: str) -> str:
    """Assert a clear 503 (not a 500, no traceback, no secret) and return its text."""
    text = answer.text
    assert answer.status_code == 503, (answer.status_code, text[:300])
    assert answer.headers["Retry-After"] == "30"
    assert "Traceback" not in text and "psycopg" not in text and PASSWORD not in text
    for word in words:
        assert word in text, (word, text[:500])
    return text


def test_postgresql_down_pages_say_503_readyz_names_it_and_all_recover(
    system, private_postgres, token, model, tmp_path
):
    settings, base = system
    browser = _signed_in(base)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert browser.get("/").status_code == 200
    assert _ready(base)[0] == 200
    with worker_process(settings, model, free_port(), tmp_path / "worker.log", **AGENT) as worker:
        private_postgres.stop()
        try:
            _pages_while_postgresql_is_down(base, browser, api)
            status, ready = _ready(worker)
            assert status == 503 and ready["failing"] == ["database"], ready
            assert PASSWORD not in str(ready)
        finally:
            private_postgres.start()
        wait_for(lambda: _ready(worker)[0] == 200, 30, "the worker's /readyz to be 200 again")
    wait_for(lambda: _ready(base)[0] == 200, 30, "/readyz to be 200 again")
    assert browser.get("/").status_code == 200
    assert api.get("/api/v1/projects").status_code == 200


def _pages_while_postgresql_is_down(base: str, browser: httpx.Client, api: httpx.Client) -> None:
    """What a person and a probe see while PostgreSQL is down."""
    page = _clear_503(browser.get("/"), "database cannot be reached", "try again")
    assert page.startswith("<!doctype html>")  # the site's page, as to a visitor
    _clear_503(browser.get("/projects/new"), "database cannot be reached")
    body = _clear_503(api.get("/api/v1/projects")).strip()
    error = httpx.Response(503, content=body).json()["error"]
    assert error["code"] == "service_unavailable" and "database" in error["message"]
    status, ready = _ready(base)
    assert status == 503 and ready["failing"] == ["database", "schema"], ready
    database_check = ready["checks"]["database"]
    assert re.match(r"failed: Cannot connect to the database at 127\.0\.0\.1:\d+ ", database_check)
    assert ready["checks"]["schema"] == (
        "failed: cannot be checked: the database cannot be reached"
    )
    assert PASSWORD not in str(ready)
    assert httpx.get(base + "/healthz").status_code == 200  # alive: no restart loop


def test_postgresql_down_mid_run_runs_resume_once_it_is_back(
    system, private_postgres, database, token, model
):
    settings, base = system
    with start_worker(settings, model, **AGENT):
        run_ids = start_runs(base, token, 3, "pg")

        def mid_run() -> bool:
            with database.session() as session:
                saved = session.scalars(
                    select(RunArtifact.run_id).where(RunArtifact.run_id.in_(run_ids))
                ).all()
            return len(saved) >= 1

        wait_for(mid_run, 60, "a run with a finished stage")
        private_postgres.stop("immediate")  # as a crash: connections cut mid-transaction
        time.sleep(3)  # runs hit the outage: model replies cannot be saved
        private_postgres.start()
        wait_for(lambda: finished(database, run_ids), 90, "every run to finish")
    assert problems(database, run_ids) == []
    with database.session() as session:
        attempts = session.scalars(select(Run.attempts).where(Run.id.in_(run_ids))).all()
    assert max(attempts) > 1  # the outage cut a run off: a worker took it up again


def test_redis_down_runs_queued_meanwhile_are_not_lost(
    system, private_redis, database, token, model, tmp_path
):
    settings, base = system
    before = start_runs(base, token, 2, "redis-before")  # jobs in Redis, no worker yet
    private_redis.stop()  # no persistence: those jobs are gone with it
    try:
        status, ready = _ready(base)
        assert status == 503 and ready["failing"] == ["cache", "queue"], ready
        assert ready["checks"]["cache"].startswith("failed: Redis cannot be reached: ")
        assert ready["checks"]["queue"].startswith(
            "failed: the job queue (Redis) cannot be reached: "
        )
        during = start_runs(base, token, 1, "redis-during")  # accepted: the run is a row
        signin = httpx.Client(base_url=base, timeout=30)
        page = signin.get("/login").text  # the sign-in limit lives in Redis
        answer = signin.post(
            "/login",
            data={"email": "x@example.com", "password": "wrong", "csrf_token": csrf_token(page)},
        )
        _clear_503(answer, "Redis")
        with database.session() as session:
            queued = session.scalars(select(Run.status).where(Run.id.in_(before + during))).all()
        assert set(queued) == {RunStatus.QUEUED}
    finally:
        private_redis.start()  # empty: every job is lost; the runs are rows
    wait_for(lambda: _ready(base)[0] == 200, 30, "/readyz to be 200 again")
    log = tmp_path / "worker.log"
    with worker_process(settings, model, free_port(), log, **AGENT) as worker:
        wait_for(lambda: finished(database, before + during), 90, "every run to finish")
        # Again with the worker up all along: its queue reads and sweeps fail, it lives on.
        private_redis.stop()
        try:
            outage = start_runs(base, token, 1, "redis-outage")
            status, ready = _ready(worker)
            assert status == 503 and ready["failing"] == ["queue"], ready
            time.sleep(1)
        finally:
            private_redis.start()
        wait_for(lambda: finished(database, outage), 90, "the run queued during the outage")
        assert _ready(worker)[0] == 200
    assert problems(database, before + during + outage) == []
