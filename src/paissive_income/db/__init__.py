"""Database: SQLAlchemy 2 engine, sessions, declarative Base and Alembic migrations."""

from paissive_income.db.base import Base
from paissive_income.db.session import Database, DatabaseUnavailable

__all__ = ["Base", "Database", "DatabaseUnavailable"]
