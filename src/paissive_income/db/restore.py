"""Restore a backup archive into a database (SQLite or PostgreSQL), all in one transaction.

First the whole archive is read and every checksum checked, touching nothing. Then, in one
transaction: the tables the migrations know are dropped (only if empty, or with ``force``), the
schema is migrated to the archive's revision, the rows are inserted in foreign-key order, the
schema is upgraded to this version's newest revision (so an old backup restores into new code),
PostgreSQL's id sequences are moved past the restored ids, and only then is it committed. Any
failure rolls everything back: the target is left exactly as it was.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, func, literal, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from paissive_income.db import migrate
from paissive_income.db.archive import (
    ArchiveError,
    check_known_revision,
    read_archive,
    verify_archive,
)

INSERT_ROWS = 1000


class RestoreError(ArchiveError):
    """The target refuses the restore (not empty, locked, rows it cannot hold); one line."""


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did."""

    archive_revision: str
    schema_revision: str
    rows: dict[str, int]


def _reason(exc: SQLAlchemyError) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def _transaction(engine: Engine):
    """Yield a connection in the one transaction the restore runs in, with the upgrade lock."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            with connection.begin():
                key = {"key": migrate.MIGRATION_LOCK_KEY}  # no upgrade runs meanwhile
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
                yield connection
            return
        # SQLite: foreign keys off while the migrations rebuild tables (a rebuild drops the
        # old table, and with them on, that would cascade-delete the rows referring to it);
        # the rows are checked with foreign_key_check before the commit instead.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            with connection.begin():
                try:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")  # DDL inside the transaction
                except OperationalError as exc:
                    raise RestoreError(f"the target database is busy: {_reason(exc)}") from None
                yield connection
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def _reflect(connection: Connection, names: set[str]) -> MetaData:
    metadata = MetaData()
    metadata.reflect(connection, only=lambda name, _meta: name in names)
    return metadata


def _clear(connection: Connection, tables: set[str], force: bool) -> None:
    """Drop the tables the migrations know, refusing if any holds rows and not ``force``."""
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is not None:
        check_known_revision(revision, "the target database")
    existing = _reflect(connection, tables)
    filled = [
        table.name
        for table in existing.sorted_tables
        if table.name != "alembic_version"
        and connection.execute(select(literal(1)).select_from(table).limit(1)).first()
    ]
    if filled and not force:
        raise RestoreError(
            f"the target database is not empty ({', '.join(filled)} hold rows): "
            "pass --force to replace its data with the archive's"
        )
    existing.drop_all(connection)


def _migrate(connection: Connection, revision: str) -> None:
    """Run the migrations up to ``revision`` in ``connection``'s transaction."""
    config = migrate.alembic_config(connection.engine)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _insert(connection: Connection, table, batch: list[dict], first: int) -> None:
    try:
        connection.execute(table.insert(), batch)
    except SQLAlchemyError as exc:
        raise RestoreError(
            f"restoring table {table.name} failed at rows {first}-{first + len(batch) - 1}: "
            f"{_reason(exc)}; the target database is unchanged"
        ) from None


def _load(connection: Connection, path: Path, revision: str) -> dict[str, int]:
    """Insert every table's rows; return the counts."""
    counts: dict[str, int] = {}
    target: MetaData | None = None
    for manifest, entry, rows in read_archive(path):
        if entry is None:
            target = _reflect(connection, {table["name"] for table in manifest["tables"]})
            continue
        name, names = entry["name"], [column for column, _kind in entry["columns"]]
        if name == "alembic_version":
            if [row for row in rows] != [[revision]]:
                raise ArchiveError(f"{path}: alembic_version does not hold {revision!r} alone")
            continue
        table = target.tables.get(name)
        if table is None or not set(names) <= set(table.columns.keys()):
            raise ArchiveError(
                f"{path}: table {name} ({', '.join(names)}) does not fit the schema at "
                f"revision {revision}"
            )
        batch, count = [], 0
        for values in rows:
            batch.append(dict(zip(names, values, strict=True)))
            count += 1
            if len(batch) == INSERT_ROWS:
                _insert(connection, table, batch, count - len(batch) + 1)
                batch = []
        if batch:
            _insert(connection, table, batch, count - len(batch) + 1)
        counts[name] = count
    return counts


def _finish(connection: Connection, tables: set[str]) -> None:
    """Move PostgreSQL's id sequences past the restored ids; check SQLite's foreign keys."""
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            table, rowid, parent, _ = broken[0]
            raise RestoreError(
                f"restored rows break {len(broken)} foreign key(s), e.g. {table} row {rowid} "
                f"refers to a missing {parent} row; the target database is unchanged"
            )
        return
    for table in _reflect(connection, tables).sorted_tables:
        for column in table.primary_key.columns:
            sequence = connection.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            )
            if sequence is None:
                continue
            top = connection.scalar(select(func.max(column)))
            connection.execute(
                text("SELECT setval(:sequence, :value, :called)"),
                {"sequence": sequence, "value": top or 1, "called": top is not None},
            )


def restore(engine: Engine, path: Path, tables: set[str], *, force: bool = False) -> RestoreResult:
    """Replace the data of ``tables`` (the app's, at head) with the archive's, in one
    transaction."""
    path = Path(path)
    manifest = verify_archive(path)  # every checksum, before the target is touched
    revision = manifest["schema_revision"]
    check_known_revision(revision, f"the archive {path.name}")
    foreign = sorted({table["name"] for table in manifest["tables"]} - tables)
    if foreign:
        raise ArchiveError(f"{path}: holds tables this application does not have: {foreign}")
    head = migrate.head_revision()
    with _transaction(engine) as connection:
        _clear(connection, tables, force)
        _migrate(connection, revision)
        counts = _load(connection, path, revision)
        _migrate(connection, "head")
        _finish(connection, tables)
    return RestoreResult(revision, head, counts)
