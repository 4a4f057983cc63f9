"""Pydantic schemas for accounts and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from paissive_income.text import check_text

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


def normalise_email(value: str) -> str:
    """Return ``value`` trimmed and lower-cased, or raise ValueError if it is not an email."""
    email = check_text(value).strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 254:
        raise ValueError("is not a valid email address")
    return email


# Refused characters in a password could never be typed again at login (see text.py).
Password = Annotated[
    str,
    Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    AfterValidator(check_text),
]


class Credentials(BaseModel):
    """An email and a password as typed at registration."""

    email: str
    password: Password

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalise_email(value)


class NewPassword(BaseModel):
    """A new password, held to the same rules as at registration."""

    password: Password


class TokenOut(BaseModel):
    """An API token as listed (never the secret itself)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
