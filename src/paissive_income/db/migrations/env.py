"""Alembic environment: runs on the engine passed in Config.attributes."""

from alembic import context

import paissive_income.models  # noqa: F401  (registers every table on Base.metadata)
from paissive_income.db.base import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
