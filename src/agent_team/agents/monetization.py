"""Monetization: pricing tiers grounded in competitors' prices, and the funnel and cost inputs.

Two concurrent calls: the tiers (price, mix of new customers, features), and the funnel and
cost assumptions a 36-month cohort projection runs on. Code projects MRR in low/base/high
scenarios and computes the unit economics (see ``agent_team.plan``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent_team.agents.base import Short, StageContext, Strict
from agent_team.assumptions import Assumption, Quantity

SCHEMA_VERSION = 2  # 2: willingness to pay
PRICE = Quantity("Monthly price", "$ per month", 0, 10_000)
WTP = Quantity("Willingness to pay", "$ per month", 0, 10_000)
MIX = Quantity("Share of new customers", "share", 0, 1)
VISITORS = Quantity("Visitors in month 1", "visitors per month", 0, 10_000_000, integer=True)
VISITOR_GROWTH = Quantity("Visitor growth", "share per month", -0.5, 1)
SIGNUP = Quantity("Visitor → free user", "share", 0, 1)
FREE_TO_PAID = Quantity("Free → paid conversion", "share", 0, 1)
CHURN = Quantity("Monthly churn", "share per month", 0, 1)
EXPANSION = Quantity("Monthly expansion", "share of MRR per month", 0, 0.5)
GROSS_MARGIN = Quantity("Gross margin", "share of revenue", 0, 1)
FIXED_COSTS = Quantity("Fixed costs", "$ per month", 0, 1_000_000)
UPFRONT = Quantity("Upfront cost", "$", 0, 10_000_000)


class TierProposal(Strict):
    """A pricing tier: its price, its share of new customers and what it includes."""

    name: Short
    monthly_price: PRICE.estimate  # type: ignore[valid-type]
    mix: MIX.estimate  # type: ignore[valid-type]
    features: list[Short] = Field(min_length=1, max_length=8)


class Pricing(Strict):
    """The first answer: what a typical customer would pay, and 1–4 paid tiers."""

    willingness_to_pay: WTP.estimate  # type: ignore[valid-type]
    tiers: list[TierProposal] = Field(min_length=1, max_length=4)


class Funnel(Strict):
    """The second answer: how customers arrive, stay and what running the product costs."""

    monthly_visitors: VISITORS.estimate  # type: ignore[valid-type]
    visitor_growth: VISITOR_GROWTH.estimate  # type: ignore[valid-type]
    signup_rate: SIGNUP.estimate  # type: ignore[valid-type]
    free_to_paid: FREE_TO_PAID.estimate  # type: ignore[valid-type]
    monthly_churn: CHURN.estimate  # type: ignore[valid-type]
    monthly_expansion: EXPANSION.estimate  # type: ignore[valid-type]
    gross_margin: GROSS_MARGIN.estimate  # type: ignore[valid-type]
    fixed_costs_per_month: FIXED_COSTS.estimate  # type: ignore[valid-type]
    upfront_cost: UPFRONT.estimate  # type: ignore[valid-type]


class MonetizationArtifact(Strict):
    """The monetization stage's validated output."""

    kind: Literal["monetization"] = "monetization"
    version: Literal[2] = SCHEMA_VERSION
    pricing: Pricing
    funnel: Funnel


def run(context: StageContext, *, niche: dict, solution: dict) -> MonetizationArtifact:
    """Ask for tiers and for the funnel and costs, concurrently."""
    context.progress("pricing the product")
    facts = {"Chosen niche": niche, "Product": solution}
    pricing, funnel = context.map(
        lambda ask: ask(),
        [
            lambda: context.ask(
                Pricing,
                "First estimate the most a typical customer would pay per month for this product "
                "(willingness to pay, dollars). Then price it in 1 to 4 paid monthly tiers, "
                "grounded in the competitors' prices and that willingness to pay. For each tier "
                "give the monthly price in dollars, the share of new customers who would pick it, "
                "and its features.",
                facts,
            ),
            lambda: context.ask(
                Funnel,
                "Estimate the launch funnel and costs: visitors in month 1, monthly visitor growth "
                "(0.05 = 5%), the share of visitors who sign up free, the share of those who start "
                "paying, monthly churn and expansion, gross margin, fixed costs per month and the "
                "upfront cost to build. Shares are between 0 and 1.",
                facts,
            ),
        ],
    )
    return MonetizationArtifact(pricing=pricing, funnel=funnel)


def assumptions(artifact: MonetizationArtifact) -> list[Assumption]:
    """Return every number of the monetization stage as an assumption keyed ``pricing.…``."""
    wtp = artifact.pricing.willingness_to_pay
    found: list[Assumption] = [WTP.from_estimate("pricing.willingness_to_pay", wtp)]
    for i, tier in enumerate(artifact.pricing.tiers):
        key = f"pricing.tiers.{i}"
        found.append(PRICE.from_estimate(f"{key}.monthly_price", tier.monthly_price))
        found.append(MIX.from_estimate(f"{key}.mix", tier.mix))
    for field, quantity in FUNNEL_FIELDS.items():
        found.append(quantity.from_estimate(f"funnel.{field}", getattr(artifact.funnel, field)))
    return found


FUNNEL_FIELDS = {
    "monthly_visitors": VISITORS,
    "visitor_growth": VISITOR_GROWTH,
    "signup_rate": SIGNUP,
    "free_to_paid": FREE_TO_PAID,
    "monthly_churn": CHURN,
    "monthly_expansion": EXPANSION,
    "gross_margin": GROSS_MARGIN,
    "fixed_costs_per_month": FIXED_COSTS,
    "upfront_cost": UPFRONT,
}
