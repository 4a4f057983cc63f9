"""Compare two plans side by side: parse the query's sides and pick each side's numbers (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent_team.plan import Plan
from paissive_income.db.base import MAX_INTEGER_ID

SIDE = re.compile(r"([0-9]{1,10})(?::([0-9]{1,3}))?")
SIDE_HINT = "a run id, or a run id and a niche number like 12:3"


class CompareQueryError(ValueError):
    """A side of the comparison is malformed; ``field`` names the query parameter."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a run, and one of its niches (None: the run's chosen niche)."""

    run_id: int
    niche: int | None = None

    def query(self) -> str:
        """Return the side as the query writes it."""
        return str(self.run_id) if self.niche is None else f"{self.run_id}:{self.niche}"


def parse_side(text: str | None, *, field: str) -> Side | None:
    """Return the side a query value names, None when empty (raises CompareQueryError)."""
    if text is None or text == "":
        return None
    match = SIDE.fullmatch(text) if len(text) <= 20 and text.isascii() else None
    if match is None:
        raise CompareQueryError(f"expected {SIDE_HINT}", field=field)
    run_id = int(match.group(1))
    if not 1 <= run_id <= MAX_INTEGER_ID:
        raise CompareQueryError(f"no run has the id {run_id}", field=field)
    niche = match.group(2)
    return Side(run_id, None if niche is None else int(niche))


def has_niche(plan: Plan | None, niche: int | None) -> bool:
    """Say whether ``niche`` (None: the chosen one) is a niche of ``plan``."""
    return niche is None or (plan is not None and any(n.index == niche for n in plan.niches))


def compare_column(plan: Plan | None, niche: int | None, *, title: str) -> dict:
    """Return one column's numbers; None where the niche was not designed or has no plan."""
    column = {
        "title": title,
        "niche": None,
        "score": None,
        "som": None,
        "mrr_month_12": None,
        "mrr_month_36": None,
        "ltv_to_cac": None,
        "designed": False,
        "verdict": None,
    }
    if plan is None:
        return column
    index = plan.chosen_niche if niche is None else niche
    view = next(n for n in plan.niches if n.index == index)
    column.update(niche=view.name, score=view.score.total, som=view.market.som)
    if niche is not None:
        column["title"] = f"{title}, niche ranked {view.rank}"
    if index == plan.chosen_niche and plan.summary is not None:
        summary = plan.summary
        column.update(
            designed=True,
            mrr_month_12=summary.mrr_month_12,
            mrr_month_36=summary.mrr_month_36,
            ltv_to_cac=summary.ltv_to_cac,
            verdict=summary.verdict.decision,
        )
    return column
