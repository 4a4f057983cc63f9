"""Per-app services and the per-request database session, below every domain and ``web``.

Domains (auth, projects) and the JSON API plumbing reach the running app's database and cache
through here, so none of them needs to import ``paissive_income.web``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy.orm import Session

from paissive_income.cache import Cache
from paissive_income.config import Settings
from paissive_income.db import Database


@dataclass
class Services:
    """What a running app holds: settings, database and cache."""

    settings: Settings
    database: Database
    cache: Cache


def services() -> Services:
    """Return the services of the current app."""
    return current_app.extensions["paissive"]


def db_session() -> Session:
    """Return this request's database session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = services().database.session()
    return g.db_session


def rollback_db_session() -> None:
    """Roll back this request's session, so an error page can still read from it."""
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def close_db_session(_exc: BaseException | None = None) -> None:
    """Close this request's session, rolling back anything uncommitted."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
