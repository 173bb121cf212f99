"""The sign-in audit log (auth_events): written by the sign-in pages and account functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import EVENT_KINDS, AuthEvent


@dataclass(frozen=True)
class Client:
    """Where a sign-in event came from: the address and a short user agent."""

    ip: str = ""
    user_agent: str = ""


CLI = Client(ip="", user_agent="kontaktcenter (command line)")


def record(
    session: Session,
    kind: str,
    at: datetime,
    *,
    client: Client,
    user_id: int | None = None,
    username: str = "",
    detail: str = "",
) -> AuthEvent:
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown auth event {kind!r}")
    event = AuthEvent(
        at=at,
        kind=kind,
        user_id=user_id,
        username=username.strip().lower()[:80],
        client_ip=client.ip[:64],
        user_agent=client.user_agent[:200],
        detail=detail[:200],
    )
    session.add(event)
    return event


def events(
    session: Session, *, username: str = "", kind: str = "", limit: int = 200, offset: int = 0
) -> list[AuthEvent]:
    """The log for administrators, newest first."""
    stmt = select(AuthEvent)
    if username:
        stmt = stmt.where(AuthEvent.username == username.strip().lower())
    if kind:
        stmt = stmt.where(AuthEvent.kind == kind)
    return list(session.scalars(stmt.order_by(AuthEvent.at.desc(), AuthEvent.id.desc()).limit(limit).offset(offset)))
