"""Server-side sign-in sessions and the sign-in audit log."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow

# Why a session ended (revoked_reason).
END_REASONS = ("logout", "password", "deactivated", "revoked")

# What the audit log records (AuthEvent.kind).
EVENT_KINDS = (
    "login",  # signed in
    "login_failed",  # wrong username or password (the username as typed, never the password)
    "login_throttled",  # refused before the password was checked: too many failures
    "logout",  # signed out: every session of the user ended
    "password_changed",  # every session of the user ended
    "deactivated",  # every session of the user ended
    "sessions_revoked",  # an administrator ended every session of the user
    "sso_refused",  # single sign-on refused: a token that failed verification, or no access here
    "sso_account",  # single sign-on made, updated or reactivated the account (detail: what changed)
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UserSession(Base):
    """One signed-in browser. The cookie carries a random token; only its hash is stored,
    so a copy of this table signs no one in."""

    __tablename__ = "user_sessions"
    __table_args__ = (CheckConstraint(_in("revoked_reason", END_REASONS), name="revoked_reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # A digest of the password hash at sign-in: a password set by any path ends the session.
    password_stamp: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Written at most once a minute (sessions.TOUCH_EVERY), not on every request.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(20))


class AuthEvent(Base):
    """Every sign-in, failed or throttled sign-in, sign-out and ending of sessions."""

    __tablename__ = "auth_events"
    __table_args__ = (CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # The account, when the username belongs to one (also for failed attempts).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    username: Mapped[str] = mapped_column(String(80), default="", index=True)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(String(200), default="")
