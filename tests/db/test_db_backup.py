"""Backup and restore: the archive round-trips every row, damage is refused before the target is
touched, a failed restore leaves the target as it was, and a backup is one consistent snapshot."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import threading
import time
from pathlib import Path

import pytest
from backup_support import TABLES, add_hostile, dump, fill
from click.testing import CliRunner
from sqlalchemy import insert, select

from agent_team.runs.models import Run
from paissive_income.cli import main
from paissive_income.db import Database, backup, migrate
from paissive_income.db.archive import ArchiveError, manifest_checksum, verify_archive
from paissive_income.db.restore import RestoreError, restore
from paissive_income.projects.models import Project


def _sqlite(path: Path, *, migrated: bool = True) -> Database:
    database = Database(f"sqlite:///{path}")
    if migrated:
        migrate.upgrade(database.engine)
    return database


def _cli(monkeypatch, url: str, *args: str):
    monkeypatch.setenv("DATABASE_URL", url)
    return CliRunner().invoke(main, ["db", *args])


def _rewrite(archive: Path, out: Path, edit) -> None:
    """Copy an archive, letting ``edit(manifest, files)`` change it; re-checksum the manifest."""
    with tarfile.open(archive, "r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(files.pop("manifest.json"))
    edit(manifest, files)
    manifest["checksum"] = manifest_checksum(manifest)
    with tarfile.open(out, "w:gz") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), *files.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def source(tmp_path) -> Database:
    database = _sqlite(tmp_path / "source.db")
    fill(database)
    add_hostile(database, nul=True)  # SQLite holds NUL; PostgreSQL would refuse it
    yield database
    database.dispose()


@pytest.fixture
def archive(source, tmp_path) -> Path:
    path = tmp_path / "backup.tar.gz"
    backup.backup(source.engine, path, TABLES)
    return path


def test_cli_round_trip_keeps_every_row_and_writes_a_private_file(source, tmp_path, monkeypatch):
    path = tmp_path / "out" / "b.tar.gz"
    path.parent.mkdir()
    result = _cli(monkeypatch, source.url, "backup", "--out", str(path))
    assert result.exit_code == 0, result.output
    assert "at schema revision 0003 to" in result.output
    assert sorted(p.name for p in path.parent.iterdir()) == ["b.tar.gz"]  # no temp files left
    assert path.stat().st_mode & 0o777 == 0o600  # password and token hashes inside
    target = tmp_path / "target.db"
    _sqlite(target).dispose()  # migrated but empty, as after the stack's migrate Job: no --force
    result = _cli(monkeypatch, f"sqlite:///{target}", "restore", str(path))
    assert result.exit_code == 0, result.output
    assert "database at revision 0003" in result.output
    assert dump(_sqlite(target, migrated=False).engine) == dump(source.engine)


def test_a_non_empty_target_needs_force(source, archive, tmp_path):
    target = _sqlite(tmp_path / "target.db")
    fill(target, users=1, runs_each=1)
    before = dump(target.engine)
    with pytest.raises(RestoreError, match=r"not empty \(users, api_tokens, projects, runs"):
        restore(target.engine, archive, TABLES)
    assert dump(target.engine) == before
    restore(target.engine, archive, TABLES, force=True)
    assert dump(target.engine) == dump(source.engine)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_manifest_count(path: Path) -> None:
    with tarfile.open(path, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    manifest = json.loads(members[0][1])
    manifest["tables"][1]["rows"] += 1
    with tarfile.open(path, "w:gz") as tar:
        for member, data in [(members[0][0], json.dumps(manifest).encode()), *members[1:]]:
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))


def _edit_table(path: Path) -> None:
    def edit(manifest, files):
        files["tables/users.jsonl"] = files["tables/users.jsonl"].replace(b"member", b"admin")

    _rewrite(path, path, edit)


def _not_gzip(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 not a backup")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncate, "is truncated or damaged"),
        (_flip_byte, "truncated or damaged|damaged or edited"),
        (_edit_manifest_count, "manifest.json does not match its checksum"),
        (_edit_table, "tables/users.jsonl does not match the manifest"),
        (_not_gzip, "is truncated or damaged: Not a gzipped file"),
    ],
)
def test_a_damaged_archive_is_refused_before_the_target_is_touched(
    archive, tmp_path, monkeypatch, damage, message
):
    target = _sqlite(tmp_path / "target.db")
    fill(target, users=1, runs_each=1)
    before = dump(target.engine)
    damage(archive)
    result = _cli(monkeypatch, target.url, "restore", "--force", str(archive))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert re.search(message, result.output), result.output
    assert dump(target.engine) == before


def test_an_archive_from_newer_code_is_refused_naming_both_revisions(archive, tmp_path):
    newer = tmp_path / "newer.tar.gz"
    _rewrite(archive, newer, lambda manifest, files: manifest.update(schema_revision="0999"))
    target = _sqlite(tmp_path / "target.db", migrated=False)
    with pytest.raises(ArchiveError, match=r"revision '0999'.*newest is '0003'"):
        restore(target.engine, newer, TABLES)
    assert migrate.current_revision(target.engine) is None


def test_an_archive_holding_a_table_the_app_lacks_is_refused(archive, tmp_path):
    """Rows go only into the application's own tables, whatever the manifest lists."""
    other = tmp_path / "other.tar.gz"

    def add_table(manifest, files):
        files["tables/accounts.jsonl"] = b"[1]\n"
        entry = {"name": "accounts", "file": "tables/accounts.jsonl", "rows": 1}
        entry |= {"columns": [["id", "integer"]], "sha256": hashlib.sha256(b"[1]\n").hexdigest()}
        manifest["tables"].append(entry)

    _rewrite(archive, other, add_table)
    target = _sqlite(tmp_path / "target.db")
    target.engine.dispose()
    with target.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    with pytest.raises(
        ArchiveError, match=r"tables this application does not have: \['accounts'\]"
    ):
        restore(target.engine, other, TABLES)
    with target.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM accounts").scalar() == 0


def test_an_old_backup_restores_into_new_code(tmp_path):
    """A 0001 archive: restored at 0001, then upgraded; 0002 rebuilds users on SQLite, which
    must not cascade-delete the projects and tokens that refer to them."""
    old = Database(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(old.engine, "0001")
    with old.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO users VALUES (7, 'a@b.c', 'h', 'admin', 0, NULL, "
            "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
        )
        connection.exec_driver_sql(
            "INSERT INTO projects VALUES (3, 7, 'p', '[\"s\"]', '', "
            "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
        )
    backup.backup(old.engine, tmp_path / "old.tar.gz", TABLES)
    target = _sqlite(tmp_path / "target.db", migrated=False)
    result = restore(target.engine, tmp_path / "old.tar.gz", TABLES)
    assert (result.archive_revision, result.schema_revision) == ("0001", "0003")
    with target.session() as session:
        project = session.get(Project, 3)
        assert (project.owner_id, project.market_segments) == (7, ["s"])
        assert session.scalar(select(Run.id)) is None


def test_a_failing_row_in_the_middle_rolls_the_whole_restore_back(database_url, tmp_path):
    """One runs row without a model (NOT NULL) after others: nothing of the restore remains."""
    source = _sqlite(tmp_path / "source.db")
    fill(source, users=2, runs_each=2)
    good = tmp_path / "good.tar.gz"
    backup.backup(source.engine, good, TABLES)

    def break_third_run(manifest, files):
        lines = files["tables/runs.jsonl"].splitlines(keepends=True)
        row = json.loads(lines[2])
        row[3] = None  # model
        lines[2] = json.dumps(row).encode() + b"\n"
        files["tables/runs.jsonl"] = b"".join(lines)
        table = next(t for t in manifest["tables"] if t["name"] == "runs")
        table["sha256"] = hashlib.sha256(files["tables/runs.jsonl"]).hexdigest()

    bad = tmp_path / "bad.tar.gz"
    _rewrite(good, bad, break_third_run)
    target = Database(database_url)
    migrate.upgrade(target.engine)
    fill(target, users=1, runs_each=1)
    before = dump(target.engine)
    with pytest.raises(
        RestoreError, match=r"^restoring table runs failed at rows 1-4: .*unchanged"
    ):
        restore(target.engine, bad, TABLES, force=True)
    assert dump(target.engine) == before
    target.dispose()


@pytest.mark.slow
def test_writes_during_a_backup_do_not_make_it_inconsistent(database_url, tmp_path, monkeypatch):
    """A writer adds a project and a run for it in each transaction while the backup reads the
    tables one by one (slowed down): the archive holds as many of one as of the other."""
    database = Database(database_url)
    migrate.upgrade(database.engine)
    fill(database, users=1, runs_each=0)
    owner = dump(database.engine)["users"][0][0]
    dump_table = backup._dump_table

    def slow_dump(*args):
        time.sleep(0.3)
        return dump_table(*args)

    monkeypatch.setattr(backup, "_dump_table", slow_dump)
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            with database.engine.begin() as connection:
                project = connection.execute(
                    insert(Project).values(owner_id=owner, name="w", market_segments=["s"])
                ).inserted_primary_key[0]
                connection.execute(
                    insert(Run).values(project_id=project, model="m", segments=["s"])
                )

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(0.2)
        backup.backup(database.engine, tmp_path / "b.tar.gz", TABLES)
        time.sleep(0.2)
    finally:
        stop.set()
        writer.join()
    rows = {t["name"]: t["rows"] for t in verify_archive(tmp_path / "b.tar.gz")["tables"]}
    assert rows["runs"] > 0
    assert rows["projects"] == rows["runs"] + 1  # fill's project has no run
    assert len(dump(database.engine)["runs"]) > rows["runs"]  # the writer went on meanwhile
    database.dispose()


@pytest.mark.parametrize("where", ["reading the tables", "writing the archive"])
def test_an_interrupted_backup_leaves_no_file_and_keeps_the_old_one(
    source, tmp_path, monkeypatch, where
):
    out = tmp_path / "b.tar.gz"
    out.write_bytes(b"yesterday's backup")
    calls = []
    cls, name = (
        (backup, "_dump_table") if where.startswith("reading") else (tarfile.TarFile, "addfile")
    )
    original = getattr(cls, name)

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(cls, name, interrupted)
    with pytest.raises(KeyboardInterrupt):
        backup.backup(source.engine, out, TABLES)
    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.glob("b.tar.gz*")) == ["b.tar.gz"]
    assert not list(tmp_path.glob(".b.tar.gz*"))  # neither the tables nor a partial archive
    assert out.read_bytes() == b"yesterday's backup"


def test_scheduled_backups_are_named_by_time_and_pruned(source, tmp_path, monkeypatch):
    folder = tmp_path / "backups"
    folder.mkdir()
    old = [folder / f"paissive-income-2026010{day}T000000Z.tar.gz" for day in range(1, 5)]
    for path in old:
        path.write_bytes(b"old")
    (folder / "notes.txt").write_text("not a backup")
    result = _cli(monkeypatch, source.url, "backup", "--out-dir", str(folder), "--keep", "2")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in folder.iterdir())
    assert names[0] == "notes.txt" and names[1] == old[3].name and len(names) == 3
    assert verify_archive(folder / names[2])["schema_revision"] == "0003"
    assert result.output.count("Deleted old backup") == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backup"], "exactly one of --out FILE and --out-dir FOLDER"),
        (["backup", "--out", "x", "--out-dir", "."], "exactly one of"),
        (["backup", "--out", "x", "--keep", "2"], "--keep needs --out-dir"),
        (["backup", "--out", "/nonexistent/dir/x.tar.gz"], "Error: /nonexistent/dir does not"),
        (["restore", "/nonexistent.tar.gz"], "Error: /nonexistent.tar.gz: no such file"),
        (["backup", "--out", "b.tar.gz"], "Error: the database has no schema (never migrated)"),
    ],
)
def test_bad_command_lines_fail_with_one_clear_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = _cli(monkeypatch, f"sqlite:///{tmp_path / 'empty.db'}", *args)
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert "Traceback" not in result.output
    assert not [p for p in tmp_path.rglob("*") if ".tar.gz" in p.name]  # nothing half-written


def test_the_archive_is_a_readable_tar_of_json_lines(archive):
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
        users = tar.extractfile("tables/users.jsonl").read().decode("ascii").splitlines()
    assert names[0] == "manifest.json" and "tables/run_events.jsonl" in names
    assert manifest["schema_revision"] == "0003" and manifest["source"] == "sqlite"
    columns = [name for name, _kind in manifest["tables"][1]["columns"]]
    assert columns[:2] == ["id", "email"] and json.loads(users[0])[1] == "user0@example.com"
    assert gzip.open(archive).read(2)  # one gzip stream: `tar xzf` opens it
