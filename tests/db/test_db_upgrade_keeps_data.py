"""Upgrading a database that holds data keeps every row, and SQLite's foreign keys stay on."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from paissive_income.db import Database, migrate

ROWS = (
    "INSERT INTO users (id, email, password_hash, role, disabled, created_at, updated_at) "
    "VALUES (1, 'a@example.com', 'x', 'member', false, '2026-01-01', '2026-01-01')",
    "INSERT INTO projects (owner_id, name, market_segments, notes, created_at, updated_at) "
    "VALUES (1, 'p', '[\"x\"]', '', '2026-01-01', '2026-01-01')",
    "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at) "
    "VALUES (1, 't', 'pfx', 'h', '2026-01-01')",
)
TABLES = ("users", "projects", "api_tokens")


def _counts(database: Database) -> list[int]:
    with database.engine.connect() as connection:
        return [connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES]


def test_upgrading_from_the_first_revision_keeps_every_row(database_url):
    # 0002 rebuilds users on SQLite (batch mode): with foreign keys on, its DROP TABLE
    # cascaded and deleted every project and API token.
    database = Database(database_url)
    try:
        migrate.upgrade(database.engine, "0001")
        with database.engine.begin() as connection:
            for row in ROWS:
                connection.execute(text(row))
        migrate.upgrade(database.engine)
        assert _counts(database) == [1, 1, 1]
        with pytest.raises(IntegrityError), database.engine.begin() as connection:
            connection.execute(  # the foreign keys are enforced again afterwards
                text(
                    "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at) "
                    "VALUES (999, 'orphan', 'p2', 'h2', '2026-01-01')"
                )
            )
    finally:
        database.dispose()
