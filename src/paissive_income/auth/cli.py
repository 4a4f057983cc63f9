"""``paissive-income users``: manage accounts from the command line."""

from __future__ import annotations

import sys

import click
from pydantic import ValidationError

from paissive_income.auth import service
from paissive_income.cli_support import fail_cleanly, open_database
from paissive_income.db import migrate


@click.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create-admin")
@click.option("--email", prompt=True, help="The admin's email address.")
@click.password_option(help="The admin's password (prompted when omitted).")
@fail_cleanly
def create_admin(email: str, password: str) -> None:
    """Create an admin account, or promote an existing one and reset its password."""
    database = open_database()
    migrate.upgrade(database.engine)
    with database.session() as session:
        try:
            user = service.create_admin(session, email=email, password=password)
        except ValidationError as exc:
            err = exc.errors()[0]
            click.echo(
                f"Error: {err['loc'][0]}: {err['msg'].removeprefix('Value error, ')}", err=True
            )
            sys.exit(2)
        click.echo(f"Admin ready: {user.email}")
