"""Live run streams under the production gunicorn config: every event, no starved pages, no kills.

The slow tests start real processes (``gunicorn_stack``): gunicorn with
``paissive_income.web.gunicorn_conf``, and ``paissive-income worker`` working runs on the
scripted model over HTTP, on SQLite and on PostgreSQL when TEST_DATABASE_URL is set. The others
check the stream's slots and connections in-process, and the settings module itself.
"""

from __future__ import annotations

import json
import runpy
import signal
import time
from contextlib import ExitStack
from types import SimpleNamespace

import httpx
import pytest
from gunicorn_stack import SseReader, Stack, environment, prepare, worker_deaths
from run_pages import create_project, start  # importable once gunicorn_stack is
from scripted_model import ScriptedServer

from agent_team.plan import STAGE_ORDER
from paissive_income.web import gunicorn_conf

WORKER_TIMEOUT = 5  # seconds; the long run below takes about twice as long
CALL_SECONDS = 1.8  # each model call: a run waits on about six rounds of calls
STREAMS = 10
PROMPT = 5.0  # seconds a page may take while streams are open: generous, not a benchmark
WAIT = 60.0  # for a whole run


@pytest.fixture
def launch(tmp_path, database_url):
    """Start, when called, the model, gunicorn and (optionally) a worker; stop them after."""
    with ExitStack() as cleanup:

        def start(*, delay: float = CALL_SECONDS, worker: bool = True, **settings: str):
            model = cleanup.enter_context(ScriptedServer(delay=delay))
            env = environment(tmp_path, database_url, model.url, **settings)
            token, project_id = prepare(env)
            stack = Stack(env, tmp_path / "processes.log")
            cleanup.callback(stack.stop)
            if worker:
                stack.start_worker()
            stack.start_web()
            return stack, stack.api(token), project_id

        yield start


def _start_run(api: httpx.Client, project_id: int) -> int:
    started = api.post(f"/api/v1/projects/{project_id}/runs", json={})
    assert started.status_code == 202, started.text
    return started.json()["id"]


def _answer(client: httpx.Client, path: str) -> int | str:
    """Return the status of ``GET path``, or why there was none within PROMPT seconds."""
    try:
        return client.get(path, timeout=PROMPT).status_code
    except httpx.TimeoutException:
        return f"no answer in {PROMPT} s"


@pytest.mark.slow
def test_ten_streams_follow_a_run_past_the_worker_timeout_while_pages_answer(launch):
    # Fewer workers than streams, and a run that takes about twice the worker timeout.
    stack, api, project_id = launch(GUNICORN_TIMEOUT=str(WORKER_TIMEOUT), WEB_CONCURRENCY="2")
    run_id = _start_run(api, project_id)
    browser = stack.browser()
    status_at_first_stage: list[str] = []

    def look(frame: dict) -> None:
        event = json.loads(frame["data"]) if "id" in frame else {}
        if event.get("kind") == "stage_finished" and not status_at_first_stage:
            status_at_first_stage.append(api.get(f"/api/v1/runs/{run_id}").json()["status"])

    began = time.monotonic()
    streams = [SseReader(browser, f"/runs/{run_id}/events") for _ in range(STREAMS)]
    streams[0].on_frame = look
    for stream in streams:
        stream.start()
    deadline = time.monotonic() + PROMPT * 2
    for stream in streams:
        stream.opened.wait(max(0.0, deadline - time.monotonic()))
    served = sum(s.opened.is_set() for s in streams)
    assert served == STREAMS, f"{served} of {STREAMS} streams served:\n{stack.log_text()[-3000:]}"
    assert all(s.frames[0] == {"retry": "2000"} for s in streams)  # all live, none turned away

    answers = {
        "dashboard": _answer(browser, "/"),
        "run page": _answer(browser, f"/runs/{run_id}"),
        "API projects": _answer(api, "/api/v1/projects"),
        "API run": _answer(api, f"/api/v1/runs/{run_id}"),
    }
    assert answers == dict.fromkeys(answers, 200)
    assert [s for s in streams if s.ended.is_set()] == []  # every stream was open meanwhile

    for stream in streams:
        assert stream.ended.wait(WAIT), "a stream did not end"
        assert stream.error is None, f"{stream.error!r}\n{stack.log_text()}"
    lasted = time.monotonic() - began
    stages = [(kind, s) for s in STAGE_ORDER for kind in ("stage_started", "stage_finished")]
    for stream in streams:
        events = stream.events()
        assert [(e["kind"], e["stage"]) for e in events if e["kind"].startswith("stage_")] == stages
        assert events[-1]["kind"] == "run_finished"
        assert stream.frames[-1]["event"] == "end"
        assert json.loads(stream.frames[-1]["data"]) == {"status": "succeeded"}
    # Each stream outlived the worker timeout, on one connection, and got the events live.
    assert lasted > WORKER_TIMEOUT
    assert worker_deaths(stack.log_text()) == []
    assert status_at_first_stage == ["running"]

    headers = streams[0].headers
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in headers  # asked for gzip: a proxy-safe plain stream


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database question here
def test_a_full_worker_turns_the_next_stream_into_a_poll_and_ends_its_streams_on_stop(launch):
    # Two threads: one may hold a stream, one is kept for pages. No worker: the run stays queued.
    stack, api, project_id = launch(GUNICORN_THREADS="2", WEB_CONCURRENCY="1", worker=False)
    run_id = _start_run(api, project_id)
    browser = stack.browser()
    live = SseReader(browser, f"/runs/{run_id}/events").start()
    assert live.opened.wait(PROMPT) and live.frames[0] == {"retry": "2000"}

    turned = SseReader(browser, f"/runs/{run_id}/events").start()
    assert turned.ended.wait(PROMPT * 2), "the second stream held the page thread"
    assert turned.error is None
    assert turned.frames[0] == {"retry": "5000"}  # the browser comes back later
    assert not any("event" in f for f in turned.frames)  # not an end: the run goes on
    assert _answer(browser, "/") == 200
    assert not live.ended.is_set()

    # A graceful stop ends the open stream cleanly at its next poll, not graceful_timeout later.
    stack.web.send_signal(signal.SIGTERM)
    assert live.ended.wait(PROMPT * 2), "SIGTERM left the stream open"
    assert live.error is None  # a complete response: the browser just reconnects
    assert not any("event" in f for f in live.frames)
    stack.web.wait(timeout=gunicorn_conf.graceful_timeout - 10)


def test_a_closed_stream_gives_its_slot_back(app, client, auth):
    app.extensions["agent_team"].queue.huey.immediate = False  # no worker: the run stays queued
    app.config.update(RUN_EVENTS_MAX_STREAMS=1, RUN_EVENTS_POLL_SECONDS=0.05)
    auth.register()
    events = start(client, create_project(client)).headers["Location"] + "/events"

    first = client.get(events)
    assert next(iter(first.response)) == b"retry: 2000\n\n"
    assert client.get(events).get_data(as_text=True) == "retry: 5000\n\n"  # one poll, no events
    first.close()
    again = client.get(events)
    assert next(iter(again.response)) == b"retry: 2000\n\n"
    again.close()


def test_an_open_stream_holds_no_database_connection_between_polls(app, client, auth):
    app.extensions["agent_team"].queue.huey.immediate = False  # no worker: the run stays queued
    app.config.update(RUN_EVENTS_POLL_SECONDS=0.05, RUN_EVENTS_HEARTBEAT_SECONDS=0.05)
    auth.register()
    events = start(client, create_project(client)).headers["Location"] + "/events"
    pool = app.extensions["paissive"].database.engine.pool

    stream = client.get(events)
    body = iter(stream.response)
    assert next(body) == b"retry: 2000\n\n"
    assert pool.checkedout() == 0  # the request's own session is gone
    assert next(body) == b": heartbeat\n\n"  # after a poll or more
    assert pool.checkedout() == 0  # so threads beyond the pool's size can stream
    stream.close()


def _conf(monkeypatch, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(gunicorn_conf.__file__)  # afresh, with this environment


def test_conf_runs_threaded_workers_and_keeps_half_the_threads_for_pages(monkeypatch):
    conf = _conf(monkeypatch, GUNICORN_THREADS="8", WEB_CONCURRENCY="3")
    assert (conf["worker_class"], conf["threads"], conf["workers"]) == ("gthread", 8, 3)
    worker = SimpleNamespace(alive=True, wsgi=SimpleNamespace(config={}))
    conf["post_worker_init"](worker)
    config = worker.wsgi.config
    assert config["RUN_EVENTS_MAX_STREAMS"] == 4
    assert config["RUN_EVENTS_STOPPING"]() is False
    worker.alive = False  # what gunicorn's SIGTERM handler does
    assert config["RUN_EVENTS_STOPPING"]() is True
    conf["post_worker_init"](SimpleNamespace(wsgi=object()))  # not a Flask app: left alone


@pytest.mark.parametrize("bad", ["0", "-1", "x", "1.5", "٣", "1e3", "99999999999999999999x"])
def test_a_bad_thread_count_stops_gunicorn_with_one_line(monkeypatch, bad):
    with pytest.raises(SystemExit) as stopped:
        _conf(monkeypatch, GUNICORN_THREADS=bad)
    assert str(stopped.value) == f"GUNICORN_THREADS: must be a positive whole number (got {bad!r})"
