"""HTML pages of a plan: its tabs, choosing another niche, comparing, exports, the sample plan."""

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
from markupsafe import Markup

from agent_team.plan import Plan
from agent_team.plan.panels import panel_context
from agent_team.plan.sample import sample_plan
from agent_team.render import plan_markdown
from agent_team.runs import service
from agent_team.runs.models import FINISHED, Run
from agent_team.runs.plan_compare import (
    CompareQueryError,
    Side,
    compare_column,
    has_niche,
    parse_side,
)
from paissive_income.context import db_session
from paissive_income.projects.models import Project

bp = Blueprint("plan", __name__)

TABS = (
    ("summary", "Summary"),
    ("niches", "Niches"),
    ("solution", "Solution"),
    ("monetization", "Monetization"),
    ("marketing", "Marketing"),
    ("assumptions", "Assumptions"),
)
FACTORS = {
    "problem_opportunity": ("Problem opportunity", "{:.1f} of 19 (Ulwick)"),
    "market_size": ("Market size (SOM)", "${:,.0f} a year"),
    "competition": ("Competition", "intensity {:g} of 10"),
    "growth": ("Market growth", "{:+.0%} a year"),
    "solo_feasibility": ("Solo feasibility", "{:g} of 10"),
}
STAGE_LABELS = {
    "solution": "Solution design",
    "monetization": "Monetization",
    "marketing": "Marketing",
}


def plan_context(run: Run | None, plan: Plan, *, readonly: bool = False) -> dict:
    """Return everything the plan templates show: the plan, display rows and the URLs."""
    run_id = run.id if run is not None else None
    context = {
        "plan": plan,
        "run": run,
        "readonly": readonly or run is None,
        "tabs": [{"id": tab, "label": label} for tab, label in TABS],
        "stage_labels": STAGE_LABELS,
        "chosen": next(n for n in plan.niches if n.index == plan.chosen_niche),
        "niche_rows": [_niche_row(niche, plan.chosen_niche) for niche in plan.niches],
        "channel_rows": _channel_rows(plan),
        "exports": _exports(run_id),
        "compare_url": url_for("plan.compare", a=run_id) if run_id else None,
        "pending_note": _pending_note(run),
        "mvp": _mvp(plan),
    }
    # H2 (monetization and assumptions): add keys the money and assumption panels need below.
    context.update(panel_context(plan))  # assumption_groups, money (chart, table, reading)
    return context


def _pending_note(run: Run | None) -> str:
    """Return what the user can do about a stage that has not run."""
    if run is not None and run.status in service.RESUMABLE:
        return "The run stopped before it; resume the run to make it."
    if run is not None and run.status not in FINISHED:
        return "The run is working on it."
    return ""


def _mvp(plan: Plan) -> dict | None:
    """Return the MVP's features and the effort budget they were cut to."""
    if plan.solution is None:
        return None
    budget = next(
        (a.value for a in plan.assumptions if a.key == "solution.mvp_effort_budget"), None
    )
    features = [feature for feature in plan.solution.features if feature.in_mvp]
    return {"features": features, "effort": plan.solution.mvp_effort, "budget": budget}


def _niche_row(niche, chosen: int) -> dict:
    """Return a niche with a bar per factor of its score (width: share of that factor's most)."""
    bars = []
    for factor in niche.score.factors:
        label, shown = FACTORS.get(factor.factor, (factor.factor, "{:g}"))
        bars.append(
            {
                "key": factor.factor,
                "label": label,
                "value": shown.format(factor.value),
                "points": factor.points,
                "most": factor.weight * 100,
                "width": round(factor.normalised * 100, 1),
            }
        )
    return {"niche": niche, "chosen": niche.index == chosen, "bars": bars}


def _channel_rows(plan: Plan) -> list[dict]:
    """Return the marketing channels with each one's share of the budget in percent."""
    if plan.marketing is None:
        return []
    budget = plan.marketing.monthly_budget
    return [
        {**channel, "share": round(100 * channel["monthly_budget"] / budget, 1) if budget else 0}
        for channel in plan.marketing.channels
    ]


def _exports(run_id: int | None) -> dict:
    if run_id is None:
        return {"markdown": url_for("plan.sample_markdown"), "json": url_for("plan.sample_json")}
    return {
        "markdown": url_for("plan.export_markdown", run_id=run_id),
        "json": url_for("plan.export_json", run_id=run_id),
    }


@bp.app_template_global()
def render_plan(run: Run | None, plan: Plan, *, readonly: bool = False) -> Markup:
    """Render the whole plan block (``#plan``) as the run page and the recompute show it."""
    return Markup(
        render_template("runs/plan/_plan.html", **plan_context(run, plan, readonly=readonly))
    )


@bp.app_template_filter("plan_money")
def plan_money(value: float | None) -> str:
    """Format an amount of dollars, 'n/a' when there is none."""
    return "n/a" if value is None else f"${value:,.0f}"


@bp.app_template_filter("plan_number")
def plan_number(value: float | None, digits: int = 1) -> str:
    """Format a number with ``digits`` decimals, 'n/a' when there is none."""
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _plan(run_id: int) -> tuple[Run, Plan]:
    session = db_session()
    try:
        run = service.get_run(session, owner_id=current_user.id, run_id=run_id)
        return run, service.run_plan(session, owner_id=current_user.id, run_id=run_id)
    except service.RunNotFound:
        abort(404)
    except service.RunStateError as exc:
        abort(404, description=str(exc).capitalize() + ".")


@bp.post("/runs/<int:run_id>/niches/<int:niche>/choose")
@login_required
def choose_niche(run_id: int, niche: int):
    """Design for another researched niche: the run is queued again from its solution stage."""
    # The app-wide CSRFProtect has checked the token before this view runs.
    team = current_app.extensions["agent_team"]
    try:
        team.choose_niche(db_session(), owner_id=current_user.id, run_id=run_id, niche=niche)
    except (service.RunNotFound, service.RunInputError):
        abort(404)
    except service.RunStateError as exc:
        flash(str(exc).capitalize() + ".", "error")
    else:
        flash("The run is designing for the niche you chose; research is kept.", "success")
    return redirect(url_for("runs.run", run_id=run_id))


@bp.get("/runs/<int:run_id>/plan.md")
@login_required
def export_markdown(run_id: int):
    """Download the run's plan as Markdown."""
    return _download(plan_markdown(_plan(run_id)[1]), f"run-{run_id}-plan.md", "text/markdown")


@bp.get("/runs/<int:run_id>/plan.json")
@login_required
def export_json(run_id: int):
    """Download the run's plan as JSON (the Plan model, as the API serves it)."""
    plan = _plan(run_id)[1]
    return _download(plan.model_dump_json(indent=2), f"run-{run_id}-plan.json", "application/json")


def _download(body: str, filename: str, mimetype: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, mimetype=mimetype, headers=headers)


@bp.get("/compare")
@login_required
def compare():
    """Compare two niches of a run, or two runs, side by side; without ``b``, offer the choice."""
    try:
        first = parse_side(request.args.get("a"), field="a")
        second = parse_side(request.args.get("b"), field="b")
    except CompareQueryError as exc:
        abort(400, description=f"Check the comparison: {exc}.")
    if first is None:
        abort(400, description="Check the comparison: a: choose the run to compare.")
    left = _column(first)
    right = _column(second) if second else None
    runs, _ = service.list_runs(db_session(), owner_id=current_user.id)
    return render_template(
        "runs/compare.html",
        first=first,
        second=second,
        left=left,
        right=right,
        runs=runs,
        project_names=_project_names(runs),
    )


def _project_names(runs: list[Run]) -> dict[int, str]:
    """Return the name of each project the runs belong to (all the owner's)."""
    session = db_session()
    return {pid: session.get(Project, pid).name for pid in {run.project_id for run in runs}}


def _column(side: Side) -> dict:
    """Return one side's column: the owner's run (404 otherwise) and the niche's numbers."""
    session = db_session()
    try:
        run = service.get_run(session, owner_id=current_user.id, run_id=side.run_id)
        plan = service.run_plan(session, owner_id=current_user.id, run_id=run.id)
    except service.RunNotFound:
        abort(404)
    except service.RunStateError:
        plan = None
    if not has_niche(plan, side.niche):
        abort(404, description=f"Run {run.id} has no niche {side.niche}.")
    column = compare_column(plan, side.niche, title=f"Run {run.id}")
    return {**column, "run": run, "niches": plan.niches if plan else []}


@bp.get("/sample-plan")
def sample():
    """Show the sample plan: public, read-only, from artifacts shipped with the package."""
    return render_template("runs/sample.html", plan=sample_plan())


@bp.get("/sample-plan.md")
def sample_markdown():
    """Download the sample plan as Markdown."""
    return _download(plan_markdown(sample_plan()), "sample-plan.md", "text/markdown")


@bp.get("/sample-plan.json")
def sample_json():
    """Download the sample plan as JSON."""
    body = sample_plan().model_dump_json(indent=2)
    return _download(body, "sample-plan.json", "application/json")
