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

from paissive_income.text import MULTI_LINE_PATTERN, VISIBLE_LINE_PATTERN, check_text


def _strip(value: str) -> str:
    """Drop surrounding whitespace; what is left must be visible."""
    value = value.strip()
    if not value:
        raise ValueError("must contain a visible character")
    return value


def _line(value: str) -> str:
    return check_text(value)


def _multi_line(value: str) -> str:
    return check_text(value, multiline=True)


# Limits apply to the text as sent (as the OpenAPI schema says); then spaces around are dropped.
# The pattern documents the shared text rule; the validators enforce it with a clear message.
Segment = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_line),
    AfterValidator(_strip),
    Field(json_schema_extra={"pattern": VISIBLE_LINE_PATTERN}),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=120),
    AfterValidator(_line),
    AfterValidator(_strip),
    Field(json_schema_extra={"pattern": VISIBLE_LINE_PATTERN}),
]
Segments = Annotated[list[Segment], Field(min_length=1, max_length=20)]
Notes = Annotated[
    str,
    StringConstraints(max_length=10_000),
    AfterValidator(_multi_line),
    Field(json_schema_extra={"pattern": MULTI_LINE_PATTERN}),
]


def _omit_defaults(schema: dict) -> None:
    """Leave the patch fields' null defaults out of the JSON schema, and give an example."""
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)
    schema["examples"] = [{"notes": "Evenings and weekends only."}]


# The example the API reference page shows in its curl commands.
PROJECT_EXAMPLE = {
    "name": "Side project",
    "market_segments": ["freelance illustrators", "indie game studios"],
    "notes": "Evenings and weekends only.",
}


def _dedupe(segments: list[str]) -> list[str]:
    """Drop repeated segments (case-insensitively), keeping the first spelling."""
    seen: dict[str, str] = {}
    for segment in segments:
        seen.setdefault(segment.casefold(), segment)
    return list(seen.values())


class ProjectIn(BaseModel):
    """A project as created or replaced by a user."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PROJECT_EXAMPLE]})

    name: Name
    market_segments: Segments
    notes: Notes = ""

    _segments = field_validator("market_segments")(classmethod(lambda cls, v: _dedupe(v)))


class ProjectPatch(BaseModel):
    """A partial update of a project: only the fields given change (none may be null)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_omit_defaults)

    # Omitted means unchanged; an explicit null is refused by the field's type.
    name: Name = None
    market_segments: Segments = None
    notes: Notes = None

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
