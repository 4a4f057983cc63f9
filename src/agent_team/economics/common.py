"""Shared number types, the frozen model base and deterministic ranking for the business math.

Every input is a plain, finite number with explicit bounds, so a value the model proposes or a
user overrides is either in range or rejected with a ``ValidationError`` (a ``ValueError``) that
names the field. Bounds are generous but finite, which keeps every product and sum finite too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, validate_call

# Larger than any real count of customers (≈ the world's population) or money amount in dollars;
# the caps exist so that products such as customers × price can never overflow to infinity.
MAX_COUNT = 1e10
MAX_MONEY = 1e12

# strict: a string "3" or a bool in an assumption is a mistake, not a number to coerce.
_FINITE = {"allow_inf_nan": False, "strict": True}

Count = Annotated[float, Field(ge=0, le=MAX_COUNT, **_FINITE)]
"""A count of people, accounts or visitors (an expected value, so fractions are allowed)."""

Money = Annotated[float, Field(ge=0, le=MAX_MONEY, **_FINITE)]
"""An amount of money in the plan's currency (dollars unless a plan says otherwise)."""

MAX_AMOUNT = 1e250
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT, **_FINITE)]
"""A computed quantity fed from one function to the next: money (SOM, MRR, ARPA, CAC, LTV) or a
count of customers from a projection.

Products of capped inputs (1e10 customers × $1e12, traffic compounding for 120 months) exceed
MAX_MONEY and MAX_COUNT, yet every output of one function must be a valid input of the next: this
cap is far above any such product and far enough below the float limit that × 1200 stays finite.
"""

Share = Annotated[float, Field(ge=0, le=1, **_FINITE)]
"""A fraction between 0 and 1 (a rate per month, a conversion, a share of a market)."""

Score10 = Annotated[float, Field(ge=1, le=10, **_FINITE)]
"""A judgement on a 1–10 scale (importance, satisfaction, intensity, feasibility)."""

GrowthRate = Annotated[float, Field(ge=-1, le=10, **_FINITE)]
"""A growth rate per period: -1 (the market vanishes) to 10 (elevenfold)."""

Multiplier = Annotated[float, Field(ge=0, le=100, **_FINITE)]
"""A scenario multiplier applied to a base assumption."""

Months = Annotated[int, Field(ge=1, le=120, strict=True)]
"""A number of months: a horizon or a month of it (1-based), at most ten years."""

Name = Annotated[str, Field(min_length=1, max_length=200, strict=True)]
"""A label shown to the user (a niche, a tier, a feature)."""


F = TypeVar("F", bound=Callable)


class FrozenModel(BaseModel):
    """Base of every economics input and output: immutable, finite, no unknown fields."""

    # allow_inf_nan=False also guards outputs: an overflow would fail loudly, never show as inf.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def validated(function: F) -> F:
    """Validate a function's arguments against its annotations, naming the field on error."""
    return validate_call(function)  # type: ignore[return-value]


def rank_order(scores: Sequence[float]) -> list[int]:
    """Return indices ordered by score, highest first; equal scores keep their input order."""
    # sorted() is stable, so ties stay in input order: the same inputs always rank the same way.
    return sorted(range(len(scores)), key=lambda index: -scores[index])


def clamp(value: float, low: float, high: float) -> float:
    """Return ``value`` limited to the closed interval [low, high]."""
    return min(max(value, low), high)
