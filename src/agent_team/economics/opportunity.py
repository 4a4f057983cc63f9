"""Ulwick opportunity per problem, the weighted niche opportunity score and the niche ranking."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import Field, model_validator

from .common import (
    Amount,
    FrozenModel,
    GrowthRate,
    Name,
    Score10,
    Share,
    clamp,
    rank_order,
    validated,
)

OPPORTUNITY_MIN = 1.0
OPPORTUNITY_MAX = 19.0

# Market size is scored on a log scale: an annual SOM of $10k scores 0, $10M or more scores 1.
# A solo founder's niche lives between a side income and a small company; tenfold steps matter
# more than dollars, so each decade is worth the same third of the factor.
SOM_FLOOR = 1e4
SOM_CEILING = 1e7
# Annual market growth of -10% or worse scores 0, +30% or better scores 1, linear between.
GROWTH_FLOOR = -0.10
GROWTH_CEILING = 0.30


class Problem(FrozenModel):
    """One problem (desired outcome) of the target customer, judged on Ulwick's 1–10 scales."""

    name: Name
    importance: Score10
    satisfaction: Score10


class NicheFactors(FrozenModel):
    """The assumptions a niche is scored on; every value comes from the plan's assumptions."""

    name: Name
    problems: tuple[Problem, ...] = Field(min_length=1, max_length=50)
    som: Amount = Field(description="serviceable obtainable market, currency per year")
    competition_intensity: Score10 = Field(description="1 = no competitors, 10 = crowded")
    growth_rate: GrowthRate = Field(description="annual growth of the niche's market")
    solo_feasibility: Score10 = Field(description="1 = needs a team, 10 = one person can build it")


class NicheWeights(FrozenModel):
    """Relative weights of the niche factors; they are divided by their sum, so any scale works."""

    problem_opportunity: Share = 0.30
    market_size: Share = 0.25
    competition: Share = 0.15
    growth: Share = 0.10
    solo_feasibility: Share = 0.20

    @model_validator(mode="after")
    def _some_weight(self) -> NicheWeights:
        if sum(self.model_dump().values()) <= 0:
            raise ValueError("at least one weight must be above 0")
        return self


DEFAULT_WEIGHTS = NicheWeights()


class FactorContribution(FrozenModel):
    """One factor's share of a niche score: raw value, normalised value, weight and points."""

    factor: str
    value: float
    normalised: float = Field(description="the value mapped onto 0–1, higher is better")
    weight: float = Field(description="the weight after dividing by the sum of weights")
    points: float = Field(description="normalised × weight × 100; the points sum to the total")


class NicheScore(FrozenModel):
    """A niche's opportunity score out of 100 with its per-factor breakdown."""

    name: str
    total: float
    problem_opportunity: float
    factors: tuple[FactorContribution, ...]


class RankedNiche(FrozenModel):
    """A niche's place in the ranking: rank 1 is the best; index is its position in the input."""

    rank: int
    index: int
    score: NicheScore


@validated
def ulwick_opportunity(*, importance: Score10, satisfaction: Score10) -> float:
    """Return Ulwick's opportunity score of one outcome, between 1 and 19.

    Formula: opportunity = importance + max(importance − satisfaction, 0), both rated 1–10.
    Scores above 15 mark extreme opportunities, 12–15 high, 10–12 solid, below 10 an outcome
    already well served. Source: Anthony W. Ulwick, Outcome-Driven Innovation ("What Customers
    Want", 2005; "The Path to Growth: The Opportunity Algorithm", Strategyn).
    """
    return _opportunity(importance, satisfaction)


def _opportunity(importance: float, satisfaction: float) -> float:
    return importance + max(importance - satisfaction, 0.0)


@validated
def score_niche(*, niche: NicheFactors, weights: NicheWeights = DEFAULT_WEIGHTS) -> NicheScore:
    """Return a niche's opportunity score (0–100) and the points each factor contributes.

    Formula: score = 100 × Σ wᵢ·nᵢ / Σ wᵢ, with each factor normalised to nᵢ ∈ [0, 1]:
    problem opportunity = (max Ulwick opportunity of its problems − 1) / 18 (a niche is as good as
    its most underserved outcome, so listing minor problems does not dilute it); market size =
    log₁₀(SOM / $10k) / 3, clamped (bottom-up SOM, see ``market``); competition = (10 − intensity)
    / 9; growth = (annual growth + 10%) / 40%, clamped; solo feasibility = (feasibility − 1) / 9.
    Source: a weighted-factor scoring model; the factors follow Ulwick's ODI and bottom-up market
    sizing; the default weights (30/25/15/10/20) are this project's documented choice, not a
    published standard — a user may change them.
    """
    opportunity = max(_opportunity(p.importance, p.satisfaction) for p in niche.problems)
    values = {
        "problem_opportunity": (opportunity, (opportunity - OPPORTUNITY_MIN) / 18.0),
        "market_size": (niche.som, _log_scale(niche.som, SOM_FLOOR, SOM_CEILING)),
        "competition": (niche.competition_intensity, (10.0 - niche.competition_intensity) / 9.0),
        "growth": (
            niche.growth_rate,
            _linear_scale(niche.growth_rate, GROWTH_FLOOR, GROWTH_CEILING),
        ),
        "solo_feasibility": (niche.solo_feasibility, (niche.solo_feasibility - 1.0) / 9.0),
    }
    raw_weights = weights.model_dump()
    weight_sum = sum(raw_weights.values())
    factors = tuple(
        FactorContribution(
            factor=factor,
            value=value,
            normalised=normalised,
            weight=raw_weights[factor] / weight_sum,
            points=100.0 * normalised * raw_weights[factor] / weight_sum,
        )
        for factor, (value, normalised) in values.items()
    )
    # fsum, and a clamp for the last rounding bit, keep the total inside 0–100 exactly.
    total = clamp(math.fsum(f.points for f in factors), 0.0, 100.0)
    return NicheScore(
        name=niche.name, total=total, problem_opportunity=opportunity, factors=factors
    )


@validated
def rank_niches(
    *, niches: Sequence[NicheFactors], weights: NicheWeights = DEFAULT_WEIGHTS
) -> tuple[RankedNiche, ...]:
    """Score and rank niches, best first; equal scores keep the order they were given in."""
    scores = [score_niche(niche=niche, weights=weights) for niche in niches]
    order = rank_order([score.total for score in scores])
    return tuple(
        RankedNiche(rank=rank, index=index, score=scores[index])
        for rank, index in enumerate(order, start=1)
    )


def _log_scale(value: float, floor: float, ceiling: float) -> float:
    if value <= floor:
        return 0.0
    return min(math.log10(value / floor) / math.log10(ceiling / floor), 1.0)


def _linear_scale(value: float, floor: float, ceiling: float) -> float:
    return clamp((value - floor) / (ceiling - floor), 0.0, 1.0)
