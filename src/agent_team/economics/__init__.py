"""Business math of a plan: pure functions of assumption values, each formula with its source.

The model estimates, code computes, the user decides: agents gather the numbers, these
functions compute scores, market sizes, projections, unit economics and the verdict, and a
recompute after the user overrides an assumption needs no model call.
"""

from .market import MarketSize, market_size
from .opportunity import (
    NicheFactors,
    NicheScore,
    NicheWeights,
    Problem,
    RankedNiche,
    rank_niches,
    score_niche,
    ulwick_opportunity,
)
from .projection import (
    Projection,
    ProjectionInputs,
    ScenarioMultipliers,
    ScenarioProjections,
    Scenarios,
    Tier,
    project,
    project_scenarios,
)
from .rice import Feature, RankedFeature, rank_features, rice_score
from .unit_economics import (
    BlendedCac,
    Channel,
    UnitEconomics,
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
from .verdict import Reason, Verdict, verdict

__all__ = [
    "BlendedCac",
    "Channel",
    "Feature",
    "MarketSize",
    "NicheFactors",
    "NicheScore",
    "NicheWeights",
    "Problem",
    "Projection",
    "ProjectionInputs",
    "RankedFeature",
    "RankedNiche",
    "Reason",
    "ScenarioMultipliers",
    "ScenarioProjections",
    "Scenarios",
    "Tier",
    "UnitEconomics",
    "Verdict",
    "arpa",
    "blended_cac",
    "break_even_month",
    "cac",
    "cac_payback_months",
    "gross_margin",
    "ltv",
    "ltv_to_cac",
    "market_size",
    "project",
    "project_scenarios",
    "rank_features",
    "rank_niches",
    "rice_score",
    "score_niche",
    "ulwick_opportunity",
    "unit_economics",
    "verdict",
]
