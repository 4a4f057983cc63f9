"""The run page's server-sent events: every stage of a run a consumer works, live, in order."""

from __future__ import annotations

import json
import time

import pytest
from run_pages import create_project, scripted_model, start, start_consumer, stop_consumer

from agent_team.plan import STAGE_ORDER


@pytest.fixture(autouse=True)
def scripted(monkeypatch):
    """A scripted model slow enough (0.2 s a call) that the stream sees the run working."""
    with scripted_model(monkeypatch, delay=0.2) as server:
        yield server


@pytest.fixture
def project(app, client, auth) -> int:
    """Register and create a project; return its id."""
    auth.register()
    return create_project(client)


@pytest.fixture
def consumer(app, project):
    """Start, when called, a consumer thread working runs (stopped after the test)."""
    app.extensions["agent_team"].queue.huey.immediate = False
    started = []
    yield lambda: started.append(start_consumer(app))
    for worker in started:
        stop_consumer(app, worker)


def frames(body: str) -> list[dict]:
    """Parse an SSE body into frames: {"id", "event", "data", "comment"} as present."""
    parsed = []
    for block in body.split("\n\n"):
        frame: dict = {}
        for line in block.splitlines():
            field, _, value = line.partition(":")
            frame[field or "comment"] = value.removeprefix(" ")
        if frame:
            parsed.append(frame)
    return parsed


@pytest.mark.slow
def test_stream_of_a_working_run_has_every_stage_event_then_ends(client, project, consumer):
    run_url = start(client, project).headers["Location"]  # queued: no worker yet
    began = time.monotonic()
    response = client.get(f"{run_url}/events")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    body = iter(response.response)
    chunks = [next(body)]  # the stream is open before the run starts working
    consumer()
    chunks += list(body)  # as the server sends them, until it ends the stream
    assert time.monotonic() - began < 60
    assert len(chunks) > 3, "the events came in one piece, not live"
    parsed = frames("".join(c.decode() if isinstance(c, bytes) else c for c in chunks))
    events = [json.loads(f["data"]) for f in parsed if "id" in f]
    seen = [(e["kind"], e["stage"]) for e in events if e["kind"].startswith("stage_")]
    assert seen == [(kind, s) for s in STAGE_ORDER for kind in ("stage_started", "stage_finished")]
    assert any(e["kind"] == "progress" and e["detail"]["tokens"] > 0 for e in events)
    assert events[-1]["kind"] == "run_finished"
    assert events[-1]["detail"]["status"] == "succeeded"
    ids = [int(f["id"]) for f in parsed if "id" in f]
    assert ids == sorted(set(ids)) and ids == [e["id"] for e in events]
    assert parsed[-1]["event"] == "end" and json.loads(parsed[-1]["data"])["status"] == "succeeded"

    # A reconnecting browser sends the last id it saw and gets only what came after.
    again = client.get(f"{run_url}/events", headers={"Last-Event-ID": str(ids[-2])})
    later = frames(again.get_data(as_text=True))
    assert [int(f["id"]) for f in later if "id" in f] == [ids[-1]]
    assert later[-1]["event"] == "end"
    query = frames(client.get(f"{run_url}/events?after={ids[-1]}").get_data(as_text=True))
    assert [f for f in query if "id" in f] == [] and query[-1]["event"] == "end"


@pytest.mark.slow
def test_quiet_stream_sends_heartbeats_and_ends_for_the_browser_to_reconnect(
    client,
    app,
    project,
):
    app.extensions["agent_team"].queue.huey.immediate = False  # no worker: the run stays queued
    app.config.update(
        RUN_EVENTS_POLL_SECONDS=0.05,
        RUN_EVENTS_HEARTBEAT_SECONDS=0.1,
        RUN_EVENTS_STREAM_SECONDS=0.6,
    )
    run_url = start(client, project).headers["Location"]
    response = client.get(f"{run_url}/events")
    parsed = frames(response.get_data(as_text=True))
    assert parsed[0] == {"retry": "2000"}
    assert sum(1 for f in parsed if f.get("comment") == "heartbeat") >= 2
    assert not any("event" in f for f in parsed)  # no "end": the run is not finished


@pytest.mark.parametrize("bad", ["-1", "x", "1" * 13, "²", "1.5", "9" * 12, " 1", "1_0"])
def test_a_malformed_last_event_id_is_a_400(client, project, bad):
    run_url = start(client, project).headers["Location"]
    assert client.get(f"{run_url}/events", headers={"Last-Event-ID": bad}).status_code == 400
    assert client.get(f"{run_url}/events", query_string={"after": bad}).status_code == 400
