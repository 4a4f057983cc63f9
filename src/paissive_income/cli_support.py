"""Helpers shared by CLI commands: settings, database, and one-line failures."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import click

from paissive_income.config import ConfigError, Settings, ensure_instance, load_settings
from paissive_income.db import Database, DatabaseUnavailable

EXPECTED_FAILURES = (ConfigError, DatabaseUnavailable)


def fail_cleanly(func: Callable) -> Callable:
    """Turn expected start-up failures into one line on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except EXPECTED_FAILURES as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def current_settings() -> Settings:
    """Load settings from the environment and prepare the instance folder."""
    return ensure_instance(load_settings())


def open_database(settings: Settings | None = None) -> Database:
    """Open the configured database and check it answers."""
    database = Database((settings or current_settings()).sqlalchemy_url)
    database.check_connection()
    return database
