"""``paissive-income run`` (one plan in the foreground) and ``paissive-income worker`` (jobs)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
from sqlalchemy import select
from tqdm import tqdm

from agent_team.config import load_agent_settings
from agent_team.plan import STAGE_ORDER
from agent_team.render import plan_markdown
from agent_team.runs import service
from agent_team.runs.health_server import ConsumerState, HealthServer, WorkerCollector
from agent_team.runs.metrics import worker_collectors
from agent_team.runs.models import Run, RunStatus
from agent_team.team import build_team
from paissive_income.auth.models import Role, User
from paissive_income.cache import create_cache
from paissive_income.cli_support import current_settings, fail_cleanly, open_database
from paissive_income.config import ConfigError
from paissive_income.db import migrate
from paissive_income.db.base import MAX_INTEGER_ID
from paissive_income.observability.logging import configure_logging
from paissive_income.projects.models import Project
from paissive_income.projects.schemas import ProjectIn

LOCAL_OWNER = "local@paissive.invalid"
DEFAULT_HEALTH_PORT = 8001


@click.command()
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Runs worked at once.")
@click.option(
    "--health-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of /healthz, /readyz and /metrics on 0.0.0.0 (env WORKER_HEALTH_PORT, "
    "default 8001; 0: none).",
)
@fail_cleanly
def worker(workers: int | None, health_port: int | None) -> None:
    """Work queued analysis runs until stopped (SIGTERM: runs end their stage, then requeue)."""
    if health_port is None:
        health_port = _health_port_from_env()
    settings = current_settings()
    configure_logging(settings.log_level)  # JSON lines, as the web and the model server write
    database = open_database(settings)
    team = build_team(
        settings,
        database,
        create_cache(redis_url=settings.redis_url, directory=settings.cache_path),
        agent_settings=load_agent_settings(),
    )
    state = ConsumerState()
    health = _start_health_server(health_port, database, team.queue.huey, state)
    click.echo("agent-team worker: waiting for jobs", err=True)
    try:
        # TERM is graceful: docker stop and Kubernetes let each run end the stage it is in; it
        # then goes back on the queue (another worker resumes it) and the process exits 0. A
        # second TERM, or INT, stops at once; a cut-off run is resumed by the next sweep.
        team.queue.consume(
            workers=workers or team.settings.workers,
            block=True,
            graceful_signal="TERM",
            on_start=state.started,
        )
    finally:
        if health is not None:
            health.stop()


def _health_port_from_env() -> int:
    """Read WORKER_HEALTH_PORT (default 8001), or raise ConfigError naming it."""
    raw = os.environ.get("WORKER_HEALTH_PORT", "").strip()
    if not raw:
        return DEFAULT_HEALTH_PORT
    if not (raw.isascii() and raw.isdigit() and int(raw) <= 65535):
        raise ConfigError(f"WORKER_HEALTH_PORT: must be a port number 0-65535 (got {raw!r})")
    return int(raw)


def _start_health_server(port: int, database, huey, state: ConsumerState) -> HealthServer | None:
    """Serve the worker's probes and metrics on ``port`` (None when 0)."""
    if port == 0:
        return None
    checks = {
        "database": database.check_connection,
        "queue": huey.storage.queue_size,  # Redis answers LLEN, SQLite a count
        "consumer": state.check,
    }
    try:
        server = HealthServer(
            host="0.0.0.0",
            port=port,
            checks=checks,
            # The worker's own gauge, then the agent team's metrics and readiness as gauges.
            collectors=[WorkerCollector(state), *worker_collectors(database, None, checks)],
        )
    except OSError as exc:
        raise click.ClickException(
            f"--health-port {port}: cannot listen ({exc.strerror or exc})"
        ) from None
    return server.start()


@click.command(name="run")
@click.argument("segment", required=False)
@click.option("--segment", "extra", multiple=True, help="Another market segment (repeatable).")
@click.option("--notes", default="", help="Your notes: skills, budget, income goal.")
@click.option("--model", default=None, help="Model for every agent (default: AGENT_MODEL).")
@click.option("--niche", type=click.IntRange(0, 7), default=None, help="Design for niche N.")
@click.option(
    "--resume",
    "resume_id",
    type=click.IntRange(1, MAX_INTEGER_ID),
    default=None,
    help="Resume run ID.",
)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@fail_cleanly
def run(segment, extra, notes, model, niche, resume_id, fmt, out) -> None:
    """Turn a market segment into a plan in the foreground and write it to --out."""
    _check_writable(out)  # before the run: a plan that cannot be written wastes its model calls
    if resume_id is not None and (segment or extra or notes or model or niche is not None):
        # A resumed run keeps the brief it started with; ignoring these would mislead.
        raise click.UsageError("--resume takes no segment, --segment, --notes, --model or --niche")
    settings = current_settings()
    database = open_database(settings)
    migrate.upgrade(database.engine)
    cache = create_cache(redis_url=settings.redis_url, directory=settings.cache_path)
    # In the foreground a model server that is not up is reported at once (the user is
    # watching); AGENT_MODEL_WAIT_SECONDS still applies when set.
    team = build_team(
        settings, database, cache, agent_settings=load_agent_settings(), model_wait_seconds=0
    )
    with database.session() as session:
        owner_id = _local_owner(session)
        try:
            if resume_id is not None:
                run_row = service.resume_run(session, owner_id=owner_id, run_id=resume_id)
            else:
                run_row = _new_run(session, owner_id, segment, extra, notes, model, niche, team)
        except (service.RunInputError, service.RunStateError, service.RunNotFound) as exc:
            raise click.UsageError(str(exc)) from None
        run_id = run_row.id
    click.echo(f"run {run_id}: model {run_row.model}", err=True)
    status = _work_with_progress(team, database, run_id)
    with database.session() as session:
        finished = session.get(Run, run_id)
        if status != RunStatus.SUCCEEDED.value:
            hint = f"; resume with --resume {run_id}" if status != "skipped" else ""
            raise click.ClickException(f"run {run_id} {status}: {finished.error or ''}{hint}")
        plan = service.run_plan(session, owner_id=owner_id, run_id=run_id)
    text = plan.model_dump_json(indent=2) if fmt == "json" else plan_markdown(plan)
    _write_atomically(out, text)
    click.echo(
        f"plan written to {out} ({finished.prompt_tokens + finished.completion_tokens} tokens)"
    )


def _new_run(session, owner_id, segment, extra, notes, model, niche, team) -> Run:
    segments = [s for s in (segment, *extra) if s]
    if not segments:
        raise click.UsageError(
            'give a market segment, e.g. paissive-income run "freelance translators"'
        )
    try:
        data = ProjectIn(name=segments[0][:120], market_segments=segments, notes=notes)
    except ValueError as exc:
        raise click.UsageError(_first_error(exc)) from None
    project = Project(owner_id=owner_id, **data.model_dump())
    session.add(project)
    session.flush()  # committed with the run: a refused run leaves no project behind
    return service.create_run(
        session,
        owner_id=owner_id,
        project_id=project.id,
        model=model or team.settings.model_for("research"),
        niche_index=niche,
        token_cap=team.settings.run_token_cap,
    )


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        # The project's name is made from the first segment: name the segment, not the name.
        found = sorted(errors(), key=lambda error: error["loc"][:1] == ("name",))
        error = found[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{'market_segments' if where == 'name' else where}: {error['msg']}"
    return str(exc)


def _local_owner(session) -> int:
    """Return the account CLI runs belong to: the first admin, else a local one (no login)."""
    admin = session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id).limit(1))
    if admin is not None:
        return admin.id
    local = session.scalar(select(User).where(User.email == LOCAL_OWNER))
    if local is None:
        local = User(email=LOCAL_OWNER, password_hash="!", role=Role.MEMBER, disabled=True)
        session.add(local)
        session.commit()
    return local.id


def _work_with_progress(team, database, run_id: int) -> str:
    """Work the run here, showing a bar per stage; Ctrl-C leaves it resumable."""
    bar = tqdm(total=len(STAGE_ORDER), unit="stage", desc="research", leave=True)
    executor = team.queue.executor

    def show(kind: str, stage: str, detail: dict) -> None:
        if kind in ("stage_finished", "stage_skipped"):
            bar.update(1)
        bar.set_description(stage)

    executor.listeners.append(show)
    try:
        return executor.execute(run_id)
    except KeyboardInterrupt:
        with database.session() as session:
            row = session.get(Run, run_id)
            row.status, row.error = RunStatus.CANCELLED, "interrupted (Ctrl-C)"
            session.commit()
        raise click.ClickException(f"interrupted; resume with --resume {run_id}") from None
    finally:
        bar.close()


def _check_writable(path: Path) -> None:
    """Refuse an --out whose folder is missing or not writable, or that is a folder."""
    folder = path.parent
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(
            f"{path}: not a file in an existing folder you can write to", param_hint="--out"
        )


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a failure leaves no half file."""
    # A unique name (two runs may write into one folder) that is removed on any failure.
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text if text.endswith("\n") else text + "\n")
        mask = os.umask(0)  # mkstemp makes the file private; a plan gets the usual mode
        os.umask(mask)
        os.chmod(name, 0o666 & ~mask)
        os.replace(name, path)
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        raise click.ClickException(f"cannot write the plan to {path}: {exc.strerror}") from None
