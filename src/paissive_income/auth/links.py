"""Signed one-time links: an admin's password reset link and an invitation to register.

Nothing is stored: each link is signed with SECRET_KEY and expires. A reset link names the
user, their session version and a digest of their password hash, so it works once (setting
the password changes both) and a newer link or a logout retires it. An invitation names one
email address, so it lets one person register once (the email is then taken).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

RESET_LINK_SECONDS = 24 * 3600
INVITATION_SECONDS = 7 * 24 * 3600
_RESET_SALT = "paissive-income-password-reset"
_INVITATION_SALT = "paissive-income-invitation"
MAX_LINK_TOKEN_LENGTH = 1000


@dataclass(frozen=True)
class ResetClaim:
    """Whom a reset link is for, and the account state it was issued against."""

    user_id: int
    session_version: int
    password_digest: str


def password_digest(password_hash: str) -> str:
    """Return a short digest of a password hash (the hash itself never goes in a link)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def make_reset_token(secret_key: str, claim: ResetClaim) -> str:
    """Return the signed token of a password reset link."""
    data = [claim.user_id, claim.session_version, claim.password_digest]
    return URLSafeTimedSerializer(secret_key, salt=_RESET_SALT).dumps(data)


def read_reset_token(secret_key: str, token: str) -> ResetClaim | None:
    """Return the claim of a genuine, unexpired reset token, else None."""
    data = _load(secret_key, _RESET_SALT, token, RESET_LINK_SECONDS)
    if not (isinstance(data, list) and len(data) == 3):
        return None
    user_id, version, digest = data
    if not (type(user_id) is int and type(version) is int and isinstance(digest, str)):
        return None
    return ResetClaim(user_id, version, digest)


def make_invitation_token(secret_key: str, email: str) -> str:
    """Return the signed token of an invitation for ``email``."""
    return URLSafeTimedSerializer(secret_key, salt=_INVITATION_SALT).dumps(email)


def read_invitation_token(secret_key: str, token: str) -> str | None:
    """Return the invited email of a genuine, unexpired invitation token, else None."""
    email = _load(secret_key, _INVITATION_SALT, token, INVITATION_SECONDS)
    return email if isinstance(email, str) else None


def _load(secret_key: str, salt: str, token: str, max_age: int):
    if len(token) > MAX_LINK_TOKEN_LENGTH:
        return None
    try:
        return URLSafeTimedSerializer(secret_key, salt=salt).loads(token, max_age=max_age)
    except (BadData, UnicodeError, ValueError):
        return None
