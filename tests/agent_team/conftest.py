"""Fixtures for the agent team: a migrated database, an owner with a project, a scripted model."""

from __future__ import annotations

import pytest
from scripted_model import ScriptedModel

from agent_team.config import AgentSettings
from agent_team.runs.worker import RunExecutor
from paissive_income.auth.models import User
from paissive_income.db import Database, migrate
from paissive_income.projects.models import Project


@pytest.fixture
def database(database_url):
    """A migrated database (SQLite, and PostgreSQL when configured)."""
    database = Database(database_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def make_owner(database: Database, email: str = "owner@example.com") -> tuple[int, int]:
    """Create a user with one project; return (user id, project id)."""
    with database.session() as session:
        user = User(email=email, password_hash="x")
        session.add(user)
        session.flush()
        project = Project(
            owner_id=user.id,
            name="Translators",
            market_segments=["freelance translators", "translation agencies"],
            notes="I want 60k a year.",
        )
        session.add(project)
        session.commit()
        return user.id, project.id


@pytest.fixture
def owner(database) -> tuple[int, int]:
    """Return (user id, project id) of a fresh owner."""
    return make_owner(database)


@pytest.fixture
def model() -> ScriptedModel:
    """A scripted chat model."""
    return ScriptedModel()


def executor_for(database, model, *, cache=None, worker="w1", **settings) -> RunExecutor:
    """Return an executor working runs against ``model``."""
    return RunExecutor(
        database=database,
        cache=cache,
        settings=AgentSettings(**{"AGENT_HEARTBEAT_SECONDS": 0.2, **settings}),
        client_factory=model.client,
        worker=worker,
    )
