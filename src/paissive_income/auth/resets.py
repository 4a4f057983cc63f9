"""An admin's password reset: the old password stops working and a one-time link is issued."""

from __future__ import annotations

import secrets

from sqlalchemy import update
from sqlalchemy.orm import Session

from paissive_income.auth.links import (
    ResetClaim,
    make_reset_token,
    password_digest,
    read_reset_token,
)
from paissive_income.auth.models import User
from paissive_income.auth.passwords import hash_password
from paissive_income.auth.schemas import NewPassword
from paissive_income.auth.service import AccountError, end_sessions

LINK_UNUSABLE = (
    "This reset link has expired or was already used. Ask your administrator for a new one."
)


def start_password_reset(session: Session, *, actor: User, user_id: int, secret_key: str) -> str:
    """Retire the user's password and sessions; return the token of their one-time reset link."""
    user = session.get(User, user_id)
    if user is None:
        raise AccountError("No such user.")
    if user.id == actor.id:
        raise AccountError("Change your own password on your account page.")
    # Nobody knows this password: the old one stops working now, not when the link is used.
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    session.commit()
    end_sessions(session, user=user)  # also retires any earlier reset link
    claim = ResetClaim(user.id, user.session_version, password_digest(user.password_hash))
    return make_reset_token(secret_key, claim)


def user_for_reset(session: Session, *, secret_key: str, token: str) -> User | None:
    """Return the enabled user a reset token is for while it is still unused, else None."""
    claim = read_reset_token(secret_key, token)
    user = session.get(User, claim.user_id) if claim else None
    if user is None or user.disabled or user.session_version != claim.session_version:
        return None
    if password_digest(user.password_hash) != claim.password_digest:
        return None
    return user


def finish_password_reset(
    session: Session, *, secret_key: str, token: str, new_password: str
) -> User:
    """Set the password a reset link was issued for; the link works once, even under a race."""
    user = user_for_reset(session, secret_key=secret_key, token=token)
    if user is None:
        raise AccountError(LINK_UNUSABLE)
    checked = NewPassword(password=new_password)
    # Only the first of two simultaneous uses finds the version and hash it was issued against.
    result = session.execute(
        update(User)
        .where(
            User.id == user.id,
            User.session_version == user.session_version,
            User.password_hash == user.password_hash,
        )
        .values(
            password_hash=hash_password(checked.password),
            session_version=User.session_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        raise AccountError(LINK_UNUSABLE)
    session.commit()
    session.refresh(user)
    return user
