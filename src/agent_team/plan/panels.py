"""What the Monetization and Assumptions panels show, from a computed plan: pure, no request.

Display only: every number comes from the plan (``compute_plan``); this module arranges it
into chart geometry, table rows, the reading and assumption groups with their input settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_team import economics as eco
from agent_team.assumptions import Assumption
from agent_team.economics.projection import DEFAULT_SCENARIOS
from agent_team.plan.chart import NARROW, SCENARIOS, WIDE, mrr_chart, mrr_table
from agent_team.plan.reading import LTV_TO_CAC_BAR, PAYBACK_TARGET_MONTHS, read_unit_economics
from agent_team.plan.views import Plan

SECTIONS = {
    "solution": "Solution",
    "pricing": "Pricing",
    "funnel": "Funnel and costs",
    "marketing": "Marketing",
    "founder": "Founder",
}
# Sections open at first: the ones whose numbers drive the money tab.
OPEN_SECTIONS = ("pricing", "funnel", "marketing", "founder")


@dataclass(frozen=True)
class PanelItem:
    """An assumption and what it is about (a tier, channel, problem...), for its label."""

    assumption: Assumption
    subject: str

    @property
    def title(self) -> str:
        """Return the label the input gets: "Monthly price (Solo)"."""
        label = self.assumption.label
        return f"{label} ({self.subject})" if self.subject else label


@dataclass(frozen=True)
class AssumptionGroup:
    """The assumptions of one section of the plan, in the order the plan holds them."""

    key: str
    title: str
    items: tuple[PanelItem, ...]
    open: bool

    @property
    def overridden(self) -> int:
        """Return how many of the group's values the user set."""
        return sum(1 for item in self.items if item.assumption.source == "user")


def section_of(key: str) -> str:
    """Return the section an assumption key belongs to: ``niches.2`` or its first part."""
    head, _, rest = key.partition(".")
    return f"{head}.{rest.partition('.')[0]}" if head == "niches" else head


def assumption_groups(plan: Plan) -> list[AssumptionGroup]:
    """Return the plan's assumptions grouped by section: niches first (by rank), then the rest."""
    ranked = {niche.index: niche for niche in plan.niches}
    found: dict[str, list[Assumption]] = {}
    for assumption in plan.assumptions:
        found.setdefault(section_of(assumption.key), []).append(assumption)

    def order(section: str) -> tuple[int, int]:
        if section.startswith("niches."):
            niche = ranked.get(int(section.split(".")[1]))
            return (0, niche.rank if niche else len(ranked) + 1)
        return (1, list(SECTIONS).index(section) if section in SECTIONS else len(SECTIONS))

    groups = []
    for section in sorted(found, key=order):
        if section.startswith("niches."):
            title = _niche_title(ranked.get(int(section.split(".")[1])), plan.chosen_niche)
        else:
            title = SECTIONS.get(section, section.capitalize())
        items = tuple(PanelItem(a, subject_of(plan, a.key)) for a in found[section])
        touched = any(item.assumption.source == "user" for item in items)
        shown = section in OPEN_SECTIONS or section == f"niches.{plan.chosen_niche}" or touched
        groups.append(AssumptionGroup(section, title, items, shown))
    return groups


def _niche_title(niche, chosen: int) -> str:
    """Title a niche's group as the ranking names it: "Niche ranked 1: Name (chosen)"."""
    if niche is None:
        return "A niche no longer ranked"
    return f"Niche ranked {niche.rank}: {niche.name}{' (chosen)' if niche.index == chosen else ''}"


def subject_of(plan: Plan, key: str) -> str:
    """Return what a numbered assumption is about: its problem, competitor, tier, channel..."""
    parts = key.split(".")
    numbered = [(name, int(i)) for name, i in zip(parts, parts[1:], strict=False) if i.isdigit()]
    if not numbered or numbered[-1][0] == "niches":
        return ""
    kind, index = numbered[-1]
    rows = _subjects(plan, kind, numbered[0][1])
    return rows[index] if index < len(rows) else f"{kind.rstrip('s')} {index + 1}"


def _subjects(plan: Plan, kind: str, niche: int) -> list[str]:
    """Return the names of the numbered things of ``kind`` (of niche ``niche`` for niche parts)."""
    view = next((n for n in plan.niches if n.index == niche), None)
    money, market, solution = plan.monetization, plan.marketing, plan.solution
    names = {
        "problems": lambda: [p["problem"] for p in view.problems] if view else [],
        "competitors": lambda: [c["kind"] for c in view.competitors] if view else [],
        "milestones": lambda: [m["name"] for m in solution.milestones] if solution else [],
        "tiers": lambda: [t["name"] for t in money.tiers] if money else [],
        "channels": lambda: [c["name"] for c in market.channels] if market else [],
        "kpis": lambda: [k["name"] for k in market.kpis] if market else [],
    }
    return names[kind]() if kind in names else []


def field_id(key: str) -> str:
    """Return the HTML id of an assumption's input: ``a-funnel-monthly_churn``."""
    return "a-" + key.replace(".", "-")


def input_value(value: float) -> str:
    """Return a value as an input shows it: 2000, 0.04, 1e-05 (no trailing .0)."""
    return f"{value:.12g}"


def share_hint(assumption: Assumption) -> str:
    """Return "= 4%" for a share (a fraction of 1), else nothing."""
    if assumption.unit.startswith("share") and not assumption.choices:
        return f"= {assumption.value * 100:.4g}%"
    return ""


def scenario_legend(scenarios: eco.Scenarios) -> list[tuple[str, str]]:
    """Return each scenario's name and what it changes, for the chart's legend."""
    legend = []
    for name in SCENARIOS:
        factors = getattr(scenarios, name).model_dump()
        changed = ", ".join(f"{what} ×{x:g}" for what, x in factors.items() if x != 1)
        legend.append((name, f"{name.capitalize()}: {changed or 'the assumptions as they are'}"))
    return legend


def panel_context(plan: Plan) -> dict:
    """Return the keys the Monetization and Assumptions templates use, besides ``plan``."""
    money = plan.monetization
    context: dict = {"assumption_groups": assumption_groups(plan), "money": None}
    if money is not None:
        context["money"] = {
            "chart": mrr_chart(money.projections, WIDE, mark=money.break_even_month),
            "chart_narrow": mrr_chart(money.projections, NARROW, mark=money.break_even_month),
            "table": mrr_table(money.projections),
            "table_all": mrr_table(money.projections, None),
            "legend": scenario_legend(DEFAULT_SCENARIOS),
            "bars": {"ltv_to_cac": LTV_TO_CAC_BAR, "payback_months": PAYBACK_TARGET_MONTHS},
            "reading": read_unit_economics(
                money.unit_economics, money.break_even_month, len(money.projections.base.months)
            ),
        }
    return context
