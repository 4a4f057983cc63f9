"""The backup archive's format: a gzip'd tar of manifest.json and one JSON-lines file per table.

``manifest.json`` comes first: format and version, the schema revision, when and from which
backend it was made, and per table its file, columns (name and portable kind), row count and the
SHA-256 of its file; its own ``checksum`` covers the rest of it. Each table file holds one JSON
array per row, in the manifest's column order, pure ASCII: datetimes as ISO 8601 in UTC, bytes as
base64, JSON columns as their JSON. Reading checks every count and checksum, so a truncated,
damaged or edited archive is refused before anything is restored from it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import tarfile
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import types

from paissive_income.db.migrate import MIGRATIONS_DIR

FORMAT = "paissive-income-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_LIMIT = 1 << 20  # bytes; a manifest lists a handful of tables
KINDS = ("integer", "float", "boolean", "text", "datetime", "json", "bytes")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ArchiveError(Exception):
    """The archive cannot be used (damaged, edited, foreign); the message is one line."""


def check_known_revision(revision: str, what: str) -> None:
    """Raise ArchiveError naming both revisions if this code has no migration ``revision``."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    if revision not in {script.revision for script in scripts.walk_revisions()}:
        raise ArchiveError(
            f"{what} is at schema revision {revision!r}, which this version of paissive-income "
            f"does not know (its newest is {scripts.get_current_head()!r}): "
            "use the version that made it, or a newer one"
        )


def column_kind(type_: types.TypeEngine) -> str:
    """Return the portable kind of a column type (how its values are written)."""
    checks = (
        (types.Boolean, "boolean"),
        (types.Integer, "integer"),
        (types.Float, "float"),
        (types.DateTime, "datetime"),
        (types.JSON, "json"),
        (types.LargeBinary, "bytes"),
        (types.String, "text"),
    )
    for generic, kind in checks:
        if isinstance(type_, generic):
            return kind
    raise ArchiveError(f"cannot back up a column of type {type_!r}")


def _encode(value: Any, kind: str) -> Any:
    if value is None or kind in ("integer", "boolean", "text", "json"):
        return value
    if kind == "float":
        return float(value)
    if kind == "datetime":
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc).isoformat()
    return base64.b64encode(bytes(value)).decode("ascii")


def _decode(value: Any, kind: str) -> Any:
    if value is None or kind in ("integer", "text", "json"):
        return value
    if kind == "boolean":
        return bool(value)
    if kind == "float":
        return float(value)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    return base64.b64decode(value, validate=True)


def encode_row(row: Any, kinds: list[str]) -> bytes:
    """Return one table file line for a row."""
    values = [_encode(value, kind) for value, kind in zip(row, kinds, strict=True)]
    return json.dumps(values, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def decode_row(line: bytes, kinds: list[str]) -> list[Any]:
    """Return a row's values from one table file line."""
    values = json.loads(line)
    if not isinstance(values, list) or len(values) != len(kinds):
        raise ValueError(f"expected {len(kinds)} values")
    return [_decode(value, kind) for value, kind in zip(values, kinds, strict=True)]


def manifest_checksum(manifest: dict) -> str:
    """Return the SHA-256 of the manifest without its ``checksum`` (canonical JSON)."""
    body = {key: value for key, value in manifest.items() if key != "checksum"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _check_manifest(manifest: Any) -> dict:
    """Return the manifest if it is well formed and unedited, else raise ArchiveError."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError("not a paissive-income backup (manifest.json has another format)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArchiveError(
            f"backup format version {manifest.get('format_version')!r} is not supported "
            f"(this version reads {FORMAT_VERSION})"
        )
    if manifest.get("checksum") != manifest_checksum(manifest):
        raise ArchiveError("manifest.json does not match its checksum (edited or damaged)")
    try:
        revision = manifest["schema_revision"]
        for table in manifest["tables"]:
            if not _NAME.match(table["name"]) or table["file"] != f"tables/{table['name']}.jsonl":
                raise ValueError(f"bad table name {table['name']!r}")
            if not all(_NAME.match(name) and kind in KINDS for name, kind in table["columns"]):
                raise ValueError(f"bad column in {table['name']}")
            if not (isinstance(table["rows"], int) and isinstance(table["sha256"], str)):
                raise ValueError(f"bad row count or checksum of {table['name']}")
        if not isinstance(revision, str):
            raise ValueError("bad schema revision")
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveError(f"manifest.json is malformed: {exc}") from None
    return manifest


def _damaged(path: Path, exc: BaseException) -> ArchiveError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ArchiveError(f"{path} is truncated or damaged: {reason}")


READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError)


def _members(path: Path) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    """Yield the archive's regular members in order, streaming (no seeking back)."""
    try:
        with gzip.open(path, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    raise ArchiveError(f"{path}: unexpected member {member.name!r}")
                yield tar, member
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such file") from None
    except READ_ERRORS as exc:
        raise _damaged(path, exc) from None


def _lines(tar: tarfile.TarFile, member: tarfile.TarInfo, table: dict) -> Iterator[bytes]:
    """Yield a table file's lines, raising ArchiveError if its count or checksum differ."""
    digest, count = hashlib.sha256(), 0
    for line in tar.extractfile(member):
        digest.update(line)
        count += 1
        yield line
    if count != table["rows"] or digest.hexdigest() != table["sha256"]:
        raise ArchiveError(
            f"{member.name} does not match the manifest ({count} rows for {table['rows']}, "
            "or a different checksum): damaged or edited"
        )


def read_archive(path: Path) -> Iterator[tuple[dict, dict | None, Iterator[list[Any]] | None]]:
    """Yield (manifest, None, None), then (manifest, table, its decoded rows) per table.

    A consumer must exhaust each table's rows before asking for the next table: the tar is
    read as a stream. Every count and checksum is checked as it is read.
    """
    members = _members(path)
    first = next(members, None)
    if first is None or first[1].name != MANIFEST or first[1].size > MANIFEST_LIMIT:
        raise ArchiveError(f"{path}: manifest.json is missing (not a paissive-income backup?)")
    tar, member = first
    try:
        manifest = _check_manifest(json.loads(tar.extractfile(member).read()))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ArchiveError(f"{path}: manifest.json is not valid JSON: {exc}") from None
    except READ_ERRORS as exc:
        raise _damaged(path, exc) from None
    yield manifest, None, None
    for table in manifest["tables"]:
        found = next(members, None)
        if found is None or found[1].name != table["file"]:
            raise ArchiveError(f"{path}: {table['file']} is missing (truncated or edited)")
        tar, member = found
        kinds = [kind for _name, kind in table["columns"]]
        yield manifest, table, _rows(path, _lines(tar, member, table), kinds, table["name"])
    if next(members, None) is not None:
        raise ArchiveError(f"{path}: holds files the manifest does not list (edited)")


def _rows(path: Path, lines: Iterator[bytes], kinds: list[str], name: str) -> Iterator[list]:
    number = 0
    try:
        for line in lines:
            number += 1
            yield decode_row(line, kinds)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ArchiveError(
            f"{path}: tables/{name}.jsonl is damaged or edited (row {number}: {exc})"
        ) from None
    except READ_ERRORS as exc:
        raise _damaged(path, exc) from None


def verify_archive(path: Path) -> dict:
    """Read the whole archive, checking every count and checksum; return its manifest."""
    tables = read_archive(path)
    manifest, _table, _rows = next(tables)
    for _manifest, _table, rows in tables:
        for _row in rows:
            pass
    return manifest
