"""Account and token operations; every function takes an explicit session."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paissive_income.auth.models import ApiToken, Role, User
from paissive_income.auth.passwords import hash_password, needs_rehash, verify_password
from paissive_income.auth.schemas import Credentials, NewPassword
from paissive_income.db.base import utcnow
from paissive_income.text import control_character_error

TOKEN_PREFIX = "pi_"


class AccountError(ValueError):
    """An account operation refused, with a message safe to show the user."""


REGISTRATION_FAILED = "Registration failed: check your details, or log in instead."


def register_user(session: Session, *, email: str, password: str) -> User:
    """Create an account; the very first account becomes an admin, even under a race."""
    credentials = Credentials(email=email, password=password)
    if _email_taken(session, credentials.email):
        raise AccountError(REGISTRATION_FAILED)
    password_hash = hash_password(credentials.password)
    # Try as the first admin only when no account exists; the unique bootstrap_admin column
    # lets exactly one simultaneous first registration win, the others retry as members.
    for as_admin in (True, False) if not has_users(session) else (False,):
        user = User(
            email=credentials.email,
            password_hash=password_hash,
            role=Role.ADMIN if as_admin else Role.MEMBER,
            bootstrap_admin=True if as_admin else None,
        )
        session.add(user)
        try:
            session.commit()
            return user
        except IntegrityError:
            session.rollback()
            # The same email registered at the same moment is a form error, never a 500.
            if _email_taken(session, credentials.email):
                raise AccountError(REGISTRATION_FAILED) from None
    raise AccountError(REGISTRATION_FAILED)


def _email_taken(session: Session, email: str) -> bool:
    return session.scalar(select(User.id).where(User.email == email)) is not None


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    """Return the active user whose password matches, else None (same cost either way)."""
    email = email.strip().lower()
    # A control character cannot be in a stored email, and NUL would fail PostgreSQL's query.
    user = None if control_character_error(email) else _user_by_email(session, email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    if user.disabled:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.commit()
    return user


def _user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def change_password(
    session: Session, *, user: User, current_password: str, new_password: str
) -> None:
    """Set a new password after checking the current one; end every other session."""
    if not verify_password(user.password_hash, current_password):
        raise AccountError("The current password is wrong.")
    checked = NewPassword(password=new_password)
    user.password_hash = hash_password(checked.password)
    session.commit()
    end_sessions(session, user=user)


def end_sessions(session: Session, *, user: User) -> None:
    """End every session and remember cookie of ``user`` (logout, password change, disable)."""
    # One UPDATE, so two workers ending sessions at once both count.
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(user)


def create_admin(session: Session, *, email: str, password: str) -> User:
    """Create an admin account, or promote an existing one and reset its password."""
    credentials = Credentials(email=email, password=password)
    user = session.scalar(select(User).where(User.email == credentials.email))
    if user is None:
        user = User(email=credentials.email)
        session.add(user)
    user.password_hash = hash_password(credentials.password)
    user.role = Role.ADMIN
    user.disabled = False
    session.commit()
    return user


def has_users(session: Session) -> bool:
    """Say whether any account exists yet."""
    return session.scalar(select(User.id).limit(1)) is not None


def registration_open(session: Session, *, open_registration: bool) -> bool:
    """Say whether anyone may register: always for the first (admin) account, then by setting."""
    return open_registration or not has_users(session)


def list_users(session: Session) -> list[User]:
    """Return every user, oldest first."""
    return list(session.scalars(select(User).order_by(User.id)))


def get_user(session: Session, user_id: int) -> User:
    """Return the user with ``user_id``, or raise AccountError."""
    user = session.get(User, user_id)
    if user is None:
        raise AccountError("No such user.")
    return user


def update_user(session: Session, *, actor: User, user_id: int, role: Role, disabled: bool) -> User:
    """Change a user's role or disabled flag; an admin cannot lock themselves out."""
    user = get_user(session, user_id)
    if user.id == actor.id and (role != Role.ADMIN or disabled):
        raise AccountError("You cannot remove your own admin role or disable yourself.")
    newly_disabled = disabled and not user.disabled
    user.role = role
    user.disabled = disabled
    session.commit()
    if newly_disabled:
        end_sessions(session, user=user)
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token; return the row and the secret, which is shown once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("Token name must be 1 to 100 characters.")
    if error := control_character_error(name):
        raise AccountError(f"Token name {error}.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:10],
        token_hash=_hash_token(secret),
        created_at=utcnow(),
    )
    session.add(token)
    session.commit()
    return token, secret


def list_tokens(session: Session, *, user: User) -> list[ApiToken]:
    """Return a user's tokens, newest first."""
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def get_token(session: Session, *, user: User, token_id: int) -> ApiToken:
    """Return one of the user's own tokens (another user's is "No such token.")."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise AccountError("No such token.")
    return token


def revoke_token(session: Session, *, user: User, token_id: int) -> None:
    """Revoke one of the user's own tokens."""
    token = get_token(session, user=user, token_id=token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.commit()


def user_for_token(session: Session, secret: str) -> User | None:
    """Return the active owner of a valid, unrevoked token, recording its use."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(secret)))
    if token is None or token.revoked_at is not None or token.user.disabled:
        return None
    token.last_used_at = utcnow()
    session.commit()
    return token.user
