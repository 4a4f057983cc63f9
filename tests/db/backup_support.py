"""Data and databases for the backup tests: realistic rows made by the app's own services,
hostile rows, a throwaway PostgreSQL database, and a typed dump of every table to compare."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from importlib.resources import files

import psycopg
from sqlalchemy import MetaData, Table, select
from sqlalchemy.engine import Engine, make_url

import paissive_income.models  # noqa: F401  (every table on Base.metadata)
from agent_team.runs import events
from agent_team.runs import service as runs
from agent_team.runs.models import Run, RunEvent, RunStatus
from agent_team.runs.store import RunStore
from paissive_income.auth import service as accounts
from paissive_income.auth.models import ApiToken
from paissive_income.config import load_settings
from paissive_income.db import Database
from paissive_income.db.base import Base
from paissive_income.db.cli import app_tables
from paissive_income.projects import service as projects
from paissive_income.projects.schemas import ProjectIn

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TABLES = app_tables()
SAMPLE = json.loads(files("agent_team.plan").joinpath("sample_artifacts.json").read_text())
HOSTILE = (
    "Ünïcødé ☃ 💸 \u202eRTL\u202c 'quoted' \"double\" back\\slash\nnew\r\nline\ttab $(rm -rf /) `x`"
)


def fill(database: Database, *, users: int = 2, runs_each: int = 2) -> None:
    """Make users, tokens, projects, finished runs with artifacts, events and overrides."""
    with database.session() as session:
        for number in range(users):
            user = accounts.register_user(
                session, email=f"user{number}@example.com", password="correct horse battery"
            )
            accounts.create_token(session, user=user, name=f"laptop {number} ☃")
            project = projects.create_project(
                session,
                owner_id=user.id,
                data=ProjectIn(
                    name=f"Translators {number} 'quoted' ✓",
                    market_segments=["freelance translators", "translation agencies"],
                    notes='I want 60k a year.\nAlone, "bootstrapped".',
                ),
            )
            for _ in range(runs_each):
                run = runs.create_run(
                    session, owner_id=user.id, project_id=project.id, model="qwen2.5-0.5b"
                )
                _finish(database, session, run)
                runs.set_overrides(
                    session,
                    owner_id=user.id,
                    run_id=run.id,
                    overrides={"funnel.monthly_churn": 0.1 + number / 100},
                )


def _finish(database: Database, session, run: Run) -> None:
    """Give a run the sample plan's artifacts, events and a finished status, as a worker does."""
    store = RunStore(database, run.id)
    for stage, artifact in SAMPLE["artifacts"].items():
        store.save(stage, artifact)
        events.record(
            session, run_id=run.id, kind="stage_finished", stage=stage, detail={"seconds": 1.25}
        )
    started = datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))
    run.status, run.progress, run.stage_seconds = RunStatus.SUCCEEDED, 1.0, {"research": 0.5}
    run.prompt_tokens, run.completion_tokens, run.cost_usd = 2_000_000_000, 7, 0.1 + 0.2
    run.started_at, run.finished_at, run.cancel_requested = started, started, False
    session.commit()


def add_hostile(database: Database, *, nul: bool = False) -> None:
    """Add rows no form would take: odd text, a megabyte of it, deeply nested JSON."""
    deep: object = {"leaf": [None, True, False, 0, -1.5e300, HOSTILE]}
    for level in range(150):
        deep = {f"k{level}": [deep]}
    with database.session() as session:
        user = accounts.register_user(session, email="hostile@example.com", password="x" * 12)
        project = projects.create_project(
            session,
            owner_id=user.id,
            data=ProjectIn(name="hostile", market_segments=["s"], notes=""),
        )
        project.name, project.notes = HOSTILE[:120], HOSTILE * 2 + ("\x00" if nul else "")
        project.market_segments = [HOSTILE, "", "\u0000" if nul else "nul"]
        run = runs.create_run(session, owner_id=user.id, project_id=project.id, model="m")
        run.error = "é" * 300_000
        run.stage_seconds = deep
        session.add(RunEvent(run_id=run.id, kind="x", stage=None, detail=deep, created_at=_utc()))
        session.add(
            ApiToken(
                user_id=user.id, name=HOSTILE[:100], prefix="p", token_hash="h", created_at=_utc()
            )
        )
        session.commit()


def _utc() -> datetime:
    return datetime(1999, 12, 31, 23, 59, 59, 123456, tzinfo=timezone.utc)


def dump(engine: Engine) -> dict[str, list[tuple]]:
    """Return every table's rows, typed by the models (aware datetimes, JSON, booleans)."""
    tables = dict(Base.metadata.tables)
    tables["alembic_version"] = Table("alembic_version", MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        return {
            name: [
                tuple(row)
                for row in connection.execute(
                    select(table).order_by(*table.primary_key.columns or table.columns)
                )
            ]
            for name, table in sorted(tables.items())
        }


@contextlib.contextmanager
def postgres_database():
    """Yield the SQLAlchemy URL of a new PostgreSQL database, dropped afterwards."""
    admin_url = make_url(load_settings({"DATABASE_URL": TEST_DATABASE_URL}).sqlalchemy_url)
    name = f"backup_{uuid.uuid4().hex[:12]}"
    conninfo = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
