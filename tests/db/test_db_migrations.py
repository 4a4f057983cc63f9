"""Migrations run on SQLite and PostgreSQL; connection errors hide the password."""

import pytest
from sqlalchemy import inspect

from paissive_income.db import Database, DatabaseUnavailable, migrate
from paissive_income.db.base import Base
from paissive_income.db.session import describe_url


def test_upgrade_creates_every_table_and_reaches_head(database_url):
    database = Database(database_url)
    assert migrate.current_revision(database.engine) is None
    assert not migrate.is_at_head(database.engine)
    migrate.upgrade(database.engine)
    assert migrate.is_at_head(database.engine)
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    database.dispose()


def test_models_match_migrations(database_url):
    """Autogenerate finds nothing to do: the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import paissive_income.models  # noqa: F401

    database = Database(database_url)
    migrate.upgrade(database.engine)
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    database.dispose()


def test_unreachable_postgres_names_host_and_port_not_password():
    database = Database("postgresql+psycopg://app:hunter2@127.0.0.1:1/prod")
    with pytest.raises(DatabaseUnavailable) as info:
        database.check_connection()
    message = str(info.value)
    assert message.startswith("Cannot connect to the database at 127.0.0.1:1 (database 'prod'")
    assert "hunter2" not in message and "\n" not in message


def test_describe_sqlite_url(tmp_path):
    assert describe_url(f"sqlite:///{tmp_path}/x.db") == f"SQLite file {tmp_path}/x.db"
