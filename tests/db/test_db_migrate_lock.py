"""Concurrent schema upgrades (web replicas with --migrate, the migration job) cannot race."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from paissive_income.db import Database, migrate

pytestmark = pytest.mark.slow

UPGRADERS = 8
# Each process is ready to migrate (imports done, connection open) before any starts, so the
# upgrades really overlap: without the lock most of them fail with "already exists".
UPGRADER = """
import pathlib, sys, time
import sqlalchemy
import paissive_income.models
from paissive_income.db import Database, migrate
database = Database(sys.argv[1])
with database.engine.connect() as connection:
    connection.execute(sqlalchemy.text("SELECT 1"))
migrate.head_revision()
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
migrate.upgrade(database.engine)
"""


def test_concurrent_upgrades_all_succeed_and_migrate_once(tmp_path, database_url):
    go = tmp_path / "go"
    upgraders = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADER, database_url, str(go)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(UPGRADERS)
    ]
    time.sleep(3)  # let every process reach the starting line (late ones still overlap)
    go.touch()
    failures = []
    for upgrader in upgraders:
        _, stderr = upgrader.communicate(timeout=120)
        if upgrader.returncode:
            failures.append(stderr.strip().splitlines()[-3:])
    assert failures == []
    database = Database(database_url)
    try:
        assert migrate.is_at_head(database.engine)
        with database.engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [row[0] for row in versions] == [migrate.head_revision()]
    finally:
        database.dispose()
