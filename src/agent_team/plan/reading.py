"""A plain-language reading of a plan's unit economics: pure, one sentence per measure.

The bars are David Skok's ("SaaS Metrics 2.0", see docs references): LTV = ARPA × GM% ÷ monthly
churn (lifetime capped at 60 months), LTV:CAC of 3 or more, CAC repaid within 12 months; and
break-even is the first month whose cumulative profit, after the upfront cost, is at least 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent_team import economics as eco
from agent_team.economics.unit_economics import DEFAULT_LIFETIME_CAP_MONTHS

LTV_TO_CAC_BAR = 3.0
PAYBACK_TARGET_MONTHS = 12.0
BAR, TARGET = f"{LTV_TO_CAC_BAR:g}", f"{PAYBACK_TARGET_MONTHS:g}"  # as the sentences say them
Tone = Literal["good", "warning", "bad", "neutral"]


@dataclass(frozen=True)
class Sentence:
    """One sentence of the reading and whether it is good news (``tone``, for styling only)."""

    text: str
    tone: Tone


def money(value: float) -> str:
    """Return an amount as people write it: $1,234 (cents below $100)."""
    return f"${value:,.2f}" if abs(value) < 100 else f"${value:,.0f}"


def months(value: float) -> str:
    """Return a number of months: "1 month", "2.7 months"."""
    text = f"{value:,.1f}".removesuffix(".0")
    return f"{text} month" if text == "1" else f"{text} months"


def lifetime_months(monthly_churn: float, cap: float = DEFAULT_LIFETIME_CAP_MONTHS) -> float:
    """Return how long a customer stays: 1 ÷ monthly churn, capped (zero churn gives the cap)."""
    return cap if monthly_churn * cap <= 1.0 else 1.0 / monthly_churn


def read_unit_economics(
    economics: eco.UnitEconomics | None, break_even_month: int | None, horizon: int = 36
) -> list[Sentence]:
    """Return the reading: lifetime value, LTV:CAC, payback and break-even, in that order."""
    if economics is None:
        return [
            Sentence("Unit economics wait for the marketing stage's acquisition cost.", "neutral")
        ]
    return [
        _lifetime_value(economics),
        _ltv_to_cac(economics),
        _payback(economics),
        _break_even(break_even_month, horizon),
    ]


def _lifetime_value(economics: eco.UnitEconomics) -> Sentence:
    lifetime = lifetime_months(economics.monthly_churn)
    return Sentence(
        f"Each customer brings {money(economics.ltv)} of gross profit over their lifetime "
        f"(about {months(lifetime)} at {economics.monthly_churn:.1%} monthly churn).",
        "good" if economics.ltv > 0 else "bad",
    )


def _ltv_to_cac(economics: eco.UnitEconomics) -> Sentence:
    ratio, cac = economics.ltv_to_cac, economics.cac
    if cac is None or cac == 0:
        return Sentence(
            "The plan buys no customers with marketing, so there is no acquisition cost (CAC) "
            "to weigh the lifetime value against.",
            "neutral",
        )
    if ratio is None:
        return Sentence(f"Winning a customer costs {money(cac)}.", "neutral")
    said = f"That is {ratio:,.1f} times the {money(cac)} it costs to win them"
    if ratio < 1:
        return Sentence(f"{said}: every new customer loses money ({BAR} is the usual bar).", "bad")
    if ratio < LTV_TO_CAC_BAR:
        return Sentence(f"{said}, below the usual bar of {BAR}.", "warning")
    return Sentence(f"{said}, above the usual bar of {BAR}.", "good")


def _payback(economics: eco.UnitEconomics) -> Sentence:
    payback = economics.cac_payback_months
    if economics.cac is None or economics.cac == 0:
        return Sentence(
            "With nothing spent to win a customer, there is nothing to pay back.", "neutral"
        )
    if payback is None:
        return Sentence(
            "A customer brings no gross profit, so their acquisition cost is never paid back.",
            "bad",
        )
    lifetime = lifetime_months(economics.monthly_churn)
    if payback > lifetime:
        return Sentence(
            f"Paying back that cost takes {months(payback)} of a customer's gross profit, longer "
            f"than they stay (about {months(lifetime)}): most never repay it.",
            "bad",
        )
    if payback > PAYBACK_TARGET_MONTHS:
        return Sentence(
            f"That cost is paid back in {months(payback)}, beyond the usual {TARGET}-month target.",
            "warning",
        )
    return Sentence(
        f"That cost is paid back in {months(payback)}, within the usual {TARGET}-month target.",
        "good",
    )


def _break_even(month: int | None, horizon: int) -> Sentence:
    if month is None:
        return Sentence(
            f"In the base scenario the business does not break even within {horizon} months: "
            "cumulative profit stays below the upfront cost.",
            "bad",
        )
    return Sentence(
        f"In the base scenario the business breaks even in month {month}: from then on, "
        "cumulative profit covers the upfront cost and every month's costs.",
        "good",
    )
