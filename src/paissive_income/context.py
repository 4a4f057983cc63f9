"""Per-app services and the per-request database session."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy.orm import Session

from paissive_income.auth.throttle import LoginThrottle
from paissive_income.cache import Cache
from paissive_income.config import Settings
from paissive_income.db import Database


@dataclass
class Services:
    """What a running app holds: settings, database, cache and login throttle."""

    settings: Settings
    database: Database
    cache: Cache
    throttle: LoginThrottle


def services() -> Services:
    """Return the services of the current app."""
    return current_app.extensions["paissive"]


def db_session() -> Session:
    """Return this request's database session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = services().database.session()
    return g.db_session


def close_db_session(_exc: BaseException | None = None) -> None:
    """Close this request's session, rolling back anything uncommitted."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
