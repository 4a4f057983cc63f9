"""Pydantic schemas for projects: API input/output and form validation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

# Text must have a visible character and no NUL (PostgreSQL cannot store NUL in text).
VISIBLE_TEXT = r"^[^\x00]*[^\x00\s][^\x00]*$"


def _strip(value: str) -> str:
    """Drop surrounding whitespace; what is left must be visible."""
    value = value.strip()
    if not value:
        raise ValueError("must contain a visible character")
    return value


# Limits apply to the text as sent (as the OpenAPI schema says); then spaces around are dropped.
Segment = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=VISIBLE_TEXT),
    AfterValidator(_strip),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=120, pattern=VISIBLE_TEXT),
    AfterValidator(_strip),
]
Segments = Annotated[list[Segment], Field(min_length=1, max_length=20)]
Notes = Annotated[str, StringConstraints(max_length=10_000, pattern=r"^[^\x00]*$")]


def _omit_default(schema: dict) -> None:
    """Leave the null default of an optional patch field out of the JSON schema."""
    schema.pop("default", None)


def _dedupe(segments: list[str]) -> list[str]:
    """Drop repeated segments (case-insensitively), keeping the first spelling."""
    seen: dict[str, str] = {}
    for segment in segments:
        seen.setdefault(segment.casefold(), segment)
    return list(seen.values())


class ProjectIn(BaseModel):
    """A project as created or replaced by a user."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    market_segments: Segments
    notes: Notes = ""

    _segments = field_validator("market_segments")(classmethod(lambda cls, v: _dedupe(v)))


class ProjectPatch(BaseModel):
    """A partial update of a project: only the fields given change (none may be null)."""

    model_config = ConfigDict(extra="forbid")

    # Omitted means unchanged; an explicit null is refused by the field's type.
    name: Name = Field(default=None, json_schema_extra=_omit_default)
    market_segments: Segments = Field(default=None, json_schema_extra=_omit_default)
    notes: Notes = Field(default=None, json_schema_extra=_omit_default)

    _segments = field_validator("market_segments")(classmethod(lambda cls, v: _dedupe(v)))


class ProjectOut(BaseModel):
    """A project as returned by the API."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    market_segments: list[str]
    notes: str
    created_at: datetime
    updated_at: datetime


class ProjectList(BaseModel):
    """A page of the user's projects."""

    items: list[ProjectOut]
    total: int
