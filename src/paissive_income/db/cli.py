"""``paissive-income db``: upgrade the schema, show its revision, wait until it is at head."""

from __future__ import annotations

import sys
import time

import click
from sqlalchemy.exc import SQLAlchemyError

from paissive_income.cli_support import current_settings, fail_cleanly, open_database
from paissive_income.db import Database, DatabaseUnavailable, migrate


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command()
@fail_cleanly
def upgrade() -> None:
    """Upgrade the database schema to the newest migration."""
    database = open_database()
    migrate.upgrade(database.engine)
    click.echo(f"Database at revision {migrate.current_revision(database.engine)}")


@db.command()
@fail_cleanly
def current() -> None:
    """Print the schema revision of the database and whether it is the newest."""
    database = open_database()
    revision = migrate.current_revision(database.engine)
    state = "head" if revision == migrate.head_revision() else "behind head"
    click.echo(f"{revision or 'empty'} ({state})")


@db.command()
@click.option(
    "--timeout",
    type=click.FloatRange(0, 86_400),
    default=300.0,
    show_default=True,
    help="Seconds to wait before giving up.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 60),
    default=2.0,
    show_default=True,
    help="Seconds between two checks.",
)
@fail_cleanly
def wait(timeout: float, interval: float) -> None:
    """Wait until the schema is at the newest migration (exit 1 after --timeout)."""
    settings = current_settings()  # a bad setting fails now, not after the timeout
    database = Database(settings.sqlalchemy_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            state = _schema_state(database)
            if state is None:
                click.echo(f"Database at revision {migrate.head_revision()} (head)")
                return
            if time.monotonic() + interval > deadline:
                click.echo(f"Error: schema not at head after {timeout:g} s: {state}", err=True)
                sys.exit(1)
            time.sleep(interval)
    finally:
        database.dispose()


def _schema_state(database: Database) -> str | None:
    """Return why the schema is not ready (unreachable, empty, behind), or None at head."""
    try:
        database.check_connection()
        revision = migrate.current_revision(database.engine)
    except DatabaseUnavailable as exc:
        return str(exc)
    except SQLAlchemyError as exc:  # e.g. the database exists but refuses this user for now
        return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if revision == migrate.head_revision():
        return None
    return f"database at revision {revision or 'empty'}, head is {migrate.head_revision()}"
