"""Pydantic schemas of the runs API (the same types document it in OpenAPI)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator

from agent_team.plan import STAGE_ORDER
from paissive_income.projects.schemas import Segment

KEY_PATTERN = r"^[a-z0-9_.]+$"
AssumptionKey = Annotated[str, Field(min_length=1, max_length=200)]
# Strict: true or "1" is not a number, and must not quietly become a niche or a churn of 100%.
NicheIndex = Annotated[StrictInt, Field(ge=0, le=7)]
Stage = Literal[STAGE_ORDER]  # type: ignore[valid-type] - the pipeline's stages, in order


class RunIn(BaseModel):
    """Start a run: all of the project's segments unless some are named; the default model."""

    model_config = ConfigDict(extra="forbid")

    model: (
        Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f\x7f]+$")] | None
    ) = None
    segments: Annotated[list[Segment], Field(min_length=1, max_length=20)] | None = None
    niche_index: NicheIndex | None = None


class RunOut(BaseModel):
    """A run as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "budget_exceeded"]
    model: str
    segments: list[str]
    niche_index: int | None
    stage: str | None
    step: str
    progress: float
    stage_seconds: dict[str, float]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    error: str | None
    cancel_requested: bool
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunList(BaseModel):
    """A page of runs, newest first."""

    items: list[RunOut]
    total: int


class OverridesIn(BaseModel):
    """The user's values by assumption key; null resets one to the model's value."""

    model_config = ConfigDict(extra="forbid")

    overrides: Annotated[
        dict[AssumptionKey, StrictFloat | None],
        Field(
            min_length=1,
            max_length=200,
            # As propertyNames, so the document says every key must match (patternProperties
            # would let other keys through with any value).
            json_schema_extra={
                "propertyNames": {"minLength": 1, "maxLength": 200, "pattern": KEY_PATTERN}
            },
        ),
    ]

    @field_validator("overrides")
    @classmethod
    def _keys(cls, value: dict[str, float | None]) -> dict[str, float | None]:
        for key in value:
            if not re.fullmatch(KEY_PATTERN, key):
                raise ValueError(f"{key!r} is not an assumption key (a-z, 0-9, '_' and '.')")
        return value


class NicheChoice(BaseModel):
    """Design the product for another researched niche."""

    model_config = ConfigDict(extra="forbid")

    niche_index: NicheIndex


class RerunIn(BaseModel):
    """Make the stages from ``stage`` on again."""

    model_config = ConfigDict(extra="forbid")

    stage: Stage


class EventOut(BaseModel):
    """One run event."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    stage: str | None
    detail: dict[str, Any]
    created_at: datetime


class EventList(BaseModel):
    """A run's events after a given id."""

    items: list[EventOut]
