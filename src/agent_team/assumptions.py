"""Assumptions: every number a plan starts from, with its source, rationale and confidence.

The model proposes an ``Estimate`` (a bounded value, a one-line rationale, a confidence) for each
number it is asked for; the pipeline turns estimates into ``Assumption`` rows keyed by a stable
path (``niches.2.target_customers``, ``pricing.tiers.0.monthly_price``). A user override replaces
the value (source ``user``) and is validated against the same bounds the model's value obeyed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

Confidence = Literal["low", "medium", "high"]
Source = Literal["model", "user", "default"]
RATIONALE_MAX = 240


class AssumptionError(ValueError):
    """An override names no assumption or holds a value outside its bounds."""


class Assumption(BaseModel):
    """One input number of a plan, where it came from and why."""

    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    value: float
    unit: str
    source: Source
    rationale: str = ""
    confidence: Confidence = "medium"
    minimum: float
    maximum: float
    choices: tuple[float, ...] = Field((), description="the allowed values when a scale")
    model_value: float | None = Field(
        None, description="the value before a user override (None when not overridden)"
    )

    def overridden(self, value: float) -> Assumption:
        """Return this assumption with the user's ``value``, checked against its bounds."""
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise AssumptionError(f"{self.key}: the value must be a finite number")
        if self.choices and value not in self.choices:
            allowed = ", ".join(f"{choice:g}" for choice in self.choices)
            raise AssumptionError(f"{self.key}: {value:g} is not one of {allowed}")
        if not self.minimum <= value <= self.maximum:
            raise AssumptionError(
                f"{self.key}: {value:g} is outside {self.minimum:g}–{self.maximum:g} {self.unit}"
            )
        original = self.model_value if self.model_value is not None else self.value
        return self.model_copy(
            update={"value": float(value), "source": "user", "model_value": original}
        )


@cache
def estimate_type(ge: float, le: float, integer: bool = False) -> type[BaseModel]:
    """Return the model-facing type of one bounded estimate: value, rationale, confidence."""
    # A name made of the bounds, so the schema (and the response cache key) is the same in
    # every process whatever order the agents were imported in.
    bounds = f"{ge:g}_{le:g}".translate(str.maketrans({".": "p", "-": "m", "+": ""}))
    name = f"{'Count' if integer else 'Estimate'}_{bounds}"
    return create_model(
        name,
        __config__=ConfigDict(extra="forbid"),
        value=(int if integer else float, Field(ge=ge, le=le)),
        rationale=(str, Field(min_length=1, max_length=RATIONALE_MAX)),
        confidence=(Confidence, ...),
    )


@dataclass(frozen=True)
class Quantity:
    """What kind of number an assumption is: label, unit, bounds, and allowed values if a scale."""

    label: str
    unit: str
    ge: float
    le: float
    integer: bool = False
    choices: tuple[float, ...] = ()

    @property
    def estimate(self) -> type[BaseModel]:
        """Return the type the model fills for this quantity."""
        return estimate_type(self.ge, self.le, self.integer)

    def proposed(self, key: str, value: float, rationale: str, confidence: Confidence):
        """Return the assumption the model proposed for ``key``."""
        return self._make(key, value, "model", rationale, confidence)

    def from_estimate(self, key: str, estimate: BaseModel) -> Assumption:
        """Return the assumption a model's estimate proposes."""
        fields = estimate.model_dump()
        return self.proposed(key, fields["value"], fields["rationale"], fields["confidence"])

    def default(self, key: str, value: float, why: str) -> Assumption:
        """Return an assumption that the product sets (source ``default``), with its reason."""
        return self._make(key, value, "default", why, "medium")

    def _make(self, key, value, source, rationale, confidence) -> Assumption:
        return Assumption(
            key=key,
            label=self.label,
            value=float(value),
            unit=self.unit,
            source=source,
            rationale=rationale,
            confidence=confidence,
            minimum=self.ge,
            maximum=self.le,
            choices=self.choices,
        )


class AssumptionSet:
    """The assumptions of a plan by key, with the user's overrides applied."""

    def __init__(self, assumptions: Iterable[Assumption]) -> None:
        self._items: dict[str, Assumption] = {}
        for assumption in assumptions:
            self._items[assumption.key] = assumption

    def apply(self, overrides: Mapping[str, float], *, strict: bool = True) -> AssumptionSet:
        """Return a copy with ``overrides`` applied; raise ``AssumptionError`` naming a bad key.

        Not ``strict``: skip overrides this plan has no assumption for (yet) or that its bounds
        refuse, as stored overrides of stages that are being re-made may be.
        """
        items = dict(self._items)
        for key, value in overrides.items():
            try:
                if key not in items:
                    raise AssumptionError(f"{key}: no such assumption in this plan")
                items[key] = items[key].overridden(value)
            except AssumptionError:
                if strict:
                    raise
        return AssumptionSet(items.values())

    def value(self, key: str) -> float:
        """Return the effective value of ``key``."""
        return self._items[key].value

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self):
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)
