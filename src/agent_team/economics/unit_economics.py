"""SaaS unit economics: ARPA, gross margin, LTV, CAC, LTV:CAC, CAC payback and break-even.

Where a ratio has no meaning (no customers, nothing spent, no gross profit), the function
returns None and says so in its docstring, so no input can raise ZeroDivisionError. A
denominator so close to zero that the quotient leaves the range of amounts counts as zero too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from .common import MAX_AMOUNT, MAX_MONEY, Amount, FrozenModel, Money, Name, Share, validated

# LTV = ARPA × GM ÷ churn assumes churn never changes, and at zero churn it is infinite. Like
# most practitioners, we cap the customer lifetime (1 ÷ churn) at five years by default.
DEFAULT_LIFETIME_CAP_MONTHS = 60.0
LifetimeCap = Annotated[float, Field(ge=1, le=1200, allow_inf_nan=False, strict=True)]
# A channel's CAC is at least one cent: a free channel would bring infinitely many customers.
ChannelCac = Annotated[float, Field(ge=0.01, le=MAX_MONEY, allow_inf_nan=False, strict=True)]


class Channel(FrozenModel):
    """A marketing channel with its monthly budget and expected cost per new customer."""

    name: Name
    monthly_budget: Money
    cac: ChannelCac


class BlendedCac(FrozenModel):
    """The channels' monthly budget, the customers it buys and their blended CAC (None: none)."""

    monthly_budget: float
    new_customers: float
    cac: float | None


class UnitEconomics(FrozenModel):
    """A plan's unit economics; None marks a ratio that has no meaning for these inputs."""

    arpa: float
    gross_margin: float
    monthly_churn: float
    cac: float | None
    ltv: float
    ltv_to_cac: float | None
    cac_payback_months: float | None


@validated
def arpa(*, mrr: Amount, customers: Amount) -> float | None:
    """Return the average revenue per account per month, or None when there are no customers.

    Formula: ARPA = MRR ÷ number of paying customers. Source: David Skok, "SaaS Metrics 2.0".
    """
    return _ratio(mrr, customers)


def _ratio(numerator: float, denominator: float) -> float | None:
    """Return numerator ÷ denominator, or None for a zero (or vanishingly small) denominator."""
    if denominator <= 0:
        return None
    quotient = numerator / denominator
    # Beyond MAX_AMOUNT the next function would refuse it, and beyond the float range it is inf.
    return quotient if abs(quotient) <= MAX_AMOUNT else None


@validated
def gross_margin(*, revenue: Amount, cost_of_revenue: Amount) -> float | None:
    """Return gross margin as a share of revenue (negative if costs exceed it); None: no revenue.

    Formula: GM = (revenue − cost of revenue) ÷ revenue; cost of revenue is what serving the
    customers costs (hosting, model inference, support, payment fees). Source: Skok, "SaaS
    Metrics 2.0".
    """
    return _ratio(revenue - cost_of_revenue, revenue)


@validated
def ltv(
    *,
    arpa: Amount,
    gross_margin: Share,
    monthly_churn: Share,
    lifetime_cap_months: LifetimeCap = DEFAULT_LIFETIME_CAP_MONTHS,
) -> float:
    """Return a customer's lifetime value (gross profit), with the lifetime capped.

    Formula: LTV = ARPA × GM% ÷ monthly churn = ARPA × GM% × lifetime, where lifetime = 1 ÷ churn
    months, capped at ``lifetime_cap_months`` (default 60): zero churn gives ARPA × GM% × 60.
    Source: David Skok, "SaaS Metrics 2.0 – A Guide to Measuring and Improving What Matters".
    """
    return _ltv(arpa, gross_margin, monthly_churn, lifetime_cap_months)


def _ltv(arpa: float, gross_margin: float, monthly_churn: float, cap: float) -> float:
    # churn × cap ≤ 1 is the same test as 1 ÷ churn ≥ cap, without dividing by a zero churn.
    lifetime = cap if monthly_churn * cap <= 1.0 else 1.0 / monthly_churn
    return arpa * gross_margin * lifetime


@validated
def cac(*, sales_marketing_spend: Money, new_customers: Amount) -> float | None:
    """Return the cost to acquire a customer, or None when no customer was acquired.

    Formula: CAC = sales and marketing spend ÷ new customers in the same period. Source: Skok,
    "SaaS Metrics 2.0".
    """
    return _ratio(sales_marketing_spend, new_customers)


@validated
def blended_cac(*, channels: Annotated[Sequence[Channel], Field(max_length=100)]) -> BlendedCac:
    """Return the blended CAC of marketing channels, each buying budget ÷ CAC customers a month.

    Formula: new customers = Σ budgetᵢ ÷ CACᵢ; blended CAC = Σ budgetᵢ ÷ new customers (None when
    the total budget is 0). Source: Skok, "SaaS Metrics 2.0" (blended vs per-channel CAC).
    """
    budget = sum(channel.monthly_budget for channel in channels)
    customers = sum(channel.monthly_budget / channel.cac for channel in channels)
    return BlendedCac(
        monthly_budget=budget,
        new_customers=customers,
        cac=_ratio(budget, customers),
    )


@validated
def ltv_to_cac(*, ltv: Amount, cac: Amount) -> float | None:
    """Return LTV ÷ CAC (healthy at 3 or more), or None when CAC is 0 (nothing spent).

    Source: David Skok, "SaaS Metrics 2.0": LTV:CAC > 3 and CAC recovered in < 12 months.
    """
    return _ratio(ltv, cac)


@validated
def cac_payback_months(*, cac: Amount, arpa: Amount, gross_margin: Share) -> float | None:
    """Return the months of gross profit that repay CAC, or None when a customer earns none.

    Formula: payback = CAC ÷ (ARPA × GM%); 0 when CAC is 0. Source: David Skok, "SaaS Metrics
    2.0" (months to recover CAC; target under 12).
    """
    return _payback(cac, arpa, gross_margin)


def _payback(cac: float, arpa: float, gross_margin: float) -> float | None:
    if cac == 0:
        return 0.0
    return _ratio(cac, arpa * gross_margin)


@validated
def unit_economics(
    *,
    arpa: Amount,
    gross_margin: Share,
    monthly_churn: Share,
    cac: Amount | None,
    lifetime_cap_months: LifetimeCap = DEFAULT_LIFETIME_CAP_MONTHS,
) -> UnitEconomics:
    """Return LTV, LTV:CAC and CAC payback together, by the formulas of the functions above.

    ``cac`` is None when no customer was acquired (see ``cac``); LTV:CAC and payback are then
    None too, and the verdict reports it.
    """
    value = _ltv(arpa, gross_margin, monthly_churn, lifetime_cap_months)
    return UnitEconomics(
        arpa=arpa,
        gross_margin=gross_margin,
        monthly_churn=monthly_churn,
        cac=cac,
        ltv=value,
        ltv_to_cac=None if cac is None else _ratio(value, cac),
        cac_payback_months=None if cac is None else _payback(cac, arpa, gross_margin),
    )


@validated
def break_even_month(
    *,
    monthly_revenue: Annotated[Sequence[Amount], Field(max_length=1200)],
    gross_margin: Share,
    fixed_costs_per_month: Money,
    marketing_spend_per_month: Money = 0.0,
    upfront_cost: Money = 0.0,
) -> int | None:
    """Return the first month (1-based) whose cumulative profit is ≥ 0, or None within the horizon.

    Formula: profit(t) = revenue(t) × GM% − fixed costs − marketing spend; cumulative(t) =
    −upfront cost + Σ profit(1..t), to the cent; break-even = min t with cumulative(t) ≥ 0.
    With no costs at all that is month 1. Source: break-even analysis on a monthly P&L; the
    cumulative curve is Skok's "cash flow trough" ("SaaS Metrics 2.0").
    """
    # In whole cents, so a month that exactly covers its costs is not missed by a rounding error.
    costs = round(fixed_costs_per_month * 100) + round(marketing_spend_per_month * 100)
    cumulative = -round(upfront_cost * 100)
    for month, revenue in enumerate(monthly_revenue, start=1):
        cumulative += round(revenue * gross_margin * 100) - costs
        if cumulative >= 0:
            return month
    return None
