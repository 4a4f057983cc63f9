"""``paissive-income serve`` (the web UI as ``python run_ui.py`` runs it) and ``web`` (gunicorn).

``web`` is what the image runs: gunicorn on ``0.0.0.0:$PORT`` with gunicorn_conf's settings;
it upgrades the schema once in the master before any worker forks (``--migrate``, env
``MIGRATE_ON_START``), and with ``--embedded-worker`` (env ``AGENT_EMBEDDED_WORKER``; ``auto``:
on when ``REDIS_URL`` is unset) each gunicorn worker also works analysis runs, so the image with
no configuration at all (SQLite and its job queue in the instance folder) works end to end.
"""

from __future__ import annotations

import logging
import os

import click

from paissive_income.cli_support import current_settings, fail_cleanly, open_database
from paissive_income.config import ConfigError
from paissive_income.db import migrate

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

log = logging.getLogger(__name__)


def prepare_and_run(host: str | None = None, port: int | None = None) -> None:
    """Load settings, upgrade the schema, and serve the web UI until interrupted."""
    settings = current_settings()
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update=overrides)
    database = open_database(settings)
    migrate.upgrade(database.engine)
    database.dispose()

    from paissive_income.web import create_app

    app = create_app(settings)
    # The embedded default: this process also works analysis runs (containers run workers).
    team = app.extensions["agent_team"]
    team.queue.consume(workers=team.settings.workers, block=False)
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    click.echo(
        f"pAIssive Income is running at http://{shown_host}:{settings.port}/ (Ctrl+C to stop)"
    )
    app.run(host=settings.host, port=settings.port, debug=False, use_reloader=False, threaded=True)


@click.command()
@click.option("--host", default=None, help="Address to listen on (env HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (env PORT, default 5000).")
@fail_cleanly
def serve(host: str | None, port: int | None) -> None:
    """Serve the web interface (SQLite and local cache unless configured otherwise)."""
    prepare_and_run(host, port)


@click.command()
@click.option(
    "--migrate/--no-migrate",
    "run_migrations",
    default=None,
    help="Upgrade the schema before serving (env MIGRATE_ON_START, default true).",
)
@click.option(
    "--embedded-worker/--no-embedded-worker",
    default=None,
    help="Work analysis runs in the web workers too (env AGENT_EMBEDDED_WORKER: auto, true "
    "or false; auto: when REDIS_URL is unset).",
)
@fail_cleanly
def web(run_migrations: bool | None, embedded_worker: bool | None) -> None:
    """Serve the web interface and JSON API under gunicorn on 0.0.0.0:$PORT."""
    if run_migrations is None:
        run_migrations = env_flag("MIGRATE_ON_START", default=True)
    if embedded_worker is None:
        embedded_worker = embedded_worker_choice()
    settings = current_settings()  # a bad setting is one line here, not one per worker
    if embedded_worker is None:  # auto: Redis configured means separate worker containers
        embedded_worker = settings.redis_url is None
    if run_migrations:
        database = open_database(settings)
        migrate.upgrade(database.engine)  # once, in the master, before any worker forks
        database.dispose()  # no connection may cross the fork
    from paissive_income.web.gunicorn_app import WebApplication

    WebApplication(embedded_worker=embedded_worker).run()


def env_flag(name: str, *, default: bool) -> bool:
    """Read a true/false variable, or raise ConfigError naming it."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS or raw in FALSE_WORDS:
        return raw in TRUE_WORDS
    raise ConfigError(f"{name}: must be true or false (got {os.environ[name]!r})")


def embedded_worker_choice() -> bool | None:
    """Return AGENT_EMBEDDED_WORKER as true, false or None for ``auto`` (the default)."""
    raw = os.environ.get("AGENT_EMBEDDED_WORKER", "").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw in TRUE_WORDS or raw in FALSE_WORDS:
        return raw in TRUE_WORDS
    raise ConfigError(
        f"AGENT_EMBEDDED_WORKER: must be auto, true or false "
        f"(got {os.environ['AGENT_EMBEDDED_WORKER']!r})"
    )
