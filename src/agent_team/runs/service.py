"""Run operations for users: always scoped to the project's owner; explicit sessions."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent_team.agents.base import Brief
from agent_team.assumptions import AssumptionError
from agent_team.pipeline import load_artifacts
from agent_team.plan import STAGE_ORDER, Plan, compute_plan
from agent_team.runs.models import FINISHED, AssumptionOverride, Run, RunArtifact, RunStatus
from paissive_income.db.base import utcnow
from paissive_income.projects.models import Project

# The API's rule for a model name, held here too: the CLI and library callers skip the API.
MODEL_NAME = re.compile(r"[^\s\x00-\x1f\x7f\ud800-\udfff]{1,200}")
RESUMABLE = (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.BUDGET_EXCEEDED)


class RunNotFound(LookupError):
    """No run (or project) with that id belongs to this user."""


class RunStateError(ValueError):
    """The run cannot do that now (e.g. cancel a finished run); the message says why."""


class RunInputError(ValueError):
    """The input of a run is invalid; ``field`` names it."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def _owned_project(session: Session, owner_id: int, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None or project.owner_id != owner_id:
        raise RunNotFound(f"project {project_id}")
    return project


def create_run(
    session: Session,
    *,
    owner_id: int,
    project_id: int,
    model: str,
    segments: list[str] | None = None,
    niche_index: int | None = None,
    token_cap: int | None = None,
) -> Run:
    """Queue a run of the owner's project on ``model`` (segments default to the project's)."""
    project = _owned_project(session, owner_id, project_id)
    if not MODEL_NAME.fullmatch(model):
        raise RunInputError(
            "the model name must be 1 to 200 characters with no spaces or control characters",
            field="model",
        )
    chosen = list(project.market_segments) if segments is None else segments
    unknown = [segment for segment in chosen if segment not in project.market_segments]
    if unknown:
        raise RunInputError(f"not a segment of this project: {unknown[0]!r}", field="segments")
    try:
        Brief(segments=tuple(chosen), notes=project.notes or "")
    except ValueError:
        raise RunInputError(
            "a run needs 1 to 20 market segments and notes of at most 10,000 characters",
            field="segments",
        ) from None
    run = Run(
        project_id=project.id,
        model=model,
        segments=chosen,
        notes=project.notes or "",
        niche_index=niche_index,
        token_cap=token_cap,
        status=RunStatus.QUEUED,
    )
    session.add(run)
    session.commit()
    return run


def get_run(session: Session, *, owner_id: int, run_id: int) -> Run:
    """Return the owner's run or raise RunNotFound."""
    run = session.scalar(
        select(Run).join(Project).where(Run.id == run_id, Project.owner_id == owner_id)
    )
    if run is None:
        raise RunNotFound(f"run {run_id}")
    return run


def list_runs(
    session: Session,
    *,
    owner_id: int,
    project_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Run], int]:
    """Return a page of the owner's runs (of one project if given), newest first, and the total."""
    query = select(Run).join(Project).where(Project.owner_id == owner_id)
    if project_id is not None:
        query = query.where(Run.project_id == project_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Run.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(page)), total


def cancel_run(session: Session, *, owner_id: int, run_id: int) -> Run:
    """Cancel a queued run now, or ask a running one to stop before its next model call."""
    run = get_run(session, owner_id=owner_id, run_id=run_id)
    # Conditional UPDATEs, not read-then-write: a worker may claim or finish the run between a
    # read and a write, and a blind write would mark a working run cancelled (or a finished one
    # queued) with nobody left to end it.
    queued = _transition(
        session,
        run,
        (RunStatus.QUEUED,),
        status=RunStatus.CANCELLED,
        cancel_requested=True,
        finished_at=utcnow(),
    )
    if not queued and not _transition(session, run, (RunStatus.RUNNING,), cancel_requested=True):
        session.rollback()
        session.refresh(run)
        raise RunStateError(f"the run has already finished ({run.status.value})")
    session.commit()
    session.refresh(run)
    return run


def resume_run(session: Session, *, owner_id: int, run_id: int) -> Run:
    """Queue a failed, cancelled or over-budget run again; finished stages are kept."""
    run = get_run(session, owner_id=owner_id, run_id=run_id)
    if not _transition(session, run, RESUMABLE, **REQUEUED):
        session.rollback()
        session.refresh(run)
        raise RunStateError(
            f"only a failed, cancelled or over-budget run resumes ({run.status.value})"
        )
    session.commit()
    session.refresh(run)
    return run


def rerun_from(session: Session, *, owner_id: int, run_id: int, stage: str) -> Run:
    """Drop the artifacts from ``stage`` on and queue the run to make them again."""
    if stage not in STAGE_ORDER:
        raise RunInputError(f"unknown stage {stage!r}", field="stage")
    run = get_run(session, owner_id=owner_id, run_id=run_id)
    return _rerun(session, run, stage)


def choose_niche(session: Session, *, owner_id: int, run_id: int, niche_index: int) -> Run:
    """Design for another researched niche: re-run every stage after research."""
    plan = run_plan(session, owner_id=owner_id, run_id=run_id)
    if not any(niche.index == niche_index for niche in plan.niches):
        raise RunInputError(f"no niche {niche_index} in this run", field="niche_index")
    run = get_run(session, owner_id=owner_id, run_id=run_id)
    return _rerun(session, run, "solution", niche_index=niche_index)


def _rerun(session: Session, run: Run, stage: str, **values) -> Run:
    """Queue a finished run again (one atomic step) and drop its artifacts from ``stage`` on."""
    # The status changes first, in the same transaction as the delete: the UPDATE locks the row,
    # so of concurrent re-runs exactly one deletes and queues, and no worker can be saving a
    # stage in between (a run that is queued or running is refused).
    if not _transition(session, run, FINISHED, **REQUEUED, **values):
        session.rollback()
        raise RunStateError("the run is still working; cancel it first")
    later = STAGE_ORDER[STAGE_ORDER.index(stage) :]
    session.execute(
        delete(RunArtifact).where(RunArtifact.run_id == run.id, RunArtifact.stage.in_(later))
    )
    session.commit()
    session.refresh(run)
    return run


REQUEUED = {
    "status": RunStatus.QUEUED,
    "cancel_requested": False,
    "error": None,
    "finished_at": None,
}


def _transition(session: Session, run: Run, allowed, **values) -> bool:
    """Set ``values`` on the run only if its status is one of ``allowed``; say whether it was."""
    result = session.execute(
        update(Run)
        .where(Run.id == run.id, Run.status.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def run_plan(session: Session, *, owner_id: int, run_id: int) -> Plan:
    """Compute the run's plan from its artifacts and stored overrides; no model call."""
    run = get_run(session, owner_id=owner_id, run_id=run_id)
    return _plan(session, run, stored_overrides(session, run.id), strict=False)


def _plan(session: Session, run: Run, overrides: Mapping[str, float], *, strict: bool) -> Plan:
    artifacts = load_artifacts(stored_artifacts(session, run.id))
    if "research" not in artifacts:
        raise RunStateError("the run has no plan yet: its research stage has not finished")
    return compute_plan(
        brief=brief_of(run),
        artifacts=artifacts,
        overrides=overrides,
        niche_index=run.niche_index,
        strict=strict,
    )


def set_overrides(
    session: Session, *, owner_id: int, run_id: int, overrides: Mapping[str, float | None]
) -> Plan:
    """Store the user's values (None resets one to the model's) and return the recomputed plan."""
    values = {key: value for key, value in overrides.items() if value is not None}
    for key, value in values.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise RunInputError(f"{key}: the value must be a finite number", field=key)
    run = get_run(session, owner_id=owner_id, run_id=run_id)
    try:
        _plan(session, run, values, strict=True)  # every new value against its bounds
    except AssumptionError as exc:
        raise RunInputError(str(exc), field=str(exc).split(":")[0]) from None
    resets = [key for key, value in overrides.items() if value is None]
    if resets:
        session.execute(
            delete(AssumptionOverride).where(
                AssumptionOverride.run_id == run.id, AssumptionOverride.key.in_(resets)
            )
        )
    for key, value in values.items():
        _upsert_override(session, run.id, key, float(value))
    session.commit()
    return run_plan(session, owner_id=owner_id, run_id=run_id)


def _upsert_override(session: Session, run_id: int, key: str, value: float) -> None:
    """Write one override; a concurrent insert of the same key turns into an update."""
    for _ in range(3):
        row = session.scalar(
            select(AssumptionOverride).where(
                AssumptionOverride.run_id == run_id, AssumptionOverride.key == key
            )
        )
        if row is not None:
            row.value = value
            return
        try:
            with session.begin_nested():
                session.add(AssumptionOverride(run_id=run_id, key=key, value=value))
            return
        except IntegrityError:
            continue  # another request inserted it first: read it and update it
    raise RunStateError(f"{key}: could not store the override, try again")


def brief_of(run: Run) -> Brief:
    """Return the brief a run was started with."""
    return Brief(segments=tuple(run.segments), notes=run.notes or "")


def stored_artifacts(session: Session, run_id: int) -> dict[str, dict]:
    """Return the run's artifacts by stage."""
    rows = session.scalars(select(RunArtifact).where(RunArtifact.run_id == run_id))
    return {row.stage: row.data for row in rows}


def stored_overrides(session: Session, run_id: int) -> dict[str, float]:
    """Return the run's overrides by key."""
    rows = session.scalars(select(AssumptionOverride).where(AssumptionOverride.run_id == run_id))
    return {row.key: row.value for row in rows}
