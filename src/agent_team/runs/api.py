"""``/api/v1`` runs: start, list, get, plan, assumption overrides, niche choice, cancel, resume."""

from __future__ import annotations

from flask import current_app, g

from agent_team.plan import Plan
from agent_team.runs import events, service
from agent_team.runs.schemas import (
    EventList,
    EventOut,
    NicheChoice,
    OverridesIn,
    RerunIn,
    RunIn,
    RunList,
    RunOut,
)
from agent_team.team import AgentTeam
from paissive_income.api import api_v1
from paissive_income.api.auth import token_required
from paissive_income.api.body import parse_body
from paissive_income.api.errors import error_response
from paissive_income.api.query import INVALID, PAGING, number_arg, paging
from paissive_income.api.spec import operation
from paissive_income.context import db_session
from paissive_income.db.base import MAX_INTEGER_ID

TAG = "runs"


def team() -> AgentTeam:
    """Return the app's Agent Team Service."""
    return current_app.extensions["agent_team"]


@api_v1.errorhandler(service.RunNotFound)
def _not_found(exc: service.RunNotFound):
    return error_response(404, "not_found", f"{str(exc).capitalize()} was not found.")


@api_v1.errorhandler(service.RunStateError)
def _conflict(exc: service.RunStateError):
    return error_response(409, "conflict", str(exc).capitalize() + ".")


@api_v1.errorhandler(service.RunInputError)
def _invalid(exc: service.RunInputError):
    return error_response(422, "invalid", str(exc), [{"field": exc.field, "message": str(exc)}])


def _run(run) -> dict:
    return RunOut.model_validate(run).model_dump(mode="json")


@operation(
    api_v1,
    "/projects/<int:project_id>/runs",
    "POST",
    summary="Start an analysis run of a project",
    tag=TAG,
    body=RunIn,
    response=RunOut,
    status=202,
    errors=(400, 404, 422),
)
@token_required
def start_run(project_id: int):
    """Queue a run of one of the caller's projects."""
    data = parse_body(RunIn)
    run = team().start_run(
        db_session(),
        owner_id=g.api_user.id,
        project_id=project_id,
        model=data.model,
        segments=data.segments,
        niche_index=data.niche_index,
    )
    return _run(run), 202


@operation(
    api_v1,
    "/runs",
    "GET",
    summary="List your runs",
    tag=TAG,
    response=RunList,
    errors=(400,),
    query={**PAGING, "project_id": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER_ID}},
)
@token_required
def list_runs():
    """Return a page of the caller's runs, newest first (of one project with ``project_id``)."""
    page = paging()
    project_id = number_arg("project_id", None, low=1, high=MAX_INTEGER_ID)
    if page is None or project_id is INVALID:
        return error_response(
            400, "bad_request", "limit must be 1-100, offset 0 or more, project_id a valid id."
        )
    items, total = service.list_runs(
        db_session(), owner_id=g.api_user.id, project_id=project_id, limit=page[0], offset=page[1]
    )
    return RunList(items=[RunOut.model_validate(r) for r in items], total=total).model_dump(
        mode="json"
    )


@operation(
    api_v1,
    "/runs/<int:run_id>",
    "GET",
    summary="Get a run",
    tag=TAG,
    response=RunOut,
    errors=(404,),
)
@token_required
def get_run(run_id: int):
    """Return one of the caller's runs with its status, progress and usage."""
    return _run(service.get_run(db_session(), owner_id=g.api_user.id, run_id=run_id))


@operation(
    api_v1,
    "/runs/<int:run_id>/plan",
    "GET",
    summary="Get a run's plan",
    tag=TAG,
    response=Plan,
    errors=(404, 409),
)
@token_required
def get_plan(run_id: int):
    """Return the plan computed from the run's stages so far and the caller's overrides."""
    plan = service.run_plan(db_session(), owner_id=g.api_user.id, run_id=run_id)
    return plan.model_dump(mode="json")


@operation(
    api_v1,
    "/runs/<int:run_id>/assumptions",
    "PATCH",
    summary="Override assumptions",
    tag=TAG,
    body=OverridesIn,
    response=Plan,
    errors=(400, 404, 409, 422),
)
@token_required
def override_assumptions(run_id: int):
    """Set (or, with null, reset) assumption values; return the plan recomputed without a model."""
    data = parse_body(OverridesIn)
    plan = service.set_overrides(
        db_session(), owner_id=g.api_user.id, run_id=run_id, overrides=data.overrides
    )
    return plan.model_dump(mode="json")


@operation(
    api_v1,
    "/runs/<int:run_id>/niche",
    "POST",
    summary="Choose another niche",
    tag=TAG,
    body=NicheChoice,
    response=RunOut,
    status=202,
    errors=(400, 404, 409, 422),
)
@token_required
def choose_niche(run_id: int):
    """Re-run the stages after research for another researched niche."""
    data = parse_body(NicheChoice)
    run = team().choose_niche(
        db_session(), owner_id=g.api_user.id, run_id=run_id, niche=data.niche_index
    )
    return _run(run), 202


@operation(
    api_v1,
    "/runs/<int:run_id>/rerun",
    "POST",
    summary="Re-run from a stage",
    tag=TAG,
    body=RerunIn,
    response=RunOut,
    status=202,
    errors=(400, 404, 409, 422),
)
@token_required
def rerun(run_id: int):
    """Make the stages from ``stage`` on again (the user's overrides are kept)."""
    data = parse_body(RerunIn)
    run = team().rerun_from(db_session(), owner_id=g.api_user.id, run_id=run_id, stage=data.stage)
    return _run(run), 202


@operation(
    api_v1,
    "/runs/<int:run_id>/cancel",
    "POST",
    summary="Cancel a run",
    tag=TAG,
    response=RunOut,
    errors=(404, 409),
)
@token_required
def cancel_run(run_id: int):
    """Cancel a queued run, or stop a running one before its next model call."""
    return _run(service.cancel_run(db_session(), owner_id=g.api_user.id, run_id=run_id))


@operation(
    api_v1,
    "/runs/<int:run_id>/resume",
    "POST",
    summary="Resume a run",
    tag=TAG,
    response=RunOut,
    status=202,
    errors=(404, 409),
)
@token_required
def resume_run(run_id: int):
    """Queue a failed, cancelled or over-budget run again from its last finished stage."""
    return _run(team().resume(db_session(), owner_id=g.api_user.id, run_id=run_id)), 202


@operation(
    api_v1,
    "/runs/<int:run_id>/events",
    "GET",
    summary="A run's events",
    tag=TAG,
    response=EventList,
    errors=(400, 404),
    query={"after": {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER_ID, "default": 0}},
)
@token_required
def run_events(run_id: int):
    """Return the run's events after the id ``after`` (poll, or stream them from the web)."""
    after = number_arg("after", 0, low=0, high=MAX_INTEGER_ID)
    if after is INVALID:
        return error_response(400, "bad_request", "after must be an event id (0 or more).")
    run = service.get_run(db_session(), owner_id=g.api_user.id, run_id=run_id)
    items = events.events_since(db_session(), run_id=run.id, after_id=after)
    return EventList(items=[EventOut.model_validate(e) for e in items]).model_dump(mode="json")
