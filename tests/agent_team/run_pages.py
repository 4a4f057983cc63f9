"""Helpers for tests of the run pages: the scripted model, a worker, projects and runs by form."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from scripted_model import ScriptedServer

from web_support import csrf_token

SEGMENTS = ["freelance translators", "translation agencies"]


def create_project(client) -> int:
    """Create a project through the form (as the logged-in user); return its id."""
    page = client.get("/projects/new").get_data(as_text=True)
    created = client.post(
        "/projects/new",
        data={
            "name": "Translators",
            "market_segments": "\n".join(SEGMENTS),
            "notes": "I want 60k a year.",
            "csrf_token": csrf_token(page),
        },
    )
    assert created.status_code == 302
    return int(re.fullmatch(r"/projects/(\d+)", created.headers["Location"]).group(1))


def start(client, project_id: int, **fields):
    """Submit the Run analysis form of the project page (all segments unless given)."""
    page = client.get(f"/projects/{project_id}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "model": "", **fields}
    data.setdefault("segments", SEGMENTS)
    return client.post(f"/projects/{project_id}", data=data)


@contextmanager
def scripted_model(monkeypatch, *, delay: float = 0.0) -> Iterator[ScriptedServer]:
    """Serve the scripted model; point the environment at it (create the app inside)."""
    with ScriptedServer(delay=delay) as server:
        monkeypatch.setenv("AI_MODELS_URL", server.url)
        monkeypatch.setenv("AI_CHAT_MODEL", "scripted")
        yield server


def start_consumer(app):
    """Start a huey consumer thread working the app's runs, as ``python run_ui.py`` does."""
    queue = app.extensions["agent_team"].queue
    queue.huey.immediate = False
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    consumer = queue.consume(workers=1, block=False)
    for sig, handler in kept.items():
        signal.signal(sig, handler)  # huey's handlers would swallow Ctrl+C in the tests
    return consumer


def stop_consumer(app, consumer) -> None:
    """Stop a consumer from ``start_consumer`` and its queue's sweeper thread."""
    app.extensions["agent_team"].queue.stop(consumer)
