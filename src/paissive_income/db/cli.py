"""``paissive-income db``: upgrade the schema, show its revision, wait until it is at head,
back the data up and restore it."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from paissive_income.cli_support import current_settings, fail_cleanly, open_database
from paissive_income.db import Database, DatabaseUnavailable, migrate
from paissive_income.db.archive import ArchiveError


@click.group()
def db() -> None:
    """Manage the database schema, back it up and restore it."""


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


def app_tables() -> set[str]:
    """Return the application's tables (every model's) and alembic_version."""
    import paissive_income.models  # noqa: F401  (registers every table on Base.metadata)
    from paissive_income.db.base import Base

    return set(Base.metadata.tables) | {"alembic_version"}


def _one_line_errors(func: Callable) -> Callable:
    """Turn a refused or failed backup or restore into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ArchiveError as exc:
            message = str(exc)
        except SQLAlchemyError as exc:
            lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            message = f"database error: {lines[0] if lines else type(exc).__name__}"
        except OSError as exc:
            message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        click.echo(f"Error: {message}", err=True)
        sys.exit(1)

    return wrapper


@db.command("backup")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The archive file to write (replaced atomically if it exists).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, exists=True, writable=True, path_type=Path),
    help="A folder to write paissive-income-<UTC time>.tar.gz into (scheduled backups).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    help="With --out-dir: afterwards delete all but the N newest archives there.",
)
@fail_cleanly
@_one_line_errors
def backup_cmd(out: Path | None, out_dir: Path | None, keep: int | None) -> None:
    """Write a consistent, compressed archive of every table."""
    from paissive_income.db.backup import backup, prune, timestamped_name

    if (out is None) == (out_dir is None):
        raise click.UsageError("give exactly one of --out FILE and --out-dir FOLDER")
    if keep is not None and out_dir is None:
        raise click.UsageError("--keep needs --out-dir (it prunes that folder)")
    database = open_database()
    try:
        result = backup(database.engine, out or out_dir / timestamped_name(), app_tables())
    finally:
        database.dispose()
    total = sum(count for name, count in result.rows.items() if name != "alembic_version")
    click.echo(
        f"Backed up {total} rows of {len(result.rows) - 1} tables at schema revision "
        f"{result.schema_revision} to {result.path}"
    )
    for path in prune(out_dir, keep) if keep else ():
        click.echo(f"Deleted old backup {path}")


@db.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the data of a database that is not empty.")
@fail_cleanly
@_one_line_errors
def restore_cmd(archive: Path, force: bool) -> None:
    """Restore an archive into the configured database (one transaction), then upgrade it."""
    from paissive_income.db.restore import restore

    database = open_database()
    try:
        result = restore(database.engine, archive, app_tables(), force=force)
    finally:
        database.dispose()
    click.echo(
        f"Restored {sum(result.rows.values())} rows of {len(result.rows)} tables from {archive} "
        f"(schema revision {result.archive_revision}); database at revision "
        f"{result.schema_revision}"
    )
