"""The go / pivot / no-go verdict, computed from a plan's numbers, with a reason per check."""

from __future__ import annotations

from typing import Literal

from .common import Amount, FrozenModel, Money, Months, validated
from .unit_economics import UnitEconomics

LTV_TO_CAC_TARGET = 3.0  # Skok: LTV at least three times CAC
LTV_TO_CAC_FLOOR = 1.0  # below this every customer loses money
PAYBACK_TARGET_MONTHS = 12.0  # Skok: recover CAC in under 12 months

Decision = Literal["go", "pivot", "no-go"]


class Reason(FrozenModel):
    """One check of the verdict: the metric, its value, the threshold and whether it passed."""

    metric: str
    value: float | None
    threshold: float
    passed: bool
    fatal: bool
    message: str


class Verdict(FrozenModel):
    """The decision and every reason behind it, failures first."""

    decision: Decision
    reasons: tuple[Reason, ...]


@validated
def verdict(
    *,
    economics: UnitEconomics,
    break_even_month: Months | None,
    horizon_months: Months,
    som: Amount,
    income_goal: Money | None = None,
) -> Verdict:
    """Decide go / pivot / no-go from the unit economics, break-even and market size.

    Checks: LTV:CAC ≥ 3 and CAC payback < 12 months (David Skok, "SaaS Metrics 2.0"); break-even
    within the horizon; when the founder gives an annual income goal, gross profit of the SOM
    (SOM × GM%) ≥ that goal. Rule: go when every check passes; no-go when the unit economics
    lose money (LTV:CAC < 1, no gross profit per customer, no customer acquired at all); pivot
    otherwise. The goal is compared with gross profit, not revenue, because revenue is not income.
    """
    reasons = [
        _ltv_to_cac(economics),
        _payback(economics),
        _break_even(break_even_month, horizon_months),
    ]
    if income_goal is not None:
        reasons.append(_income(som * economics.gross_margin, income_goal))
    if all(reason.passed for reason in reasons):
        decision: Decision = "go"
    elif any(reason.fatal for reason in reasons):
        decision = "no-go"
    else:
        decision = "pivot"
    # Failures first, each group in the order the checks are listed above.
    ordered = sorted(reasons, key=lambda reason: reason.passed)
    return Verdict(decision=decision, reasons=tuple(ordered))


def _ltv_to_cac(economics: UnitEconomics) -> Reason:
    ratio = economics.ltv_to_cac
    if economics.cac is None:
        passed, fatal = False, True
        message = "LTV:CAC is undefined: no customer is acquired, so CAC is undefined"
    elif ratio is None:  # CAC is 0: customers come for free, the ratio has no upper bound
        passed, fatal = True, False
        message = "LTV:CAC is unbounded: CAC is 0 (no acquisition spend)"
    else:
        passed, fatal = ratio >= LTV_TO_CAC_TARGET, ratio < LTV_TO_CAC_FLOOR
        relation = "at or above" if passed else "below"
        message = f"LTV:CAC is {ratio:.2f}, {relation} the target of {LTV_TO_CAC_TARGET:g}"
        if fatal:
            message += "; each customer costs more than it earns"
    return Reason(
        metric="ltv_to_cac",
        value=ratio,
        threshold=LTV_TO_CAC_TARGET,
        passed=passed,
        fatal=fatal,
        message=message,
    )


def _payback(economics: UnitEconomics) -> Reason:
    months = economics.cac_payback_months
    if economics.cac is None:
        message = "CAC payback is undefined: no customer is acquired"
    elif months is None:
        message = "CAC payback never happens: a customer brings no gross profit"
    else:
        relation = "under" if months < PAYBACK_TARGET_MONTHS else "not under"
        message = f"CAC payback is {months:.1f} months, {relation} {PAYBACK_TARGET_MONTHS:g}"
    return Reason(
        metric="cac_payback_months",
        value=months,
        threshold=PAYBACK_TARGET_MONTHS,
        passed=months is not None and months < PAYBACK_TARGET_MONTHS,
        fatal=months is None,
        message=message,
    )


def _break_even(month: int | None, horizon: int) -> Reason:
    passed = month is not None and month <= horizon
    message = (
        f"break-even in month {month}, within the {horizon}-month horizon"
        if passed
        else f"no break-even within the {horizon}-month horizon"
    )
    return Reason(
        metric="break_even_month",
        value=month,
        threshold=horizon,
        passed=passed,
        fatal=False,
        message=message,
    )


def _income(gross_profit: float, goal: float) -> Reason:
    passed = gross_profit >= goal
    return Reason(
        metric="som_gross_profit",
        value=gross_profit,
        threshold=goal,
        passed=passed,
        fatal=False,
        message=f"gross profit of the obtainable market is {gross_profit:,.0f} a year, "
        f"{'at or above' if passed else 'below'} the income goal of {goal:,.0f}",
    )
