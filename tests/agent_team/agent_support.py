"""Helpers for the agent team tests (not in conftest: that module name clashes across folders)."""

from __future__ import annotations

from agent_team.config import AgentSettings
from agent_team.runs.worker import RunExecutor
from paissive_income.auth.models import User
from paissive_income.db import Database
from paissive_income.projects.models import Project


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


def executor_for(database, model, *, cache=None, worker="w1", **settings) -> RunExecutor:
    """Return an executor working runs against ``model``."""
    return RunExecutor(
        database=database,
        cache=cache,
        settings=AgentSettings(**{"AGENT_HEARTBEAT_SECONDS": 0.2, **settings}),
        client_factory=model.client,
        worker=worker,
    )
