"""The go / pivot / no-go verdict and the reasons it gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent_team.economics import unit_economics, verdict

HEALTHY = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.02, cac=400)  # 5×, 10 months


def decide(economics=HEALTHY, break_even=14, som=96_000.0, goal=None):
    """Return the verdict of a 36-month plan."""
    return verdict(
        economics=economics,
        break_even_month=break_even,
        horizon_months=36,
        som=som,
        income_goal=goal,
    )


def test_healthy_numbers_are_a_go_with_a_reason_per_check() -> None:
    result = decide(goal=60_000)
    assert result.decision == "go"
    reasons = {reason.metric: reason for reason in result.reasons}
    assert set(reasons) == {
        "ltv_to_cac",
        "cac_payback_months",
        "break_even_month",
        "som_gross_profit",
    }
    assert (reasons["ltv_to_cac"].value, reasons["ltv_to_cac"].threshold) == (5, 3)
    assert (reasons["cac_payback_months"].value, reasons["cac_payback_months"].threshold) == (
        10,
        12,
    )
    # $96,000 SOM × 80% gross margin = $76,800 ≥ $60,000
    assert reasons["som_gross_profit"].value == 76_800
    assert "76,800" in reasons["som_gross_profit"].message
    assert "60,000" in reasons["som_gross_profit"].message


def test_the_income_goal_is_checked_only_when_given() -> None:
    assert "som_gross_profit" not in {reason.metric for reason in decide().reasons}


def test_weak_but_profitable_numbers_are_a_pivot() -> None:
    # churn 5%: LTV = $40 ÷ 5% = $800; $800 ÷ $400 = 2, below 3 but above 1
    weak = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.05, cac=400)
    result = decide(economics=weak)
    assert result.decision == "pivot"
    first = result.reasons[0]
    assert (first.metric, first.value, first.passed) == ("ltv_to_cac", 2, False)
    assert "2.00" in first.message and "3" in first.message


def test_slow_payback_no_break_even_or_a_small_market_are_each_a_pivot() -> None:
    slow = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.01, cac=600)  # 15 months
    assert decide(economics=slow).decision == "pivot"
    assert decide(break_even=None).decision == "pivot"
    assert decide(break_even=None).reasons[0].metric == "break_even_month"
    assert decide(goal=80_000).decision == "pivot"  # $76,800 < $80,000


def test_money_losing_unit_economics_are_a_no_go() -> None:
    # churn 20%: LTV = $40 ÷ 20% = $200 < $400 CAC
    losing = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.2, cac=400)
    assert decide(economics=losing).decision == "no-go"
    no_margin = unit_economics(arpa=50, gross_margin=0, monthly_churn=0.02, cac=400)
    result = decide(economics=no_margin)
    assert result.decision == "no-go"
    assert any("never" in r.message for r in result.reasons if r.metric == "cac_payback_months")


def test_no_customers_at_all_is_a_no_go() -> None:
    nobody = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.02, cac=None)
    result = decide(economics=nobody)
    assert result.decision == "no-go"
    failed = {r.metric: r for r in result.reasons if not r.passed}
    assert set(failed) == {"ltv_to_cac", "cac_payback_months"}
    assert all(r.fatal and "no customer" in r.message for r in failed.values())


def test_free_acquisition_passes_the_cac_checks() -> None:
    organic = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.02, cac=0)
    result = decide(economics=organic)
    assert result.decision == "go"
    assert "CAC is 0" in result.reasons[0].message


@given(
    churn=st.floats(min_value=0, max_value=1),
    cac=st.none() | st.floats(min_value=0, max_value=1e5),
    margin=st.floats(min_value=0, max_value=1),
    break_even=st.none() | st.integers(min_value=1, max_value=36),
    goal=st.none() | st.floats(min_value=0, max_value=1e6),
)
def test_decision_follows_the_reasons(churn, cac, margin, break_even, goal) -> None:
    economics = unit_economics(arpa=50, gross_margin=margin, monthly_churn=churn, cac=cac)
    result = decide(economics=economics, break_even=break_even, goal=goal)
    if all(reason.passed for reason in result.reasons):
        assert result.decision == "go"
    elif any(reason.fatal for reason in result.reasons):
        assert result.decision == "no-go"
    else:
        assert result.decision == "pivot"
    assert all(not reason.fatal or not reason.passed for reason in result.reasons)
    passed = [reason.passed for reason in result.reasons]
    assert passed == sorted(passed)  # failures first
