"""One-time set-password links and the admin audit log of changes to users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow

# Why a link was issued: the first password of a new account, or a reset.
LINK_PURPOSES = ("welcome", "reset")
# Why a link stopped working before its expiry.
LINK_END_REASONS = ("used", "replaced")

# What the admin audit log records (UserChange.action).
CHANGE_ACTIONS = (
    "created",
    "updated",
    "deactivated",
    "reactivated",
    "link_issued",  # a one-time set-password link was made (printed by the CLI or e-mailed)
    "password_set",  # an administrator set the password at the command line
    "two_factor_reset",  # an administrator removed the user's authenticator (a lost phone)
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PasswordLink(Base):
    """A one-time link to set a password. The link carries a random token; only its hash is
    stored. It works once, until expires_at, while it is the user's newest link and while
    the password is the one it was issued against (password_stamp): a password set any
    other way ends it too."""

    __tablename__ = "password_links"
    __table_args__ = (
        CheckConstraint(_in("purpose", LINK_PURPOSES), name="purpose"),
        CheckConstraint(_in("ended_reason", LINK_END_REASONS), name="ended_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    password_stamp: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_reason: Mapped[str | None] = mapped_column(String(10))


class UserChange(Base):
    """One change to a user by an administrator (page) or at the command line: who, when,
    what, and the changed fields before → after as JSON. Never a password hash or a token."""

    __tablename__ = "user_changes"
    __table_args__ = (CheckConstraint(_in("action", CHANGE_ACTIONS), name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The username at the time, kept if the account is ever deleted.
    username: Mapped[str] = mapped_column(String(80))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The administrator's username, or "cli" for the command line.
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    # {"field": [before, after], …}
    changes: Mapped[str] = mapped_column(Text, default="{}")
