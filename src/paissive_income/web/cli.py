"""``paissive-income serve``: run the web interface the way ``python run_ui.py`` does."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import click

from paissive_income.cli_support import current_settings, fail_cleanly, open_database
from paissive_income.db import migrate

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
    with _signals_kept():
        team.queue.consume(workers=team.settings.workers, block=False)
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    click.echo(
        f"pAIssive Income is running at http://{shown_host}:{settings.port}/ (Ctrl+C to stop)"
    )
    app.run(host=settings.host, port=settings.port, debug=False, use_reloader=False, threaded=True)


@contextmanager
def _signals_kept() -> Iterator[None]:
    """Restore the SIGINT, SIGTERM and SIGHUP handlers after the block.

    huey's non-blocking ``Consumer.start()`` takes these signals for a loop that only its
    blocking ``run()`` drives: Ctrl+C and ``docker stop`` would then be ignored. The web server
    keeps them; the job threads are daemons and stop with the process (the sweeper resumes runs).
    """
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    previous = {sig: signal.getsignal(sig) for n in names if (sig := getattr(signal, n, None))}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@click.command()
@click.option("--host", default=None, help="Address to listen on (env HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (env PORT, default 5000).")
@fail_cleanly
def serve(host: str | None, port: int | None) -> None:
    """Serve the web interface (SQLite and local cache unless configured otherwise)."""
    prepare_and_run(host, port)
