"""Server-side sign-in sessions, two-factor authenticators and the sign-in audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
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
    "code_failed",  # a wrong, replayed or used two-factor code (at sign-in or on the account page)
    "recovery_code_used",  # signed in with a recovery code instead of the authenticator's code
    "two_factor_enrolled",  # an authenticator was confirmed (new recovery codes with it)
    "recovery_codes_new",  # new recovery codes: the old ones no longer work
    "two_factor_off",  # the user turned two-factor sign-in off (with a current code)
    "two_factor_reset",  # an administrator removed the user's authenticator and recovery codes
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


class TwoFactor(Base):
    """A user's TOTP authenticator (RFC 6238). Unconfirmed (confirmed_at empty) until the user
    has typed a valid code from it; only a confirmed one is asked for at sign-in.

    The shared secret is stored encrypted with a key derived from SECRET_KEY
    (two_factor.SecretBox), so a copy of the database alone does not let anyone make codes.
    """

    __tablename__ = "two_factor"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret_encrypted: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column()
    # The last 30-second step whose code was accepted: that code and earlier ones are refused
    # (no replay of a code seen over a shoulder or in a proxy log).
    last_step: Mapped[int | None] = mapped_column(Integer)


class RecoveryCode(Base):
    """One of a user's one-time recovery codes, accepted instead of the authenticator's code.
    Only a hash is stored; new codes replace every old one."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()
