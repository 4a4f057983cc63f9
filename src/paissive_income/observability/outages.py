"""A dependency that is down, said as a 503 naming it: the web pages' and the API's answer.

PostgreSQL stopped, the SQLite disk full, Redis gone: a request that needs them cannot be
served, but it is no bug of ours, so the answer is "503, try again", worded for the person,
with ``Retry-After``, and the log gets one line (not a traceback). Messages never quote the
driver's text, which may hold a host, a query or a value the user typed.
"""

from __future__ import annotations

import logging

import redis.exceptions
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import ServiceUnavailable

from paissive_income.db import DatabaseUnavailable

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30
# What a request may raise when a dependency is down (not a bug): each becomes a 503.
OUTAGES: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DatabaseUnavailable,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
DISK_FULL = ("disk is full", "no space left", "could not extend file", "diskfull")
_MESSAGES = {
    "database": "The database cannot be reached right now, so this page cannot be shown. "
    "Please try again in a minute.",
    "database-full": "The database has run out of disk space: nothing can be saved right now. "
    "Pages that only read still work. Please tell the site's operator.",
    "database-busy": "The database is busy right now. Please try again in a moment.",
    "redis": "A service this site needs (Redis: sign-in limits, cache and job queue) cannot be "
    "reached right now. Please try again in a minute.",
}


def dependency_of(exc: BaseException) -> str:
    """Return which dependency ``exc`` says is down: database, database-full, …, redis."""
    if isinstance(exc, redis.exceptions.RedisError):
        return "redis"
    cause = getattr(exc, "orig", None) or exc  # the driver's own error under SQLAlchemy's
    text = f"{type(cause).__name__} {cause}".lower()
    if any(marker in text for marker in DISK_FULL):
        return "database-full"
    if "database is locked" in text or "database table is locked" in text:
        return "database-busy"
    return "database"


def unavailable(exc: BaseException) -> ServiceUnavailable:
    """Return the 503 for a dependency failure, naming the dependency; log it in one line."""
    dependency = dependency_of(exc)
    # The type and first line only: the driver's full text may hold SQL and parameters.
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0][:200]
    log.warning("dependency unavailable (%s): %s: %s", dependency, type(exc).__name__, first)
    error = ServiceUnavailable(_MESSAGES[dependency], retry_after=RETRY_AFTER_SECONDS)
    error.dependency = dependency.split("-")[0]
    return error
