"""The agent team's job queue on huey: ``SqliteHuey`` in the instance folder, or ``RedisHuey``.

Jobs take run ids. The run job works a run through ``RunExecutor`` (which claims it atomically,
so a duplicate job is a no-op). Every consumer also sweeps, when it starts and then every half
``stale_seconds``: it requeues runs whose worker went silent and queued runs whose job was lost,
so a killed worker's run continues within about ``stale_seconds`` of a consumer being up.

A consumer that stops (SIGTERM, a gunicorn worker exiting) hands its runs back instead of
finishing them: each ends the stage it is in, is queued again with its job re-enqueued, and
another consumer resumes it from that stage at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from redis import ConnectionPool
from sqlalchemy import select

from agent_team.runs.claims import cancel_abandoned, stale_runs
from agent_team.runs.models import Run, RunStatus
from agent_team.runs.worker import RunExecutor
from paissive_income.db import Database
from paissive_income.db.base import utcnow

logger = logging.getLogger(__name__)
QUEUE_NAME = "paissive-agent-team"
# Seconds a Redis connect or reply may take: without them a Redis that stops answering (not
# refusing) would hang web requests that enqueue, job threads and the worker's /readyz for ever.
# Above huey's 1 s blocking-pop timeout; options in the URL (?socket_timeout=…) still win.
REDIS_CONNECT_TIMEOUT = 5.0
REDIS_SOCKET_TIMEOUT = 10.0


def create_huey(*, redis_url: str | None, instance_path: Path, immediate: bool = False) -> Huey:
    """Return the queue: Redis when configured, else a SQLite file in the instance folder."""
    if redis_url:
        pool = ConnectionPool.from_url(
            redis_url,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            socket_timeout=REDIS_SOCKET_TIMEOUT,
        )
        return RedisHuey(QUEUE_NAME, connection_pool=pool, immediate=immediate, results=False)
    instance_path.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        QUEUE_NAME, filename=str(instance_path / "jobs.db"), immediate=immediate, results=False
    )


class JobQueue:
    """Enqueue runs; in workers, execute them (the executor is built on first use)."""

    def __init__(
        self,
        huey: Huey,
        *,
        database: Database,
        executor_factory: Callable[[], RunExecutor] | None = None,
        stale_seconds: float = 120,
    ) -> None:
        self.huey, self.database = huey, database
        self._executor_factory = executor_factory
        self.stale_seconds = stale_seconds
        self._run = huey.task(name="agent_team.run", retries=0)(self._execute)
        self._stop = threading.Event()
        # Set when this queue's consumer stops: runs are handed back after their current stage.
        self.stopping = threading.Event()

    @cached_property
    def executor(self) -> RunExecutor:
        """Return the executor that works runs (only workers need one)."""
        if self._executor_factory is None:
            raise RuntimeError("this job queue only enqueues; it has no executor")
        executor = self._executor_factory()
        executor.stopping = self.stopping
        return executor

    def enqueue(self, run_id: int) -> None:
        """Queue a job for run ``run_id`` (already committed as queued)."""
        self._run(run_id)

    def _execute(self, run_id: int) -> str:
        status = self.executor.execute(run_id)
        logger.info("run %s: %s", run_id, status)
        if status == "released":  # committed as queued: the job goes to another consumer
            try:
                self.enqueue(run_id)
            except Exception:  # noqa: BLE001 - a queue that is down: the sweep requeues it
                logger.warning("run %s: could not be enqueued again", run_id, exc_info=True)
        return status

    def sweep(self) -> list[int]:
        """Requeue silent runs and long-idle queued ones; end silent runs asked to cancel."""
        idle_since = utcnow() - timedelta(seconds=self.stale_seconds)
        with self.database.session() as session:
            cancel_abandoned(session, stale_seconds=self.stale_seconds)
            ids = stale_runs(session, stale_seconds=self.stale_seconds)
            ids += session.scalars(
                select(Run.id).where(Run.status == RunStatus.QUEUED, Run.updated_at < idle_since)
            )
        for run_id in ids:
            logger.warning("requeueing run %s (no live worker)", run_id)
            self.enqueue(run_id)
        return ids

    def consume(
        self,
        *,
        workers: int,
        block: bool,
        graceful_signal: str = "INT",
        on_start: Callable[[Consumer], None] | None = None,
    ) -> Consumer:
        """Sweep, then work jobs with ``workers`` threads, in the foreground or the background.

        In the foreground huey handles the signals: ``graceful_signal`` (``INT`` or ``TERM``)
        stops gracefully (each run ends its current stage and is queued again, see
        ``_ReleasingConsumer``), the other signal stops at once. In the background the caller's
        handlers are kept. ``on_start`` gets the consumer before it starts.
        """
        try:
            self.sweep()
        except Exception:  # noqa: BLE001 - Redis or the database down at start: sweep later
            logger.warning("sweeping for stale runs at start failed", exc_info=True)
        threading.Thread(target=self._sweep_forever, name="agent-team-sweeper", daemon=True).start()
        consumer = _ReleasingConsumer(
            self.huey,
            workers=workers,
            worker_type="thread",
            periodic=False,
            graceful_signal=graceful_signal,
        )
        consumer.stopping = self.stopping
        if on_start is not None:
            on_start(consumer)
        if block:
            try:
                consumer.run()  # returns once the running jobs finished (or at once)
            finally:
                self._stop.set()
        else:
            with _signals_kept():
                consumer.start()
        return consumer

    def stop(self, consumer: Consumer) -> None:
        """Stop a background consumer and the sweeper: runs end their stage, then are requeued."""
        self._stop.set()
        consumer.stop(graceful=True)

    def _sweep_forever(self) -> None:
        while not self._stop.wait(self.stale_seconds / 2):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the sweeper
                logger.warning("sweeping for stale runs failed", exc_info=True)


class _ReleasingConsumer(Consumer):
    """huey's consumer, telling the runs to hand themselves back before it waits for them."""

    stopping: threading.Event

    def stop(self, graceful: bool = False) -> None:
        """Set ``stopping`` (each run ends its current stage and is requeued), then stop."""
        # Both ways in: huey's own signal handling (the foreground) and JobQueue.stop.
        self.stopping.set()
        super().stop(graceful=graceful)


@contextmanager
def _signals_kept() -> Iterator[None]:
    """Restore the SIGINT, SIGTERM and SIGHUP handlers after the block.

    huey's non-blocking ``Consumer.start()`` takes these signals for a loop that only its
    blocking ``run()`` drives: in a web server (``serve``, a gunicorn worker) Ctrl+C and
    ``docker stop`` would then be ignored. The server keeps them; the job threads are daemons
    and stop with the process (the sweeper resumes their runs).
    """
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    previous = {sig: signal.getsignal(sig) for n in names if (sig := getattr(signal, n, None))}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
