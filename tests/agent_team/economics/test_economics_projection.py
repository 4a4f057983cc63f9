"""The monthly-cohort projection: hand-computed months, the MRR bridge and scenario order."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_team.economics import (
    ProjectionInputs,
    ScenarioMultipliers,
    ScenarioProjections,
    Scenarios,
    Tier,
    project,
    project_scenarios,
)

shares = st.floats(min_value=0, max_value=1)
tiers = st.builds(
    Tier,
    name=st.just("tier"),
    monthly_price=st.floats(min_value=0, max_value=1e4),
    mix=st.floats(min_value=0.01, max_value=1),
    monthly_churn=shares,
    monthly_expansion=shares,
    monthly_contraction=shares,
)
inputs_strategy = st.builds(
    ProjectionInputs,
    tiers=st.lists(tiers, min_size=1, max_size=3),
    monthly_visitors=st.floats(min_value=0, max_value=1e7),
    visitor_growth=st.floats(min_value=-1, max_value=1),
    signup_rate=shares,
    free_to_paid=shares,
    months=st.integers(min_value=1, max_value=36),
)


def one_tier(**changes) -> ProjectionInputs:
    """Return one $10 tier with 10% churn and 10 new customers a month, with any field changed."""
    tier = Tier(name="Solo", monthly_price=10.0, mix=1.0, monthly_churn=0.10)
    fields = {
        "tiers": [tier],
        "monthly_visitors": 1000.0,
        "visitor_growth": 0.0,
        "signup_rate": 0.1,
        "free_to_paid": 0.1,  # 1,000 visitors × 10% × 10% = 10 new customers a month
        "months": 36,
    }
    return ProjectionInputs(**(fields | changes))


def test_one_tier_matches_the_hand_computed_months() -> None:
    months = project(inputs=one_tier()).months
    # month 1: 10 new × $10 = $100 = 10,000 cents
    assert (months[0].new_customers, months[0].mrr_cents) == (pytest.approx(10), 10_000)
    # month 2: cohort 1 loses 10% = 1,000 cents; a new cohort adds 10,000 → 19,000
    assert months[1].opening_mrr_cents == 10_000
    assert months[1].churned_mrr_cents == 1_000
    assert months[1].new_mrr_cents == 10_000
    assert months[1].mrr_cents == 19_000
    # month 3: 9,000 − 900 + 10,000 − 1,000 + 10,000 = 27,100; customers 8.1 + 9 + 10 = 27.1
    assert months[2].mrr_cents == 27_100
    assert months[2].customers == pytest.approx(27.1)
    assert months[2].churned_customers == pytest.approx(1.9)


def test_one_tier_approaches_the_steady_state_of_new_over_churn() -> None:
    # Steady state: customers = new ÷ churn = 10 ÷ 10% = 100, MRR = 100 × $10 = $1,000.
    # After 36 months: 10 × (1 − 0.9³⁶) ÷ 0.1 = 97.75 customers.
    last = project(inputs=one_tier()).months[-1]
    assert last.customers == pytest.approx(100 * (1 - 0.9**36))
    assert last.mrr_cents == pytest.approx(97_750, abs=20)


def test_two_tiers_with_expansion_and_contraction_match_the_hand_computed_month_2() -> None:
    inputs = ProjectionInputs(
        tiers=[
            Tier(
                name="Basic",
                monthly_price=19.0,
                mix=0.7,
                monthly_churn=0.05,
                monthly_expansion=0.01,
                monthly_contraction=0.005,
            ),
            Tier(
                name="Pro", monthly_price=49.0, mix=0.3, monthly_churn=0.03, monthly_expansion=0.02
            ),
        ],
        monthly_visitors=2000.0,
        visitor_growth=0.08,
        signup_rate=0.1,
        free_to_paid=0.05,
    )
    first, second = project(inputs=inputs).months[:2]
    # month 1: 2,000 × 10% × 5% = 10 new: 7 Basic × $19 = 13,300 c, 3 Pro × $49 = 14,700 c
    assert [t.mrr_cents for t in first.tiers] == [13_300, 14_700]
    # month 2, Basic: churn 5% of 13,300 = 665; survivors 12,635; +1% = 126; −0.5% = 63
    # month 2, Pro: churn 3% of 14,700 = 441; survivors 14,259; +2% = 285
    assert second.churned_mrr_cents == 665 + 441
    assert second.expansion_mrr_cents == 126 + 285
    assert second.contraction_mrr_cents == 63
    # 2,160 visitors (8% growth) → 10.8 new: 7.56 × $19 = 14,364 c; 3.24 × $49 = 15,876 c
    assert second.new_mrr_cents == 14_364 + 15_876
    assert second.mrr_cents == 28_000 + 30_240 + 411 - 1_106 - 63


def test_scenarios_scale_traffic_conversion_churn_and_expansion() -> None:
    tier = Tier(
        name="Solo", monthly_price=10.0, mix=1.0, monthly_churn=0.10, monthly_expansion=0.02
    )
    result = project_scenarios(inputs=one_tier(tiers=[tier]))
    # low: 1,000 × 0.7 visitors × 10% × (10% × 0.7) = 4.9 customers → 4,900 c
    # high: 1,000 × 1.3 × 10% × (10% × 1.3) = 16.9 customers → 16,900 c
    assert [p.months[0].mrr_cents for p in (result.low, result.base, result.high)] == [
        4_900,
        10_000,
        16_900,
    ]
    # month 2 churn: low 15% of 4,900 = 735; high 7.5% of 16,900 = 1,267.5 → 1,268
    assert result.low.months[1].churned_mrr_cents == 735
    assert result.high.months[1].churned_mrr_cents == 1_268
    # expansion: low 2% × 0.5 of (4,900 − 735) = 41.65 → 42; high 2% × 1.5 of 15,632 = 469
    assert result.low.months[1].expansion_mrr_cents == 42
    assert result.high.months[1].expansion_mrr_cents == 469


def test_rates_multiplied_past_100_percent_are_capped() -> None:
    everything_churns = ScenarioMultipliers(churn=20.0, conversion=20.0)
    months = project(inputs=one_tier(), scenario=everything_churns).months
    # free→paid 10% × 20 = 200% → 100%: 100 new a month; churn 10% × 20 → 100%: all leave
    assert months[0].new_customers == pytest.approx(100)
    assert months[1].churned_mrr_cents == months[0].mrr_cents
    assert months[1].mrr_cents == months[1].new_mrr_cents


def test_contraction_multiplied_past_100_percent_is_capped() -> None:
    tier = Tier(
        name="Solo", monthly_price=10.0, mix=1.0, monthly_churn=0.0, monthly_contraction=0.8
    )
    months = project(inputs=one_tier(tiers=[tier]), scenario=ScenarioMultipliers(churn=2.0)).months
    # contraction 80% × 2 = 160% → 100%: month 1's 10,000 c all contract away, never below 0
    assert months[1].contraction_mrr_cents == 10_000
    assert months[1].mrr_cents == months[1].new_mrr_cents == 10_000


def test_tier_mix_weights_are_relative() -> None:
    def tier(name: str, mix: float, price: float) -> Tier:
        return Tier(name=name, monthly_price=price, mix=mix, monthly_churn=0.1)

    halves = project(inputs=one_tier(tiers=[tier("a", 0.35, 10.0), tier("b", 0.15, 30.0)]))
    # 0.35 : 0.15 is 70% : 30% of 10 new customers: 7 × $10 + 3 × $30 = $160
    assert halves.months[0].mrr_cents == 16_000
    assert [t.customers for t in halves.months[0].tiers] == pytest.approx([7, 3])


def test_revenue_in_currency_units_is_mrr_over_100() -> None:
    projection = project(inputs=one_tier(months=3))
    assert projection.monthly_revenue() == (100.0, 190.0, 271.0)


scenarios = st.builds(
    ScenarioMultipliers,
    traffic=st.floats(min_value=0, max_value=100),
    conversion=st.floats(min_value=0, max_value=100),
    churn=st.floats(min_value=0, max_value=100),
    expansion=st.floats(min_value=0, max_value=100),
)


@settings(max_examples=80, deadline=None)
@given(inputs=inputs_strategy, scenario=scenarios)
def test_mrr_bridge_holds_exactly_and_nothing_goes_negative(inputs, scenario) -> None:
    months = project(inputs=inputs, scenario=scenario).months
    assert len(months) == inputs.months
    previous_mrr = 0
    for month in months:
        assert month.opening_mrr_cents == previous_mrr
        assert month.mrr_cents == (
            month.opening_mrr_cents
            + month.new_mrr_cents
            + month.expansion_mrr_cents
            - month.churned_mrr_cents
            - month.contraction_mrr_cents
        )
        flows = (month.new_mrr_cents, month.expansion_mrr_cents, month.churned_mrr_cents)
        assert min(*flows, month.contraction_mrr_cents, month.mrr_cents) >= 0
        assert month.churned_mrr_cents <= month.opening_mrr_cents
        assert month.mrr_cents == sum(tier.mrr_cents for tier in month.tiers)
        assert all(tier.mrr_cents >= 0 and tier.customers >= 0 for tier in month.tiers)
        assert month.customers == pytest.approx(math.fsum(t.customers for t in month.tiers))
        assert month.customers >= 0 and month.churned_customers >= 0
        previous_mrr = month.mrr_cents


@settings(max_examples=60, deadline=None)
@given(inputs=inputs_strategy)
def test_low_never_beats_base_and_base_never_beats_high(inputs) -> None:
    result = project_scenarios(inputs=inputs)
    for low, base, high in zip(
        result.low.months, result.base.months, result.high.months, strict=True
    ):
        assert low.mrr_cents <= base.mrr_cents <= high.mrr_cents


@settings(max_examples=40, deadline=None)
@given(inputs=inputs_strategy, churn=st.floats(min_value=0, max_value=5))
def test_more_churn_never_raises_mrr(inputs, churn) -> None:
    calm = project(inputs=inputs).months
    churning = project(inputs=inputs, scenario=ScenarioMultipliers(churn=1 + churn)).months
    assert all(c.mrr_cents <= b.mrr_cents for c, b in zip(churning, calm, strict=True))


def test_a_projection_round_trips_through_json() -> None:
    result = project_scenarios(inputs=one_tier(months=12))
    assert ScenarioProjections.model_validate_json(result.model_dump_json()) == result


def test_custom_scenarios_replace_the_defaults() -> None:
    flat = ScenarioMultipliers()
    result = project_scenarios(inputs=one_tier(), scenarios=Scenarios(low=flat, high=flat))
    assert result.low == result.base == result.high


def test_tiers_need_some_mix() -> None:
    tier = Tier(name="Solo", monthly_price=10.0, mix=0.0, monthly_churn=0.1)
    with pytest.raises(ValueError, match="mix"):
        one_tier(tiers=[tier])


def test_the_largest_inputs_stay_finite() -> None:
    tier = Tier(name="Max", monthly_price=1e12, mix=1.0, monthly_churn=0.0, monthly_expansion=1.0)
    inputs = one_tier(
        tiers=[tier],
        monthly_visitors=1e10,
        visitor_growth=1.0,
        signup_rate=1,
        free_to_paid=1,
        months=120,
    )
    months = project(inputs=inputs, scenario=ScenarioMultipliers(traffic=100)).months
    assert months[-1].mrr_cents > 0
