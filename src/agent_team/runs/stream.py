"""A run's events as server-sent events, and the count of streams a web worker holds open."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

from agent_team.runs import events
from agent_team.runs.models import FINISHED, Run

# What a stream asks the browser to wait before it reconnects (EventSource's ``retry``).
RETRY_MS = 2000
# A worker with no free stream slot answers one poll and asks to be called again this much later.
BUSY_RETRY_MS = 5000


class StreamSlots:
    """Count the live streams of one process against a cap (None: no cap)."""

    def __init__(self) -> None:
        self._open = 0
        self._lock = threading.Lock()

    def take(self, cap: int | None) -> bool:
        """Take a slot; False when ``cap`` streams are already open."""
        with self._lock:
            if cap is not None and self._open >= cap:
                return False
            self._open += 1
            return True

    def give_back(self) -> None:
        """Free a slot taken by ``take``."""
        with self._lock:
            self._open -= 1


def sse_events(
    database,
    run_id: int,
    after: int,
    *,
    poll: float,
    heartbeat: float,
    limit: float,
    retry_ms: int = RETRY_MS,
    stopping: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """Yield the run's events as SSE frames until it ends, ``limit`` passes or ``stopping()``."""
    yield f"retry: {retry_ms}\n\n"
    began = last_sent = time.monotonic()
    while True:
        with database.session() as session:
            # The status first: the last event is committed with it, so a run seen finished
            # here has every one of its events visible to the query below.
            row = session.get(Run, run_id)
            if row is None:
                return  # the project (and so the run) was deleted
            status = row.status
            items = events.events_since(session, run_id=run_id, after_id=after)
            frames = [_frame(event) for event in items]
        if items:
            after = items[-1].id
            last_sent = time.monotonic()
            yield "".join(frames)
        if status in FINISHED and not items:
            yield f"event: end\ndata: {json.dumps({'status': status.value})}\n\n"
            return
        now = time.monotonic()
        if now - began >= limit or (stopping is not None and stopping()):
            return  # the browser reconnects with Last-Event-ID
        if now - last_sent >= heartbeat:
            last_sent = now
            yield ": heartbeat\n\n"
        time.sleep(poll)


def _frame(event) -> str:
    data = {
        "id": event.id,
        "kind": event.kind,
        "stage": event.stage,
        "detail": event.detail,
        "at": event.created_at.isoformat(),
    }
    # json.dumps escapes newlines, so one data line always holds the whole event.
    return f"id: {event.id}\ndata: {json.dumps(data)}\n\n"
