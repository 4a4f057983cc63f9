"""HTML pages of runs: a project with its runs, starting a run, and watching one live (SSE)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import func, select
from wtforms import SelectMultipleField, StringField, widgets
from wtforms.validators import Length, ValidationError

from agent_team.plan import STAGE_ORDER
from agent_team.runs import events, service
from agent_team.runs.models import FINISHED, Run, RunEvent, RunStatus
from agent_team.runs.stream import BUSY_RETRY_MS, RETRY_MS, StreamSlots, sse_events
from paissive_income.context import db_session, services
from paissive_income.db.base import MAX_INTEGER_ID
from paissive_income.forms import ActionForm, SafeForm
from paissive_income.projects.models import Project

bp = Blueprint("runs", __name__)

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0
# One stream ends after this long and the browser reconnects with Last-Event-ID: a proxy's read
# timeout never cuts a stream, and the stream's thread is handed back now and then.
STREAM_SECONDS = 50.0


class RunForm(SafeForm):
    """Start an analysis: which model, and which of the project's segments."""

    model = StringField(
        "Model",
        validators=[Length(max=200)],
        description="Leave empty for the default model.",
    )
    segments = SelectMultipleField(
        "Segments to include",
        choices=[],
        validate_choice=False,  # the service checks them, in the product's words
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )

    def validate_segments(self, field) -> None:
        if not field.data:
            raise ValidationError("Choose at least one segment to analyse.")


def _team():
    return current_app.extensions["agent_team"]


def _project(project_id: int) -> Project:
    project = db_session().get(Project, project_id)
    if project is None or project.owner_id != current_user.id:
        abort(404)
    return project


def _run(run_id: int) -> Run:
    try:
        return service.get_run(db_session(), owner_id=current_user.id, run_id=run_id)
    except service.RunNotFound:
        abort(404)


def _run_form(project: Project) -> RunForm:
    form = RunForm()
    form.segments.choices = [(s, s) for s in project.market_segments]
    default = _team().settings.model_for("research")
    form.model.description = f"Leave empty for the default model ({default})."
    if not form.is_submitted():
        form.segments.data = list(project.market_segments)
    return form


@bp.route("/projects/<int:project_id>", methods=["GET", "POST"])
@login_required
def project(project_id: int):
    """Show a project with its runs; the form starts a run and goes to its page."""
    project = _project(project_id)
    form = _run_form(project)
    if form.validate_on_submit():
        try:
            run = _team().start_run(
                db_session(),
                owner_id=current_user.id,
                project_id=project.id,
                model=(form.model.data or "").strip() or None,
                segments=form.segments.data,
            )
        except service.RunInputError as exc:
            field = getattr(form, exc.field, form.segments)
            field.errors = [*field.errors, str(exc).capitalize() + "."]
        else:
            return redirect(url_for("runs.run", run_id=run.id))
    runs, total = service.list_runs(db_session(), owner_id=current_user.id, project_id=project.id)
    page = render_template("runs/project.html", project=project, runs=runs, total=total, form=form)
    return page, 400 if form.errors else 200


def _stages(run: Run, done: set[str]) -> list[dict]:
    """Return each stage with its state and seconds, as the page first shows them."""
    session = db_session()
    rows = []
    for stage in STAGE_ORDER:
        started = None
        if stage in done:
            state = "done"
        elif stage == run.stage and run.status == RunStatus.RUNNING:
            state = "running"
            started = events.stage_started_at(session, run_id=run.id, stage=stage)
        elif stage == run.stage and run.status in service.RESUMABLE:
            state = run.status.value
        else:
            state = "waiting"
        seconds = run.stage_seconds.get(stage) if stage in done else None
        rows.append({"name": stage, "state": state, "seconds": seconds, "started": started})
    return rows


@bp.get("/runs/<int:run_id>")
@login_required
def run(run_id: int):
    """Show a run: its stages live while it works, its error or its plan summary when done."""
    run = _run(run_id)
    session = db_session()
    project = session.get(Project, run.project_id)
    done = set(service.stored_artifacts(session, run.id))
    plan = None
    if run.status in FINISHED and "research" in done:
        plan = service.run_plan(session, owner_id=current_user.id, run_id=run.id)
    last = session.scalar(select(func.max(RunEvent.id)).where(RunEvent.run_id == run.id))
    return render_template(
        "runs/run.html",
        run=run,
        project=project,
        stages=_stages(run, done),
        plan=plan,
        finished=run.status in FINISHED,
        resumable=run.status in service.RESUMABLE,
        last_event_id=last or 0,
        form=ActionForm(),
    )


@bp.post("/runs/<int:run_id>/cancel")
@login_required
def cancel(run_id: int):
    """Cancel a queued run, or ask a running one to stop before its next model call."""
    return _act(run_id, service.cancel_run, "Cancelling the run.")


@bp.post("/runs/<int:run_id>/resume")
@login_required
def resume(run_id: int):
    """Queue a failed or cancelled run again from its last finished stage."""
    return _act(run_id, _team().resume, "The run is queued again; finished stages are kept.")


def _act(run_id: int, action, message: str):
    # The app-wide CSRFProtect has checked the token before this view runs.
    try:
        action(db_session(), owner_id=current_user.id, run_id=run_id)
    except service.RunNotFound:
        abort(404)
    except service.RunStateError as exc:
        flash(str(exc).capitalize() + ".", "error")
    else:
        flash(message, "success")
    return redirect(url_for("runs.run", run_id=run_id))


@bp.get("/runs/<int:run_id>/events")
@login_required
def stream(run_id: int):
    """Stream the run's events as server-sent events until the run finishes."""
    run = _run(run_id)
    after = _event_id(request.headers.get("Last-Event-ID") or request.args.get("after"))
    if after is None:
        abort(400)
    db_session().rollback()  # hold no connection while streaming; each poll opens its own
    config = current_app.config
    slots = current_app.extensions.setdefault("run_streams", StreamSlots())
    live = slots.take(config.get("RUN_EVENTS_MAX_STREAMS"))
    # Without a free slot (the worker's threads are kept for pages): one poll, and the browser
    # comes back later for the rest, with Last-Event-ID.
    body = sse_events(
        services().database,
        run.id,
        after,
        poll=config.get("RUN_EVENTS_POLL_SECONDS", POLL_SECONDS),
        heartbeat=config.get("RUN_EVENTS_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS),
        limit=config.get("RUN_EVENTS_STREAM_SECONDS", STREAM_SECONDS) if live else 0.0,
        retry_ms=RETRY_MS if live else BUSY_RETRY_MS,
        stopping=config.get("RUN_EVENTS_STOPPING"),  # set by the gunicorn settings
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    response = Response(body, mimetype="text/event-stream", headers=headers)
    if live:
        response.call_on_close(slots.give_back)  # also when the client leaves mid-stream
    return response


def _event_id(text: str | None) -> int | None:
    """Return an event id from a header or query (0 when absent), or None when malformed."""
    if text is None or text == "":
        return 0
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        return None
    number = int(text)
    return number if number <= MAX_INTEGER_ID else None  # beyond any id: the database refuses
