"""Run events (stage started/finished, progress, the end), stored in order for the web to stream.

Events live in the database, so every web worker can stream any run by polling
``events_since`` whatever process ran it; ids only grow, so a client resumes after the last id
it saw (the SSE ``Last-Event-ID``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_team.runs.models import RunEvent
from paissive_income.db.base import utcnow


def record(
    session: Session, *, run_id: int, kind: str, stage: str | None, detail: dict[str, Any]
) -> RunEvent:
    """Add one event to the session (the caller commits it with the change it describes)."""
    event = RunEvent(run_id=run_id, kind=kind, stage=stage, detail=detail, created_at=utcnow())
    session.add(event)
    return event


def events_since(
    session: Session, *, run_id: int, after_id: int = 0, limit: int = 500
) -> list[RunEvent]:
    """Return the run's events after ``after_id``, oldest first."""
    query = (
        select(RunEvent)
        .where(RunEvent.run_id == run_id, RunEvent.id > after_id)
        .order_by(RunEvent.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def stage_started_at(session: Session, *, run_id: int, stage: str) -> datetime | None:
    """Return when ``stage`` of the run last started, if it did."""
    query = (
        select(RunEvent.created_at)
        .where(RunEvent.run_id == run_id, RunEvent.stage == stage, RunEvent.kind == "stage_started")
        .order_by(RunEvent.id.desc())
        .limit(1)
    )
    return session.scalar(query)
