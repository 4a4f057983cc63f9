"""A monthly-cohort MRR projection per pricing tier, in low/base/high scenarios.

Money in the projection is integer cents: each component of the MRR bridge is rounded to the
cent once, per cohort, so the bridge adds up exactly in every month and every display, and a
cohort can never lose more revenue than it has. Customer counts are expected values (fractions
allowed); a plan rounds them only when it shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, model_validator

from .common import Count, FrozenModel, Money, Months, Multiplier, Name, Share, validated

HORIZON_MONTHS = 36

# Monthly growth of traffic: -100% (it stops) to +100% (doubling every month).
MonthlyGrowth = Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False, strict=True)]


class Tier(FrozenModel):
    """A paid pricing tier and how its customers behave each month."""

    name: Name
    monthly_price: Money
    mix: Share = Field(description="relative weight of new customers choosing this tier")
    monthly_churn: Share = Field(description="share of the tier's customers lost each month")
    monthly_expansion: Share = Field(0.0, description="share of surviving MRR added by upgrades")
    monthly_contraction: Share = Field(0.0, description="share of surviving MRR lost by downgrades")


class ProjectionInputs(FrozenModel):
    """The acquisition funnel and tiers a projection runs on (the base scenario's assumptions)."""

    tiers: tuple[Tier, ...] = Field(min_length=1, max_length=10)
    monthly_visitors: Count = Field(description="visitors or leads in the first month")
    visitor_growth: MonthlyGrowth = Field(description="monthly growth of visitors")
    signup_rate: Share = Field(description="share of visitors who become free users")
    free_to_paid: Share = Field(description="share of new free users who start paying")
    months: Months = HORIZON_MONTHS

    @model_validator(mode="after")
    def _some_mix(self) -> ProjectionInputs:
        if sum(tier.mix for tier in self.tiers) <= 0:
            raise ValueError("tiers: at least one tier needs a mix above 0")
        return self


class ScenarioMultipliers(FrozenModel):
    """Multipliers a scenario applies to the base assumptions; rates are then capped at 100%."""

    traffic: Multiplier = 1.0
    conversion: Multiplier = Field(1.0, description="multiplies the free→paid rate")
    churn: Multiplier = Field(1.0, description="multiplies logo churn and contraction")
    expansion: Multiplier = 1.0


class Scenarios(FrozenModel):
    """The multipliers of the low, base and high scenarios."""

    low: ScenarioMultipliers = ScenarioMultipliers(
        traffic=0.7, conversion=0.7, churn=1.5, expansion=0.5
    )
    base: ScenarioMultipliers = ScenarioMultipliers()
    high: ScenarioMultipliers = ScenarioMultipliers(
        traffic=1.3, conversion=1.3, churn=0.75, expansion=1.5
    )


DEFAULT_SCENARIOS = Scenarios()


class TierMonth(FrozenModel):
    """One tier at the end of one month."""

    name: str
    customers: float
    mrr_cents: int


class Month(FrozenModel):
    """One month of the projection: customer flow and the MRR bridge, in cents."""

    month: int
    visitors: float
    new_customers: float
    churned_customers: float
    customers: float
    opening_mrr_cents: int
    new_mrr_cents: int
    expansion_mrr_cents: int
    churned_mrr_cents: int
    contraction_mrr_cents: int
    mrr_cents: int
    tiers: tuple[TierMonth, ...]


class Projection(FrozenModel):
    """A scenario's months, first to last."""

    months: tuple[Month, ...]

    def monthly_revenue(self) -> tuple[float, ...]:
        """Return each month's revenue in currency units (its closing MRR, billed in advance)."""
        return tuple(month.mrr_cents / 100 for month in self.months)


class ScenarioProjections(FrozenModel):
    """The low, base and high projections of one plan."""

    low: Projection
    base: Projection
    high: Projection


@validated
def project(
    *, inputs: ProjectionInputs, scenario: ScenarioMultipliers = DEFAULT_SCENARIOS.base
) -> Projection:
    """Project customers and MRR month by month, one cohort per tier and month of acquisition.

    Each month, per tier and cohort (customers acquired in the same month and tier):
    churned = opening MRR × churn; expansion = (opening − churned) × expansion rate; contraction
    = (opening − churned) × contraction rate. Then the month's new customers — visitors ×
    signup rate × free→paid rate, split over tiers by mix — start a cohort at the tier's price.
    Visitors in month t = first-month visitors × (1 + growth)^(t−1). Totals obey the MRR bridge:
    MRR(t) = MRR(t−1) + new + expansion − churned − contraction. Source: David Skok, "SaaS
    Metrics 2.0" (forEntrepreneurs.com) for the MRR components and monthly cohort analysis.
    """
    churn = [min(t.monthly_churn * scenario.churn, 1.0) for t in inputs.tiers]
    contraction = [min(t.monthly_contraction * scenario.churn, 1.0) for t in inputs.tiers]
    expansion = [min(t.monthly_expansion * scenario.expansion, 1.0) for t in inputs.tiers]
    mix_total = sum(t.mix for t in inputs.tiers)
    paid_rate = inputs.signup_rate * min(inputs.free_to_paid * scenario.conversion, 1.0)
    cohorts: list[list[_Cohort]] = [[] for _ in inputs.tiers]
    rows = []
    for month in range(1, inputs.months + 1):
        visitors = inputs.monthly_visitors * scenario.traffic
        visitors *= (1.0 + inputs.visitor_growth) ** (month - 1)
        flows = _Flows()
        tier_rows = []
        for index, tier in enumerate(inputs.tiers):
            for cohort in cohorts[index]:
                cohort.age(churn[index], expansion[index], contraction[index], flows)
            new_customers = visitors * paid_rate * tier.mix / mix_total
            cohort = _Cohort(new_customers, round(new_customers * tier.monthly_price * 100))
            cohorts[index].append(cohort)
            flows.new_customers += cohort.customers
            flows.new += cohort.mrr
            tier_rows.append(
                TierMonth(
                    name=tier.name,
                    customers=sum(c.customers for c in cohorts[index]),
                    mrr_cents=sum(c.mrr for c in cohorts[index]),
                )
            )
        rows.append(flows.month(month, visitors, tuple(tier_rows)))
    return Projection(months=tuple(rows))


@dataclass(slots=True)
class _Flows:
    """The month's flows, summed over every tier and cohort."""

    new_customers: float = 0.0
    churned_customers: float = 0.0
    opening: int = 0
    new: int = 0
    expansion: int = 0
    churned: int = 0
    contraction: int = 0

    def month(self, month: int, visitors: float, tiers: tuple[TierMonth, ...]) -> Month:
        return Month(
            month=month,
            visitors=visitors,
            new_customers=self.new_customers,
            churned_customers=self.churned_customers,
            customers=sum(tier.customers for tier in tiers),
            opening_mrr_cents=self.opening,
            new_mrr_cents=self.new,
            expansion_mrr_cents=self.expansion,
            churned_mrr_cents=self.churned,
            contraction_mrr_cents=self.contraction,
            mrr_cents=self.opening + self.new + self.expansion - self.churned - self.contraction,
            tiers=tiers,
        )


@dataclass(slots=True)
class _Cohort:
    """The customers one tier won in one month, and their MRR in cents."""

    customers: float
    mrr: int

    def age(self, churn: float, expansion: float, contraction: float, flows: _Flows) -> None:
        """Apply one month of churn, expansion and contraction, adding the flows to ``flows``."""
        lost_customers = self.customers * churn
        churned = round(self.mrr * churn)  # ≤ mrr, since churn ≤ 1
        surviving = self.mrr - churned
        expanded = round(surviving * expansion)
        contracted = round(surviving * contraction)  # ≤ surviving, so MRR stays ≥ 0
        flows.churned_customers += lost_customers
        flows.opening += self.mrr
        flows.churned += churned
        flows.expansion += expanded
        flows.contraction += contracted
        self.customers -= lost_customers
        self.mrr = surviving + expanded - contracted


@validated
def project_scenarios(
    *, inputs: ProjectionInputs, scenarios: Scenarios = DEFAULT_SCENARIOS
) -> ScenarioProjections:
    """Project the low, base and high scenarios of one plan."""
    return ScenarioProjections(
        low=project(inputs=inputs, scenario=scenarios.low),
        base=project(inputs=inputs, scenario=scenarios.base),
        high=project(inputs=inputs, scenario=scenarios.high),
    )
