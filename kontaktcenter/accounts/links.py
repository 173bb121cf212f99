"""One-time set-password links: a random token in the link, only its hash stored.

A link works once, until it expires, while it is the user's newest link, while the
account is active, and while the password is still the one it was issued against (a
password set any other way ends it: the same stamp the sessions use).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..auth import audit, sessions
from ..auth.passwords import check_password
from ..auth.service import change_password
from ..directory.models import User
from .models import PasswordLink

PATH = "/konto/satt-losenord/"


def url(base_url: str, token: str) -> str:
    """The absolute link (PUBLIC_BASE_URL: the address people reach the app at)."""
    return base_url.rstrip("/") + PATH + token


def issue(session: Session, user: User, purpose: str, at: datetime, lifetime: timedelta) -> str:
    """A new link for `user`; every older open link of theirs stops working. Returns the token."""
    session.execute(
        update(PasswordLink)
        .where(PasswordLink.user_id == user.id, PasswordLink.ended_at.is_(None))
        .values(ended_at=at, ended_reason="replaced")
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordLink(
            token_hash=sessions.token_hash(token),
            user_id=user.id,
            purpose=purpose,
            password_stamp=sessions.password_stamp(user),
            created_at=at,
            expires_at=at + lifetime,
        )
    )
    session.flush()
    return token


def find(session: Session, token: str, at: datetime) -> tuple[PasswordLink, User] | None:
    """The link and its user while the link still works; None for an unknown, used,
    replaced or expired link alike (the caller says the same thing for each)."""
    if not token or len(token) > 100:
        return None
    row = session.execute(
        select(PasswordLink, User)
        .join(User, User.id == PasswordLink.user_id)
        .where(PasswordLink.token_hash == sessions.token_hash(token))
    ).first()
    if row is None:
        return None
    link, user = row
    if (
        link.ended_at is not None
        or at >= link.expires_at
        or not user.active
        or link.password_stamp != sessions.password_stamp(user)
    ):
        return None
    return link, user


def redeem(session: Session, token: str, new_password: str, at: datetime, client: audit.Client) -> User | None:
    """Set the password through the link and end the link; None (nothing changed) when the
    link does not work. Raises passwords.WeakPassword (nothing changed) for a weak password."""
    found = find(session, token, at)
    if found is None:
        return None
    link, user = found
    check_password(new_password, user.username)
    # Ended by a conditional update: of two requests with the same link, only one sets a password.
    ended = session.execute(
        update(PasswordLink)
        .where(PasswordLink.id == link.id, PasswordLink.ended_at.is_(None))
        .values(ended_at=at, ended_reason="used")
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:
        return None
    change_password(session, user, new_password, at, client)  # ends every session of the user
    return user
