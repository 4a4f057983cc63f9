"""The disk of the SQLite file fills up while the web app and a worker run.

The database file lives on a tiny tmpfs (``mount -t tmpfs -o size=…``, which needs root or
CAP_SYS_ADMIN: without them the test skips, saying so), then a file takes every free byte.
Expected: a write answers a 503 page saying the database is out of space, nothing else;
pages that only read keep working; the file passes ``PRAGMA integrity_check`` with no
half-written row; a run cut off by the full disk is taken up again by the sweeper and
succeeds once space is freed; and every write works again then.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from outage_support import ScriptedServer, finished, problems, start_runs, wait_for
from outage_support import worker as start_worker
from sqlalchemy import select

from agent_team.runs.models import Run, RunArtifact
from live_server import live_server
from paissive_income.config import load_settings
from paissive_income.db import Database, migrate
from paissive_income.web import create_app
from web_support import csrf_token

pytestmark = pytest.mark.slow

SIZE = "4m"
AGENT = {"AGENT_STALE_SECONDS": 2, "AGENT_HEARTBEAT_SECONDS": 0.5, "AGENT_MODEL_WAIT_SECONDS": 5}


@pytest.fixture(scope="module")
def small_disk():
    """A folder on a tmpfs of ``SIZE``; skip when this process may not mount one."""
    folder = Path(tempfile.mkdtemp(prefix="paissive-full-"))
    mount = shutil.which("mount")
    done = (
        subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={SIZE},mode=0700", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if mount and os.geteuid() == 0
        else None
    )
    if done is None or done.returncode != 0:
        folder.rmdir()
        reason = done.stderr.strip() if done else "not root"
        pytest.skip(f"cannot mount a tmpfs here ({reason}): the disk-full test needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def _fill(folder: Path) -> Path:
    """Take every free byte of the disk with one file; return it."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    try:
        with filler.open("ab") as out:  # the last partial block, byte by byte
            while True:
                out.write(b"\0")
                out.flush()
    except OSError:
        pass
    return filler


def _rows(path: Path, table: str) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def _new_project(client: httpx.Client, name: str) -> httpx.Response:
    page = client.get("/projects/new").text
    return client.post(
        "/projects/new",
        data={"name": name, "market_segments": "translators", "csrf_token": csrf_token(page)},
    )


def test_disk_full_writes_fail_clearly_reads_work_nothing_is_corrupted(small_disk, tmp_path):
    db_file = small_disk / "paissive.db"
    settings = load_settings(
        {},
        instance_path=tmp_path / "instance",  # the cache and jobs stay off the small disk
        database_url=f"sqlite:///{db_file}",
        secret_key="disk-full-tests-" + "k" * 40,
        log_level="ERROR",
        open_registration=True,
    )
    app = create_app(settings)
    migrate.upgrade(app.extensions["paissive"].database.engine)
    database = Database(settings.sqlalchemy_url)
    with ScriptedServer(delay=0.05) as model, live_server(app) as base:
        browser = httpx.Client(base_url=base, timeout=30)
        page = browser.get("/register").text
        account = {"email": "full@example.com", "password": "correct horse battery"}
        form = {**account, "confirm": account["password"], "csrf_token": csrf_token(page)}
        assert browser.post("/register", data=form).is_redirect
        assert _new_project(browser, "Before").is_redirect
        token_page = browser.get("/account").text
        made = browser.post("/account", data={"name": "t", "csrf_token": csrf_token(token_page)})
        token = made.text.split('<code id="new-token">', 1)[1].split("<", 1)[0]

        with start_worker(settings, model, **AGENT):
            run_ids = start_runs(base, token, 2, "full")
            wait_for(lambda: _saved(database, run_ids) >= 1, 60, "a run with a finished stage")
            filler = _fill(small_disk)
            projects = _rows(db_file, "projects")

            answer = _new_project(browser, "During")
            assert answer.status_code == 503, (answer.status_code, answer.text[:300])
            assert "run out of disk space" in answer.text and "Traceback" not in answer.text
            assert browser.get("/").status_code == 200  # reading still works
            assert "Before" in browser.get("/").text
            assert _rows(db_file, "projects") == projects  # nothing half-written
            # Ready all the same: the database answers reads (disk space is for alerts).
            assert browser.get("/readyz").status_code == 200

            filler.unlink()  # the operator frees space
            wait_for(lambda: finished(database, run_ids), 90, "the runs to finish")
        assert problems(database, run_ids) == []
        with database.session() as session:
            attempts = session.scalars(select(Run.attempts).where(Run.id.in_(run_ids))).all()
        assert max(attempts) > 1  # the full disk cut a run off; the sweeper took it up again

        assert _new_project(browser, "After").is_redirect
        assert _rows(db_file, "projects") == projects + 1
    database.dispose()
    app.extensions["paissive"].database.dispose()
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _saved(database: Database, run_ids: list[int]) -> int:
    with database.session() as session:
        return len(
            session.scalars(select(RunArtifact.id).where(RunArtifact.run_id.in_(run_ids))).all()
        )
