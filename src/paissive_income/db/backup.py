"""Back up every table Alembic knows into one archive, from one consistent snapshot.

PostgreSQL is read in one REPEATABLE READ, READ ONLY transaction; SQLite in one read transaction
(in WAL mode a snapshot, writers carry on). Rows stream to temporary files beside the output,
which is written under a temporary name and renamed into place only when complete, so a failure
or Ctrl-C never leaves a half-written archive under the requested name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection, Engine

from paissive_income.db.archive import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    ArchiveError,
    check_known_revision,
    column_kind,
    encode_row,
    manifest_checksum,
)

ARCHIVE_PREFIX = "paissive-income-"
ARCHIVE_SUFFIX = ".tar.gz"
FETCH_ROWS = 1000


@dataclass(frozen=True)
class BackupResult:
    """What a backup wrote."""

    path: Path
    schema_revision: str
    rows: dict[str, int]


@contextlib.contextmanager
def snapshot(engine: Engine):
    """Yield a connection in a read-only transaction that sees one consistent state."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield connection
            return
        # pysqlite opens no transaction before a SELECT: without this, every table would be
        # read in a transaction of its own and a write between two of them would be half seen.
        with connection.begin():
            connection.exec_driver_sql("BEGIN")
            yield connection


def _schema_revision(connection: Connection) -> str:
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is None:
        raise ArchiveError("the database has no schema (never migrated): nothing to back up")
    check_known_revision(revision, "the database")
    return revision


def _dump_table(connection: Connection, table, destination: Path) -> dict:
    """Write a table's rows to ``destination``; return its manifest entry."""
    columns = list(table.columns)
    kinds = [column_kind(column.type) for column in columns]
    order = list(table.primary_key.columns) or columns
    digest, count = hashlib.sha256(), 0
    query = select(*columns).order_by(*order)
    result = connection.execution_options(yield_per=FETCH_ROWS).execute(query)
    with open(destination, "wb") as out:
        for row in result:
            line = encode_row(row, kinds)
            digest.update(line)
            out.write(line)
            count += 1
    return {
        "name": table.name,
        "file": f"tables/{table.name}.jsonl",
        "columns": [[column.name, kind] for column, kind in zip(columns, kinds, strict=True)],
        "rows": count,
        "sha256": digest.hexdigest(),
    }


def _app_version() -> str:
    try:
        return version("paissive-income")
    except PackageNotFoundError:  # running from a source tree
        return "unknown"


def _write_tar(out: Path, manifest: dict, folder: Path) -> None:
    """Write the archive to a temporary file beside ``out`` and rename it into place."""
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
                data = json.dumps(manifest, indent=1, ensure_ascii=True).encode("ascii")
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(manifest_time(manifest)), 0o600
                tar.addfile(info, io.BytesIO(data))
                for table in manifest["tables"]:
                    path = folder / f"{table['name']}.jsonl"
                    info = tar.gettarinfo(str(path), arcname=table["file"])
                    info.uid = info.gid = 0
                    info.mode = 0o600
                    info.uname = info.gname = ""
                    with open(path, "rb") as source:
                        tar.addfile(info, source)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def manifest_time(manifest: dict) -> float:
    """Return the manifest's creation time as a POSIX timestamp."""
    return datetime.fromisoformat(manifest["created_at"]).timestamp()


def backup(engine: Engine, out: Path, tables: set[str]) -> BackupResult:
    """Write a consistent archive of ``tables`` (the app's, alembic_version too) to ``out``."""
    out = Path(out)
    if out.is_dir():
        raise ArchiveError(f"{out} is a folder; name the archive file (or use --out-dir)")
    if not out.parent.is_dir():
        raise ArchiveError(f"{out.parent} does not exist")
    folder = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tables"))
    try:
        with snapshot(engine) as connection:
            created_at = datetime.now(timezone.utc).isoformat()
            revision = _schema_revision(connection)
            metadata = MetaData()
            metadata.reflect(connection, only=lambda name, _meta: name in tables)
            entries = [
                _dump_table(connection, table, folder / f"{table.name}.jsonl")
                for table in metadata.sorted_tables
            ]
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_revision": revision,
            "created_at": created_at,
            "source": engine.dialect.name,
            "app_version": _app_version(),
            "tables": entries,
        }
        manifest["checksum"] = manifest_checksum(manifest)
        _write_tar(out, manifest, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return BackupResult(out, revision, {table["name"]: table["rows"] for table in entries})


def timestamped_name(now: datetime | None = None) -> str:
    """Return an archive file name that sorts by time: paissive-income-YYYYmmddTHHMMSSZ.tar.gz."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{ARCHIVE_PREFIX}{moment:%Y%m%dT%H%M%S}Z{ARCHIVE_SUFFIX}"


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest timestamped archives in ``folder``; return the deleted."""
    archives = sorted(
        path
        for path in Path(folder).glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}")
        if path.is_file() and len(path.name) == len(timestamped_name())
    )
    doomed = archives[: max(len(archives) - keep, 0)]
    for path in doomed:
        path.unlink()
    return doomed
