"""Alembic environment: runs in the connection (or on the engine) passed in Config.attributes."""

from alembic import context

import paissive_income.models  # noqa: F401  (registers every table on Base.metadata)
from paissive_income.db.base import Base


def run_migrations(connection) -> None:
    """Run the pending migrations in ``connection``'s transaction."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()


# migrate.upgrade passes its connection (it holds the upgrade lock in that transaction).
given = context.config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    with context.config.attributes["engine"].begin() as connection:
        run_migrations(connection)
