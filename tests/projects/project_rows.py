"""Helpers for the dashboard tests: projects put straight into the database, names read back."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from paissive_income.auth.models import User
from paissive_income.projects.models import Project

CARD_TITLE = re.compile(r'<li class="card project">\s*<h2><a href="/projects/\d+">([^<]*)</a>')
CURRENT_PAGE = re.compile(r'aria-current="page"><span class="visually-hidden">Page </span>(\d+)<')
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def add_projects(app, email: str, projects: list[tuple[str, list[str]]]) -> None:
    """Give the user ``email`` these (name, segments) projects, created one day apart in order."""
    with app.extensions["paissive"].database.session() as session:
        owner = session.scalar(select(User.id).where(User.email == email))
        for day, (name, segments) in enumerate(projects):
            when = T0 + timedelta(days=day)
            session.add(
                Project(
                    owner_id=owner,
                    name=name,
                    market_segments=segments,
                    notes="",
                    created_at=when,
                    updated_at=when,
                )
            )
        session.commit()


def titles(html: str) -> list[str]:
    """Return the project names on a dashboard page, in the order shown."""
    return CARD_TITLE.findall(html)
