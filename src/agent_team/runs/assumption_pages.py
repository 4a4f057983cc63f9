"""Change a plan's assumption from the Assumptions panel and recompute it: no model call.

One route: without JavaScript the form posts, the value is stored and the browser goes back
to the run page (``#assumptions``); with it, ``assumptions.js`` posts the same form with the
``X-Plan-Fragment`` header and swaps ``#plan`` for the re-rendered plan. A refused value shows
the page (or the fragment) again with the error next to its input, and nothing is stored.
"""

from __future__ import annotations

import math
import re

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_login import current_user, login_required

from agent_team.assumptions import Assumption
from agent_team.plan import Plan
from agent_team.plan.panels import PanelItem, field_id, input_value, share_hint, subject_of
from agent_team.runs import service
from agent_team.runs import views as run_views
from agent_team.runs.plan_pages import render_plan
from paissive_income.context import db_session

bp = Blueprint("assumptions", __name__)

FRAGMENT_HEADER = "X-Plan-Fragment"
# A plain decimal number as people type it (no nan, inf, hex or digit separators).
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
MAX_NUMBER_TEXT = 40

bp.add_app_template_filter(field_id, "assumption_id")
bp.add_app_template_filter(input_value, "assumption_input")
bp.add_app_template_filter(share_hint, "share_hint")
bp.add_app_template_filter(lambda value: f"{value:,.12g}", "assumption_number")


class NotANumber(ValueError):
    """A typed value that is no number; the message says why."""


def parse_number(text: str) -> float:
    """Return the number the user typed, or raise ``NotANumber`` saying what is wrong."""
    text = text.strip()
    if not text:
        raise NotANumber("enter a number")
    if len(text) > MAX_NUMBER_TEXT or not NUMBER.fullmatch(text):
        raise NotANumber("enter a plain number such as 1200 or 0.05")
    number = float(text)
    if not math.isfinite(number):
        raise NotANumber("that number is too large")
    return number


@bp.post("/runs/<int:run_id>/assumptions")
@login_required
def change(run_id: int):
    """Set one assumption to the posted value, or reset it to the model's; recompute the plan."""
    # The app-wide CSRFProtect has checked the token before this view runs.
    session = db_session()
    try:
        run = service.get_run(session, owner_id=current_user.id, run_id=run_id)
        plan = service.run_plan(session, owner_id=current_user.id, run_id=run_id)
    except service.RunNotFound:
        abort(404)
    except service.RunStateError as exc:
        abort(404, description=str(exc).capitalize() + ".")
    key = request.form.get("key", "")
    assumption = next((a for a in plan.assumptions if a.key == key), None)
    if assumption is None:
        abort(400, description="Check the assumption: this plan has no such assumption.")
    reset = request.form.get("action") == "reset"
    try:
        value = None if reset else parse_number(request.form.get("value", ""))
        plan = service.set_overrides(
            session, owner_id=current_user.id, run_id=run_id, overrides={key: value}
        )
    except (NotANumber, service.RunInputError, service.RunStateError) as exc:
        session.rollback()
        reason = _allowed(assumption) if isinstance(exc, service.RunInputError) else str(exc)
        title = PanelItem(assumption, subject_of(plan, key)).title
        return _refused(run, plan, key, f"{title}: {reason}.")
    if request.headers.get(FRAGMENT_HEADER):
        return render_plan(run, plan)
    if reset:  # the value before the user's, or the current one if there was none
        value = assumption.value if assumption.model_value is None else assumption.model_value
    done = "reset to the model's value" if reset else "set"
    flash(
        f"{assumption.label} {done} ({input_value(value)} {assumption.unit}); plan recomputed.",
        "success",
    )
    return redirect(url_for("runs.run", run_id=run_id, _anchor="assumptions"))


def _allowed(assumption: Assumption) -> str:
    """Return what the assumption accepts, in words: its choices or its bounds and unit."""
    if assumption.choices:
        return "choose one of " + ", ".join(input_value(c) for c in assumption.choices)
    low, high = (f"{bound:,.12g}" for bound in (assumption.minimum, assumption.maximum))
    return f"enter a value from {low} to {high} ({assumption.unit})"


def _refused(run, plan: Plan, key: str, message: str):
    """Show the plan (fragment or run page) again with the error and the typed value at ``key``."""
    g.assumption_errors = {key: message}
    typed = request.form.get("value", "")[: MAX_NUMBER_TEXT * 5]
    # Shown back in the input: without control characters (NUL, newlines), which no number has.
    g.assumption_typed = {key: "".join(char for char in typed if char.isprintable())}
    if request.headers.get(FRAGMENT_HEADER):
        return render_plan(run, plan), 400
    page = run_views.run(run_id=run.id)
    return page, 400
