"""RICE feature scores on Intercom's scales, and the feature ranking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field

from .common import MAX_COUNT, FrozenModel, Name, rank_order, validated

# Intercom's scales: impact 3 massive, 2 high, 1 medium, 0.5 low, 0.25 minimal;
# confidence 100% high, 80% medium, 50% low (written as fractions here).
Impact = Literal[3.0, 2.0, 1.0, 0.5, 0.25]
Confidence = Literal[1.0, 0.8, 0.5]
Reach = Annotated[float, Field(ge=0, le=MAX_COUNT, allow_inf_nan=False, strict=True)]
# Intercom counts effort in person-months, "0.5 for anything well under a month"; a floor of
# 0.1 (about two working days) still admits small features and keeps the score finite.
Effort = Annotated[float, Field(ge=0.1, le=1200, allow_inf_nan=False, strict=True)]


class Feature(FrozenModel):
    """A candidate feature with its RICE inputs."""

    name: Name
    reach: Reach = Field(description="people or events per quarter")
    impact: Impact
    confidence: Confidence
    effort: Effort = Field(description="person-months")


class RankedFeature(FrozenModel):
    """A feature's RICE score and place: rank 1 is the best; index is its position in the input."""

    rank: int
    index: int
    name: str
    score: float


@validated
def rice_score(*, reach: Reach, impact: Impact, confidence: Confidence, effort: Effort) -> float:
    """Return a feature's RICE score.

    Formula: RICE = reach × impact × confidence ÷ effort, with reach in people (or events) per
    quarter, impact on 3/2/1/0.5/0.25, confidence 100/80/50% and effort in person-months.
    Source: Sean McBride, "RICE: Simple prioritization for product managers", Intercom (2016).
    """
    return _rice(reach, impact, confidence, effort)


def _rice(reach: float, impact: float, confidence: float, effort: float) -> float:
    return reach * impact * confidence / effort


@validated
def rank_features(*, features: Sequence[Feature]) -> tuple[RankedFeature, ...]:
    """Rank features by RICE score, best first; equal scores keep the order they were given in."""
    scores = [_rice(f.reach, f.impact, f.confidence, f.effort) for f in features]
    return tuple(
        RankedFeature(rank=rank, index=index, name=features[index].name, score=scores[index])
        for rank, index in enumerate(rank_order(scores), start=1)
    )
