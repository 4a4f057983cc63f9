"""The Assumptions panel's groups and labels, from a scripted plan: pure, no web."""

from __future__ import annotations

import pytest
from scripted_model import ScriptedModel
from test_agent_pipeline import _context

from agent_team.pipeline import MemoryStore, load_artifacts, run_pipeline
from agent_team.plan import compute_plan
from agent_team.plan.panels import (
    assumption_groups,
    field_id,
    input_value,
    panel_context,
    section_of,
    share_hint,
)


@pytest.fixture(scope="module")
def plan():
    store = MemoryStore()
    made = run_pipeline(context=_context(ScriptedModel()), store=store)
    return compute_plan(
        brief=made.brief,
        artifacts=load_artifacts(store.artifacts()),
        overrides={"niches.2.growth_rate": 0.5, "funnel.monthly_churn": 0.05},
    )


def test_groups_hold_every_assumption_once_niches_first(plan):
    groups = assumption_groups(plan)
    keys = [item.assumption.key for group in groups for item in group.items]
    assert sorted(keys) == sorted(a.key for a in plan.assumptions)
    # Niches in the ranking's order, titled as the ranking names them.
    assert [g.key for g in groups] == [f"niches.{n.index}" for n in plan.niches] + [
        "solution", "pricing", "funnel", "marketing", "founder",
    ]  # fmt: skip
    first, second = plan.niches[0], plan.niches[1]
    assert first.index != 0 or second.index != 1  # the sample's ranking is not its research order
    chosen = " (chosen)" if first.index == plan.chosen_niche else ""
    assert groups[0].title == f"Niche ranked 1: {first.name}{chosen}"
    assert groups[1].title.startswith(f"Niche ranked 2: {second.name}")
    opened = {g.key for g in groups if g.open}
    # The money sections, the chosen niche and any section holding a value of the user's.
    assert opened == {"pricing", "funnel", "marketing", "founder", "niches.2"} | {
        f"niches.{plan.chosen_niche}"
    }
    assert {g.key: g.overridden for g in groups if g.overridden} == {"niches.2": 1, "funnel": 1}


def test_numbered_assumptions_say_what_they_are_about(plan):
    titles = {i.assumption.key: i.title for g in assumption_groups(plan) for i in g.items}
    tier = plan.monetization.tiers[1]["name"]
    assert titles["pricing.tiers.1.monthly_price"] == f"Monthly price ({tier})"
    channel = plan.marketing.channels[0]["name"]
    assert titles["marketing.channels.0.expected_cac"] == f"Expected CAC ({channel})"
    problem = next(n for n in plan.niches if n.index == 0).problems[1]["problem"]
    assert titles["niches.0.problems.1.importance"] == f"Importance ({problem})"
    assert titles["solution.features.2.effort"] == "Effort (feature 3)"
    assert titles["funnel.monthly_churn"] == "Monthly churn"


@pytest.mark.parametrize(
    ("key", "section"),
    [("niches.12.competitors.0.monthly_price", "niches.12"), ("funnel.gross_margin", "funnel")],
)
def test_section_of(key, section):
    assert section_of(key) == section


def test_input_formatting(plan):
    assert field_id("funnel.monthly_churn") == "a-funnel-monthly_churn"
    assert [input_value(v) for v in (2000.0, 0.04, 1e-05, 1e7)] == [
        "2000",
        "0.04",
        "1e-05",
        "10000000",
    ]
    churn = next(a for a in plan.assumptions if a.key == "funnel.monthly_churn")
    assert share_hint(churn) == "= 5%"
    visitors = next(a for a in plan.assumptions if a.key == "funnel.monthly_visitors")
    assert share_hint(visitors) == ""


def test_panel_context_without_the_money_stages(plan):
    bare = plan.model_copy(update={"monetization": None})
    assert panel_context(bare)["money"] is None
    money = panel_context(plan)["money"]
    assert money["chart"].mark.value == plan.monetization.break_even_month
    assert [name for name, _ in money["legend"]] == ["low", "base", "high"]
