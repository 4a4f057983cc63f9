"""ARPA, gross margin, LTV, CAC, LTV:CAC, CAC payback and break-even, zeros included."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_team.economics import (
    Channel,
    arpa,
    blended_cac,
    break_even_month,
    cac,
    cac_payback_months,
    gross_margin,
    ltv,
    ltv_to_cac,
    unit_economics,
)

money = st.floats(min_value=0, max_value=1e12)
shares = st.floats(min_value=0, max_value=1)
counts = st.floats(min_value=0, max_value=1e10)


def test_arpa_and_gross_margin_match_the_hand_computed_case() -> None:
    assert arpa(mrr=5_000, customers=100) == 50  # $5,000 MRR ÷ 100 accounts
    assert gross_margin(revenue=50, cost_of_revenue=10) == pytest.approx(0.8)  # (50 − 10) ÷ 50
    assert gross_margin(revenue=50, cost_of_revenue=75) == pytest.approx(-0.5)  # loses money


def test_ratios_without_a_denominator_are_none() -> None:
    assert arpa(mrr=0, customers=0) is None
    assert gross_margin(revenue=0, cost_of_revenue=10) is None
    assert cac(sales_marketing_spend=12_000, new_customers=0) is None
    assert ltv_to_cac(ltv=2_000, cac=0) is None
    assert cac_payback_months(cac=400, arpa=50, gross_margin=0) is None
    assert cac_payback_months(cac=400, arpa=0, gross_margin=0.8) is None


@pytest.mark.parametrize(
    ("churn", "expected"),
    [
        (0.02, 2_000),  # $50 × 80% ÷ 2% = $40 × 50 months
        (0.05, 800),  # $40 ÷ 5% = $40 × 20 months
        (1.0, 40),  # everyone leaves after one month
        (0.01, 2_400),  # 1 ÷ 1% = 100 months, capped at 60: $40 × 60
        (0.0, 2_400),  # zero churn: the capped lifetime, never a division by zero
    ],
)
def test_ltv_matches_skoks_formula_with_the_lifetime_cap(churn, expected) -> None:
    assert ltv(arpa=50, gross_margin=0.8, monthly_churn=churn) == pytest.approx(expected)


def test_ltv_cap_can_be_changed() -> None:
    # 1 ÷ 1% = 100 months under a 120-month cap: $40 × 100
    assert ltv(arpa=50, gross_margin=0.8, monthly_churn=0.01, lifetime_cap_months=120) == 4_000


def test_cac_ratio_and_payback_match_the_hand_computed_case() -> None:
    assert cac(sales_marketing_spend=12_000, new_customers=30) == 400  # $12,000 ÷ 30
    assert ltv_to_cac(ltv=2_000, cac=400) == 5  # $2,000 ÷ $400
    assert cac_payback_months(cac=400, arpa=50, gross_margin=0.8) == 10  # $400 ÷ ($50 × 80%)
    assert cac_payback_months(cac=0, arpa=0, gross_margin=0) == 0  # nothing to pay back


def test_blended_cac_weights_channels_by_the_customers_they_buy() -> None:
    blend = blended_cac(
        channels=[
            Channel(name="ads", monthly_budget=1_000, cac=100),  # 10 customers
            Channel(name="seo", monthly_budget=500, cac=25),  # 20 customers
        ]
    )
    assert blend.new_customers == 30
    assert blend.cac == 50  # $1,500 ÷ 30, not the mean of $100 and $25
    assert blended_cac(channels=[Channel(name="ads", monthly_budget=0, cac=100)]).cac is None
    assert blended_cac(channels=[]).cac is None


def test_unit_economics_bundles_the_same_numbers() -> None:
    economics = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.02, cac=400)
    assert (economics.ltv, economics.ltv_to_cac, economics.cac_payback_months) == (2_000, 5, 10)
    free = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.02, cac=0)
    assert (free.ltv_to_cac, free.cac_payback_months) == (None, 0)
    nobody = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.02, cac=None)
    assert (nobody.ltv_to_cac, nobody.cac_payback_months) == (None, None)


def test_break_even_matches_the_hand_computed_case() -> None:
    # profit = revenue × 50% − $100: −50, 0, +50, +100 → cumulative −50, −50, 0 → month 3
    revenue = [100.0, 200.0, 300.0, 400.0]
    assert (
        break_even_month(monthly_revenue=revenue, gross_margin=0.5, fixed_costs_per_month=100) == 3
    )
    # with $50 marketing a month: −100, −50, 0, 50 → cumulative −100, −150, −150, −100 → never
    never = break_even_month(
        monthly_revenue=revenue,
        gross_margin=0.5,
        fixed_costs_per_month=100,
        marketing_spend_per_month=50,
    )
    assert never is None
    # an upfront build cost of $100 moves month 3 (cumulative 0) to month 4 (−100 + 100 = 0)
    later = break_even_month(
        monthly_revenue=revenue, gross_margin=0.5, fixed_costs_per_month=100, upfront_cost=100
    )
    assert later == 4


def test_break_even_edges() -> None:
    assert break_even_month(monthly_revenue=[], gross_margin=0.5, fixed_costs_per_month=0) is None
    assert break_even_month(monthly_revenue=[0.0], gross_margin=0, fixed_costs_per_month=0) == 1
    # $3 × 70% is 2.0999999999999996 in binary floats: the month still covers its $2.10 exactly
    assert break_even_month(monthly_revenue=[3.0], gross_margin=0.7, fixed_costs_per_month=2.1) == 1


@given(arpa=money, margin=shares, churn=shares, higher=shares)
def test_higher_churn_never_raises_ltv(arpa, margin, churn, higher) -> None:
    low, high = sorted([churn, higher])
    assert ltv(arpa=arpa, gross_margin=margin, monthly_churn=high) <= ltv(
        arpa=arpa, gross_margin=margin, monthly_churn=low
    )


@given(cac=money, other=money, arpa=money, margin=shares)
def test_higher_cac_never_shortens_payback(cac, other, arpa, margin) -> None:
    cheap, dear = sorted([cac, other])
    never = float("inf")
    quick = cac_payback_months(cac=cheap, arpa=arpa, gross_margin=margin)
    slow = cac_payback_months(cac=dear, arpa=arpa, gross_margin=margin)
    assert (never if quick is None else quick) <= (never if slow is None else slow)


@given(mrr=money, spend=money, customers=counts, cost=money)
def test_ratios_never_raise_and_never_overflow(mrr, spend, customers, cost) -> None:
    # A vanishingly small denominator (5e-324 customers) would overflow to inf: None instead.
    for value in (
        arpa(mrr=mrr, customers=customers),
        cac(sales_marketing_spend=spend, new_customers=customers),
        gross_margin(revenue=mrr, cost_of_revenue=cost),
    ):
        assert value is None or math.isfinite(value)


def test_a_vanishing_denominator_is_treated_as_zero_not_overflowed() -> None:
    tiny = 5e-324  # the smallest float above 0: $1e12 ÷ tiny is beyond the float range
    economics = unit_economics(arpa=1e12, gross_margin=1.0, monthly_churn=0.0, cac=tiny)
    assert economics.ltv_to_cac is None
    assert cac_payback_months(cac=1e12, arpa=tiny, gross_margin=1.0) is None
    assert cac(sales_marketing_spend=1e12, new_customers=tiny) is None


@given(arpa=money, margin=shares, churn=shares, cac=st.none() | money)
def test_unit_economics_never_raise_for_valid_inputs(arpa, margin, churn, cac) -> None:
    economics = unit_economics(arpa=arpa, gross_margin=margin, monthly_churn=churn, cac=cac)
    assert economics.ltv >= 0
    assert economics.ltv_to_cac is None or economics.ltv_to_cac >= 0
    assert economics.cac_payback_months is None or economics.cac_payback_months >= 0


@given(
    revenue=st.lists(st.floats(min_value=0, max_value=1e9), max_size=36),
    margin=shares,
    fixed=st.floats(min_value=0, max_value=1e6),
    more=st.floats(min_value=0, max_value=1e6),
)
def test_higher_fixed_costs_never_bring_break_even_earlier(revenue, margin, fixed, more) -> None:
    def month(costs: float) -> float:
        found = break_even_month(
            monthly_revenue=revenue, gross_margin=margin, fixed_costs_per_month=costs
        )
        assert found is None or 1 <= found <= len(revenue)
        return float("inf") if found is None else found

    assert month(fixed) <= month(fixed + more)
