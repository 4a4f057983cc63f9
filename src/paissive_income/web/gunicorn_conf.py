"""Gunicorn settings for the web service in containers and on servers.

Run: ``gunicorn -c python:paissive_income.web.gunicorn_conf "paissive_income.web:create_app()"``.
Upgrade the schema first (``paissive-income db upgrade``): workers never migrate, so several
workers or replicas starting together cannot race on the schema.

Workers are ``gthread``: each process serves ``GUNICORN_THREADS`` requests at once, so a run
page's live progress (a server-sent event stream, open for the whole run) holds one thread, not
a whole process. The main loop of a gthread worker tells the master it is alive, so a stream
longer than ``GUNICORN_TIMEOUT`` is not killed (a sync worker would be). Not gevent: its
monkey-patching would have to reach psycopg, SQLAlchemy's pool, Argon2 and torch's threads,
for streams that spend their time asleep between two database polls. Streams may take at most
half of a worker's threads (``RUN_EVENTS_MAX_STREAMS``, set on the app in ``post_worker_init``);
beyond that a stream answers what is there and asks the browser to come back, so pages never
wait behind streams. On SIGTERM streams end at their next poll (``RUN_EVENTS_STOPPING``).

Environment: ``GUNICORN_BIND`` (default ``0.0.0.0:$PORT``, ``PORT`` default 5000),
``WEB_CONCURRENCY`` (worker processes, default 2), ``GUNICORN_THREADS`` (threads per worker,
default 32), ``GUNICORN_TIMEOUT`` (seconds a worker may go silent, default 60), ``LOG_LEVEL``
(gunicorn's own messages too), ``PROMETHEUS_MULTIPROC_DIR`` (set it with more than one worker,
so ``/metrics`` adds up every worker's samples).
"""

from __future__ import annotations

import os
from pathlib import Path

from paissive_income.config import ConfigError, load_settings
from paissive_income.observability.metrics import mark_worker_dead, multiprocess_dir

# Sample files prometheus_client writes per process; only these are wiped at start-up.
_METRIC_FILE_PATTERNS = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")


def _positive_int(name: str, default: int) -> int:
    """Read a positive integer variable, or exit with one line naming it."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise SystemExit(f"{name}: must be a positive whole number (got {raw!r})")
    return int(raw)


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_positive_int('PORT', 5000)}"
workers = _positive_int("WEB_CONCURRENCY", 2)
worker_class = "gthread"
threads = _positive_int("GUNICORN_THREADS", 32)
# Live run streams a worker serves at once; the other threads are kept for pages and the API.
MAX_STREAMS = threads // 2
timeout = _positive_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = 30
# The app writes its own JSON access log line per request (with the request id).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# No gunicornc control socket (gunicorn >= 25.1): a container is managed by signals, and masters
# sharing a host (tests, several services) would all claim $HOME/.gunicorn/gunicorn.ctl.
control_socket_disable = True
# Heartbeat files on tmpfs: a container's overlay disk can stall workers into timeouts.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None


def on_starting(server) -> None:
    """Check the settings once, then give multi-process metrics a clean folder."""
    try:
        load_settings()
    except ConfigError as exc:
        # One line and a non-zero exit, instead of every worker failing to boot with a traceback.
        raise SystemExit(f"Error: {exc}") from None
    # Samples of an earlier run would otherwise be summed in.
    folder = multiprocess_dir()
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for pattern in _METRIC_FILE_PATTERNS:
        for stale in Path(folder).glob(pattern):
            stale.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    """Drop a finished worker's live gauges (in-flight requests) from ``/metrics``."""
    mark_worker_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Tell the app how many live streams this worker may hold, and when it is stopping."""
    config = getattr(worker.wsgi, "config", None)
    if config is None:  # not a Flask app: it serves no streams of ours
        return
    config["RUN_EVENTS_MAX_STREAMS"] = MAX_STREAMS
    # On SIGTERM streams end at their next poll, so a graceful stop is not held for
    # graceful_timeout by streams; the browsers reconnect (to another worker or replica).
    config["RUN_EVENTS_STOPPING"] = lambda: not worker.alive
