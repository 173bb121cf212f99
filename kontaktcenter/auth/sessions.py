"""Server-side sessions: a cookie is only as good as its row in user_sessions.

The signed cookie holds a random token; the row (found by the token's hash) says whether
the session still lives. Signing out, a new password and deactivation end every session
of the user at once, so a copied cookie stops working everywhere; a session also ends
after SESSION_IDLE_MINUTES without a request and SESSION_LIFETIME_HOURS after sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..database import utcnow
from ..directory.models import User
from .models import UserSession

# last_seen_at is written at most this often per session: an idle timeout is measured to
# the minute, and a busy agent's page loads cost no write each.
TOUCH_EVERY = timedelta(minutes=1)


def now() -> datetime:
    """The clock sessions are measured by (tests set it)."""
    return utcnow()


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    lifetime: timedelta

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(
            idle=timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
            lifetime=timedelta(hours=config["SESSION_LIFETIME_HOURS"]),
        )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_stamp(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def start(session: Session, user: User, at: datetime) -> str:
    """A new session for `user`; returns the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=token_hash(token),
            user_id=user.id,
            password_stamp=password_stamp(user),
            created_at=at,
            last_seen_at=at,
        )
    )
    return token


def find(session: Session, token: str) -> tuple[UserSession, User] | None:
    """The session and its user, in one query (it runs on every signed-in request)."""
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash(token))
    ).first()
    return (row[0], row[1]) if row else None


def end_reason(row: UserSession, user: User, at: datetime, limits: Limits) -> str | None:
    """Why this session no longer signs anyone in, or None while it lives."""
    if row.revoked_at is not None:
        return row.revoked_reason or "revoked"
    if not user.active:
        return "deactivated"
    if row.password_stamp != password_stamp(user):
        return "password"
    if at - row.created_at >= limits.lifetime:
        return "lifetime"
    if at - row.last_seen_at >= limits.idle:
        return "idle"
    return None


def still_signed_in(session: Session, token: str, user_id: int, at: datetime, limits: Limits) -> bool:
    """Whether the session of `token` still signs in `user_id` (a long-lived request, such as a
    live event stream, asks again now and then: signing out elsewhere must reach it too)."""
    found = find(session, token) if token else None
    return found is not None and found[1].id == user_id and end_reason(found[0], found[1], at, limits) is None


def touch_due(row: UserSession, at: datetime) -> bool:
    return at - row.last_seen_at >= TOUCH_EVERY


def touch(session: Session, session_id: int, at: datetime) -> None:
    # The condition keeps two requests of one minute from both writing.
    session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.last_seen_at <= at - TOUCH_EVERY)
        .values(last_seen_at=at)
    )


def revoke_all(session: Session, user_id: int, reason: str, at: datetime) -> int:
    """End every live session of the user; how many there were."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=at, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def prune(session: Session, at: datetime, lifetime: timedelta) -> int:
    """Forget sessions that ended by their lifetime at least a day ago (every session has)."""
    result = session.execute(delete(UserSession).where(UserSession.created_at < at - lifetime - timedelta(days=1)))
    return result.rowcount or 0
