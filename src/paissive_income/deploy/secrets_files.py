"""`paissive-income deploy secrets`: the Compose stack's secret files, random and consistent."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import quote

import click

from ai_models.serving.output import OutputFile, write_files
from paissive_income.deploy.stack import DATABASE_NAME, DATABASE_USER, POSTGRES, SECRETS

# Compose bind-mounts each file into the containers with its host owner and mode, and the app
# runs as user 10001, not the host user: the files must be readable by others inside the
# container. The folder is the lock instead: 0700, so no other host user can reach the files.
FILE_MODE = 0o644
FOLDER_MODE = 0o700


def database_url(password: str) -> str:
    """The SQLAlchemy URL of the stack's PostgreSQL, with the password URL-escaped."""
    user = quote(DATABASE_USER, safe="")
    return (
        f"postgresql+psycopg://{user}:{quote(password, safe='')}"
        f"@{POSTGRES.name}:{POSTGRES.port}/{DATABASE_NAME}"
    )


def secret_values() -> dict[str, str]:
    """Fresh random values for every secret in stack.SECRETS."""
    password = secrets.token_urlsafe(32)
    values = {
        "secret_key": secrets.token_urlsafe(48),  # 64 characters
        "database_url": database_url(password),
        "ai_model_api_key": secrets.token_urlsafe(32),
        "postgres_password": password,
    }
    assert values.keys() == SECRETS.keys(), "stack.SECRETS changed: give every secret a value"
    return values


def secret_files(values: dict[str, str] | None = None) -> list[OutputFile]:
    """One file per secret, named as Compose's `secrets:` section expects (no trailing newline)."""
    return [OutputFile(name, text) for name, text in (values or secret_values()).items()]


def write_secrets(folder: Path, *, force: bool = False) -> list[str]:
    """Write every secret file into folder, all or none; refuse to replace one unless forced."""
    if not force:
        existing = [name for name in SECRETS if os.path.lexists(folder / name)]
        if existing:
            raise FileExistsError(
                f"{folder}: {', '.join(existing)} already exist; --force replaces all of them "
                "(the database keeps its first password: change it there too)"
            )
    created = not folder.exists()
    folder.absolute().parent.mkdir(parents=True, exist_ok=True)  # with the usual mode
    previous = os.umask(0o077)  # the staging folder and files are private while written
    try:
        written = write_files(folder, secret_files())
    finally:
        os.umask(previous)
    if created:
        folder.chmod(FOLDER_MODE)
    for path in written:
        os.chmod(path, FILE_MODE)
    return written


def exposed(folder: Path) -> bool:
    """Tell whether other host users may enter the folder (the files themselves are 0644)."""
    return bool(folder.stat().st_mode & 0o077)


@click.command(name="secrets")
@click.option(
    "--out",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the secret files (docker-compose.yml reads ./secrets).",
)
@click.option("--force", is_flag=True, help="Replace secret files that already exist.")
def secrets_command(output_dir: Path, force: bool) -> None:
    """Write the Compose stack's secret files with random values (folder mode 0700)."""
    try:
        written = write_secrets(output_dir, force=force)
    except FileExistsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: {output_dir}: cannot write ({exc.strerror or exc})", err=True)
        sys.exit(1)
    for path in written:
        click.echo(path)
    if exposed(output_dir):
        click.echo(
            f"warning: {output_dir} is open to other users: chmod 700 {output_dir}", err=True
        )
