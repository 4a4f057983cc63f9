"""Pydantic schemas for accounts and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

MIN_PASSWORD_LENGTH = 10


def normalise_email(value: str) -> str:
    """Return ``value`` trimmed and lower-cased, or raise ValueError if it is not an email."""
    email = value.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 254:
        raise ValueError("is not a valid email address")
    return email


class Credentials(BaseModel):
    """An email and a password as typed at registration."""

    email: str
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalise_email(value)


class TokenOut(BaseModel):
    """An API token as listed (never the secret itself)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
