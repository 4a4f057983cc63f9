"""Fixtures for the agent team: a migrated database, an owner with a project, a scripted model."""

from __future__ import annotations

import pytest
from agent_support import make_owner
from scripted_model import ScriptedModel

from paissive_income.db import Database, migrate


@pytest.fixture
def database(database_url):
    """A migrated database (SQLite, and PostgreSQL when configured)."""
    database = Database(database_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def owner(database) -> tuple[int, int]:
    """Return (user id, project id) of a fresh owner."""
    return make_owner(database)


@pytest.fixture
def model() -> ScriptedModel:
    """A scripted chat model."""
    return ScriptedModel()
