"""The two failures of secret resolution, each worded without a secret's value."""

from __future__ import annotations


class SecretsError(Exception):
    """A secrets problem stopping start-up, worded as one line naming the variable."""


class SecretUnavailable(Exception):
    """A backend could not read the secret ``name`` (``reason`` never holds its value)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)
        self.name = name
        self.reason = " ".join(reason.split())[:300] or "unknown error"
