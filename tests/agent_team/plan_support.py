"""Helpers for the plan page tests: a finished run, its plan, and reading panels of a page."""

from __future__ import annotations

import html
import re

import pytest
from run_pages import create_project, scripted_model, start

from agent_team.plan import Plan
from agent_team.runs import service
from agent_team.runs.models import Run
from paissive_income.projects.models import Project


@pytest.fixture(autouse=True)
def scripted(monkeypatch):
    """The scripted model server, set in the environment before the app reads its settings."""
    with scripted_model(monkeypatch) as server:
        yield server


@pytest.fixture
def project(app, client, auth) -> int:
    """Register and create a project; return its id (jobs run inside the request)."""
    app.extensions["agent_team"].queue.huey.immediate = True
    auth.register()
    return create_project(client)


@pytest.fixture
def run_id(client, project) -> int:
    """A finished run of the owner's project."""
    return run_to_end(client, project)


def run_to_end(client, project: int) -> int:
    """Run an analysis of the project to its end (inside the request); return the run's id."""
    response = start(client, project)
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


def plan_of(app, run_id: int) -> Plan:
    """Return the run's plan as the service computes it (the numbers every page must show)."""
    with app.extensions["paissive"].database.session() as session:
        owner_id = session.get(Project, session.get(Run, run_id).project_id).owner_id
        return service.run_plan(session, owner_id=owner_id, run_id=run_id)


def money(value: float) -> str:
    """Format dollars as the plan pages do."""
    return f"${value:,.0f}"


def panel(page: str, name: str) -> str:
    """Return the HTML of one plan panel (a <section id=name>)."""
    match = re.search(rf'<section id="{name}".*?</section>', page, re.S)
    assert match, f"no {name} panel"
    return match.group(0)


def text(fragment: str) -> str:
    """Return the text of an HTML fragment, tags dropped and entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
