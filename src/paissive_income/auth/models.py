"""User accounts and their personal API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from paissive_income.db.base import Base, TimestampMixin, UTCDateTime


class Role(str, enum.Enum):
    """What a user may do: admins manage users, members manage their own projects."""

    ADMIN = "admin"
    MEMBER = "member"


class User(TimestampMixin, Base):
    """A person who can log in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=Role.MEMBER,
    )
    disabled: Mapped[bool] = mapped_column(default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every session's user id: bumping it (logout, password change, disabling) ends
    # every session and remember cookie issued before, on every worker at once.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # True only on the account registration made the instance's first admin, NULL elsewhere:
    # the unique constraint lets exactly one of several simultaneous first registrations win.
    bootstrap_admin: Mapped[bool | None] = mapped_column(unique=True)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    # Flask-Login protocol.
    @property
    def is_active(self) -> bool:
        """Say whether the account may log in."""
        return not self.disabled

    @property
    def is_authenticated(self) -> bool:
        """Say that a loaded user is authenticated (Flask-Login protocol)."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """Say that a loaded user is not anonymous (Flask-Login protocol)."""
        return False

    @property
    def is_admin(self) -> bool:
        """Say whether the user is an administrator."""
        return self.role == Role.ADMIN

    def get_id(self) -> str:
        """Return the id Flask-Login keeps in the session: the user id and session version."""
        return session_id(self.id, self.session_version)


def session_id(user_id: int, version: int) -> str:
    """Return the string a session (or remember cookie) holds for a user at ``version``."""
    return f"{user_id}:{version}"


def parse_session_id(value: str) -> tuple[int, int] | None:
    """Return (user id, session version) from a session's user id, or None if malformed."""
    user_id, _, version = value.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and version.isascii() and version.isdigit()):
        return None
    return int(user_id), int(version)


class ApiToken(Base):
    """A personal API token; only its SHA-256 hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")
