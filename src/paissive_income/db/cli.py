"""``paissive-income db``: upgrade the schema and show its revision."""

from __future__ import annotations

import click

from paissive_income.cli_support import fail_cleanly, open_database
from paissive_income.db import migrate


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
