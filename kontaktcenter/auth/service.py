"""Passwords, sign-in and the account changes that end sessions, as plain functions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..directory.models import User
from . import audit, sessions
from .passwords import MIN_LENGTH, check_password

# Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")

MIN_PASSWORD_LENGTH = MIN_LENGTH


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = find_user(session, username)
    # An account of the identity provider signs in there only: a local password set on it (by
    # the command line, say) would skip both the provider's and the local second factor.
    if user is None or not user.active or user.oidc_subject:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def sign_in(session: Session, user: User, at: datetime, client: audit.Client, detail: str = "") -> str:
    """Start a session and log the sign-in (`detail`: how, e.g. single sign-on); the token for the cookie."""
    token = sessions.start(session, user, at)
    audit.record(session, "login", at, client=client, user_id=user.id, username=user.username, detail=detail)
    return token


def sign_out(session: Session, user: User, at: datetime, client: audit.Client) -> int:
    """Signing out ends every session of the user, on every browser (a copied cookie too)."""
    ended = sessions.revoke_all(session, user.id, "logout", at)
    audit.record(
        session, "logout", at, client=client, user_id=user.id, username=user.username, detail=f"sessions ended: {ended}"
    )
    return ended


def change_password(session: Session, user: User, new_password: str, at: datetime, client: audit.Client) -> int:
    """Set a new password and end every session of the user; how many ended.

    Raises passwords.WeakPassword (nothing changed) when it breaks the policy.
    """
    check_password(new_password, user.username)
    user.password_hash = hash_password(new_password)
    ended = sessions.revoke_all(session, user.id, "password", at)
    audit.record(
        session,
        "password_changed",
        at,
        client=client,
        user_id=user.id,
        username=user.username,
        detail=f"sessions ended: {ended}",
    )
    return ended


def deactivate(session: Session, user: User, at: datetime, client: audit.Client, why: str = "") -> int:
    """The user can no longer sign in, and every session of theirs ends now; `why` starts the log's detail."""
    user.active = False
    ended = sessions.revoke_all(session, user.id, "deactivated", at)
    detail = f"{why}; sessions ended: {ended}" if why else f"sessions ended: {ended}"
    audit.record(session, "deactivated", at, client=client, user_id=user.id, username=user.username, detail=detail)
    return ended


def end_sessions(session: Session, user: User, at: datetime, client: audit.Client) -> int:
    """An administrator ends every session of the user (e.g. a lost laptop)."""
    ended = sessions.revoke_all(session, user.id, "revoked", at)
    audit.record(
        session,
        "sessions_revoked",
        at,
        client=client,
        user_id=user.id,
        username=user.username,
        detail=f"sessions ended: {ended}",
    )
    return ended
