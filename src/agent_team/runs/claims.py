"""Who works a run: the atomic claim, the heartbeat that keeps it, and finding abandoned runs.

A run is claimed by one atomic UPDATE (queued → running, or running with a stale heartbeat →
running here), so enqueueing the same run twice works it once and a run whose worker died is
taken over after ``stale_seconds``.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from agent_team.runs.models import Run, RunStatus
from paissive_income.db import Database
from paissive_income.db.base import utcnow

logger = logging.getLogger(__name__)


def claim_run(session: Session, *, run_id: int, worker: str, stale_seconds: float) -> bool:
    """Atomically take a queued (or abandoned) run for ``worker``; say whether it was taken."""
    now = utcnow()
    stale = now - timedelta(seconds=stale_seconds)
    result = session.execute(
        update(Run)
        .where(
            Run.id == run_id,
            Run.cancel_requested.is_(False),
            or_(
                Run.status == RunStatus.QUEUED,
                (Run.status == RunStatus.RUNNING) & (Run.heartbeat_at < stale),
            ),
        )
        .values(
            status=RunStatus.RUNNING,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            attempts=Run.attempts + 1,
        )
    )
    session.commit()
    return result.rowcount == 1


def stale_runs(session: Session, *, stale_seconds: float) -> list[int]:
    """Return the ids of runs marked running whose worker has gone silent."""
    stale = utcnow() - timedelta(seconds=stale_seconds)
    query = select(Run.id).where(
        Run.status == RunStatus.RUNNING,
        Run.heartbeat_at < stale,
        Run.cancel_requested.is_(False),
    )
    return list(session.scalars(query))


def cancel_abandoned(session: Session, *, stale_seconds: float) -> int:
    """End as cancelled the runs asked to stop whose worker went silent; return how many."""
    # Such a run is never claimed again (a claim skips cancelled runs), so without this it
    # would stay "running" with no worker for ever.
    now = utcnow()
    result = session.execute(
        update(Run)
        .where(
            Run.status == RunStatus.RUNNING,
            Run.heartbeat_at < now - timedelta(seconds=stale_seconds),
            Run.cancel_requested.is_(True),
        )
        .values(status=RunStatus.CANCELLED, finished_at=now, error="cancelled (worker gone)")
    )
    session.commit()
    return result.rowcount


class Heartbeat:
    """A thread that marks the run alive every ``interval`` seconds while it works."""

    def __init__(self, database: Database, run_id: int, worker: str, interval: float) -> None:
        self.database, self.run_id, self.worker, self.interval = database, run_id, worker, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.database.session() as session:
                    session.execute(
                        update(Run)
                        .where(Run.id == self.run_id, Run.worker == self.worker)
                        .values(heartbeat_at=utcnow())
                    )
                    session.commit()
            except Exception:  # noqa: BLE001 - a missed beat is retried; the run goes on
                logger.warning("heartbeat of run %s failed", self.run_id, exc_info=True)
