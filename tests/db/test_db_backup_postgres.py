"""Moving between databases: SQLite → PostgreSQL → SQLite keeps every row, typed; PostgreSQL's
id sequences continue after the restored ids; text PostgreSQL cannot hold fails cleanly."""

from __future__ import annotations

import os

import pytest
from backup_support import TABLES, TEST_DATABASE_URL, add_hostile, dump, fill, postgres_database
from sqlalchemy import inspect

from agent_team.runs import service as runs
from paissive_income.auth import service as accounts
from paissive_income.db import Database, backup, migrate
from paissive_income.db.restore import RestoreError, restore

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url() -> str:
    if not TEST_DATABASE_URL:
        if os.environ.get("REQUIRE_TEST_SERVICES") == "1":  # CI: fail, never skip
            pytest.fail("required for CI: TEST_DATABASE_URL is not set")
        pytest.skip("TEST_DATABASE_URL is not set")
    with postgres_database() as url:
        yield url


def test_sqlite_to_postgresql_to_sqlite_keeps_every_row(postgres_url, tmp_path):
    laptop = Database(f"sqlite:///{tmp_path / 'laptop.db'}")
    migrate.upgrade(laptop.engine)
    fill(laptop)
    add_hostile(laptop)
    expected = dump(laptop.engine)
    backup.backup(laptop.engine, tmp_path / "laptop.tar.gz", TABLES)

    server = Database(postgres_url)
    restore(server.engine, tmp_path / "laptop.tar.gz", TABLES)
    assert dump(server.engine) == expected
    with server.session() as session:  # new ids continue after the restored ones
        user = accounts.register_user(session, email="new@example.com", password="x" * 12)
        project_id = expected["projects"][-1][0]
        owner_id = expected["projects"][-1][1]
        run = runs.create_run(session, owner_id=owner_id, project_id=project_id, model="m")
        assert user.id == expected["users"][-1][0] + 1
        assert run.id == expected["runs"][-1][0] + 1
    backup.backup(server.engine, tmp_path / "server.tar.gz", TABLES)
    server.dispose()

    back = Database(f"sqlite:///{tmp_path / 'back.db'}")
    restore(back.engine, tmp_path / "server.tar.gz", TABLES)
    again = dump(back.engine)
    assert len(again["users"]) == len(expected["users"]) + 1
    again["users"].pop()
    again["runs"].pop()
    assert again == expected


def test_text_postgresql_cannot_hold_fails_in_one_line_and_leaves_it_empty(postgres_url, tmp_path):
    laptop = Database(f"sqlite:///{tmp_path / 'laptop.db'}")
    migrate.upgrade(laptop.engine)
    add_hostile(laptop, nul=True)
    backup.backup(laptop.engine, tmp_path / "nul.tar.gz", TABLES)
    server = Database(postgres_url)
    with pytest.raises(RestoreError) as info:
        restore(server.engine, tmp_path / "nul.tar.gz", TABLES)
    message = str(info.value)
    assert message.startswith("restoring table projects failed at rows 1-1: ")
    assert "NUL" in message and message.endswith("unchanged") and "\n" not in message
    assert inspect(server.engine).get_table_names() == []  # not even the schema remains
    server.dispose()
