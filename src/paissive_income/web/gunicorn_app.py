"""Gunicorn started from Python, for ``paissive-income web``: the app with gunicorn_conf's settings.

``gunicorn_conf`` stays the one source of gunicorn settings: ``WebApplication`` loads the same
module-level names that ``gunicorn -c python:paissive_income.web.gunicorn_conf`` reads, and only
adds the embedded worker's two hooks on top of the module's own.

The embedded worker is the agent team's huey consumer, run in every gunicorn worker process once
it has forked and loaded the app (``post_worker_init``): threads started in the master before
the fork would not exist in the workers, and a master re-forks workers for its whole life. With
``WEB_CONCURRENCY`` workers there are as many consumers. That is safe: huey's SQLite queue hands
each job to one consumer (``BEGIN EXCLUSIVE``, select, delete) and Redis pops atomically, and
``RunExecutor`` claims a run with one atomic UPDATE, so a run enqueued twice or picked up by two
sweepers is still worked once. On SIGTERM a worker's runs end the stage they are in and go back
on the queue for another consumer (``JobQueue.stop``), waited for at most ``graceful_timeout - 5``
seconds; a run cut off then is resumed by the next sweep.
"""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from paissive_income.web import gunicorn_conf

log = logging.getLogger(__name__)
STOP_MARGIN_SECONDS = 5  # the master kills a worker graceful_timeout after SIGTERM


class WebApplication(BaseApplication):
    """Gunicorn serving ``create_app()`` with the settings of ``gunicorn_conf``."""

    def __init__(self, *, embedded_worker: bool) -> None:
        self.embedded_worker = embedded_worker
        super().__init__(prog="paissive-income web")

    def load_config(self) -> None:
        """Set every gunicorn setting that ``gunicorn_conf`` names, as ``-c python:`` would."""
        for name, value in vars(gunicorn_conf).items():
            if name in self.cfg.settings and value is not None:
                self.cfg.set(name, value)
        if self.embedded_worker:
            self.cfg.set("post_worker_init", _post_worker_init_with_consumer)
            self.cfg.set("worker_exit", _worker_exit_with_consumer)

    def load(self):
        """Build the app in the worker (not in the master: nothing is shared across the fork)."""
        from paissive_income.web import create_app

        return create_app()


def _post_worker_init_with_consumer(worker) -> None:
    """Run gunicorn_conf's hook, then start this worker's agent-team consumer."""
    gunicorn_conf.post_worker_init(worker)
    team = worker.wsgi.extensions["agent_team"]
    worker.embedded_consumer = team.queue.consume(workers=team.settings.workers, block=False)
    log.info("embedded agent-team worker started (%s threads)", team.settings.workers)


def _worker_exit_with_consumer(server, worker) -> None:
    """Stop this worker's consumer: its runs end their stage and are requeued meanwhile."""
    consumer = getattr(worker, "embedded_consumer", None)
    if consumer is None:
        return
    consumer.shutdown_timeout = max(worker.cfg.graceful_timeout - STOP_MARGIN_SECONDS, 1)
    worker.wsgi.extensions["agent_team"].queue.stop(consumer)
