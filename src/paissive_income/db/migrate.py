"""Run Alembic migrations programmatically: upgrade, current revision, head check.

An upgrade runs in one transaction that first takes the database's upgrade lock, so web
replicas started with ``--migrate`` and the one-shot migration job cannot race: the first
upgrades, the others wait and then find the schema at head. On PostgreSQL the lock is a
transaction-level advisory lock taken in the connection Alembic migrates with; on SQLite it is
the file's write lock (``BEGIN IMMEDIATE``), without which two upgraders both create a table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from paissive_income.db.session import DatabaseUnavailable

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key of schema upgrades: any fixed 64-bit number that no other code of
# this database uses (the first 8 bytes of sha256("paissive-income:migrations"), signed).
MIGRATION_LOCK_KEY = 0x0456_1E7F_AF29_F5F2
# How long a SQLite upgrader waits for another one's write lock (its busy timeout is shorter).
SQLITE_LOCK_WAIT_SECONDS = 120.0


class _QuietContextFilter(logging.Filter):
    """Drop Alembic's per-connection chatter, which every readiness probe would log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


logging.getLogger("alembic.runtime.migration").addFilter(_QuietContextFilter())


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic Config that runs our migrations on ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str | None:
    """Return the newest migration's revision id."""
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at (None when never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_at_head(engine: Engine) -> bool:
    """Say whether the schema is at the newest migration."""
    return current_revision(engine) == head_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision``, one upgrader at a time, in one transaction."""
    config = alembic_config(engine)
    with engine.connect() as connection, _sqlite_foreign_keys_off(connection):
        with connection.begin():
            _lock_for_upgrade(connection)  # held until the transaction ends: Alembic migrates in it
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            _check_foreign_keys(connection)


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Switch SQLite's foreign keys off around the upgrade (a no-op on PostgreSQL).

    Batch migrations rebuild a table (copy, DROP, rename); with foreign keys on, SQLite's DROP
    deletes every row that cascades from it: projects and API tokens went with a rebuilt users
    table. Alembic's batch docs say the same. The pragma is ignored inside a transaction, so it
    is set before the upgrade's transaction begins and restored after it ends.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def _check_foreign_keys(connection: Connection) -> None:
    """Fail the upgrade (rolled back) if it left a SQLite row pointing at a missing row."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(
            f"the migration left {len(broken)} rows with a missing parent "
            f"(first in table {broken[0][0]}); nothing was changed"
        )


def _lock_for_upgrade(connection: Connection) -> None:
    """Take the upgrade lock in ``connection``'s transaction, waiting for another upgrader."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        return
    if connection.dialect.name != "sqlite":
        return
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS
    while True:
        try:
            # pysqlite opens no transaction before DDL; this one holds the write lock throughout.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "locked" not in str(exc.orig):
                raise
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(
                    f"the database stayed locked by another process for "
                    f"{SQLITE_LOCK_WAIT_SECONDS:.0f} s; is another upgrade stuck?"
                ) from None
