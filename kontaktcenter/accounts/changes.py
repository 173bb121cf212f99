"""The admin audit log (user_changes): every change to a user, by a page or the command line.

Written like the sign-in log (auth/audit.py): one row per change, who and when, plus the
changed fields before → after. A snapshot holds only what an administrator sets, so no
password hash or token can end up here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth import audit
from ..directory.models import User
from .models import CHANGE_ACTIONS, UserChange


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an administrator (by a page) or the command line."""

    name: str
    client: audit.Client
    user_id: int | None = None


CLI = Actor(name="cli", client=audit.CLI)


def snapshot(user: User) -> dict[str, Any]:
    """The fields an administrator sets, as plain values (codes, sorted lists)."""
    return {
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "department": user.department.code if user.department else None,
        "location": user.location.code if user.location else None,
        "queues": sorted(q.code for q in user.queues),
        "services": sorted(s.code for s in user.services),
        "languages": sorted(user.languages),
        "phone_identity": user.phone_identity,
        "max_open_tickets": user.max_open_tickets,
        "active": user.active,
    }


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    """{field: [before, after]} for each field that differs (None for a side that is absent)."""
    before, after = before or {}, after or {}
    return {key: [before.get(key), after.get(key)] for key in {**before, **after} if before.get(key) != after.get(key)}


def record(
    session: Session, action: str, user: User, actor: Actor, at: datetime, changes: dict[str, list[Any]] | None = None
) -> UserChange:
    if action not in CHANGE_ACTIONS:
        raise ValueError(f"unknown user change {action!r}")
    row = UserChange(
        at=at,
        user_id=user.id,
        username=user.username,
        actor_id=actor.user_id,
        actor=actor.name[:80],
        action=action,
        changes=json.dumps(changes or {}, ensure_ascii=False, sort_keys=True),
    )
    session.add(row)
    return row


def history(
    session: Session,
    *,
    user_id: int | None = None,
    actor: str = "",
    action: str = "",
    limit: int = 200,
    offset: int = 0,
) -> list[UserChange]:
    """The log for administrators, newest first."""
    stmt = select(UserChange)
    if user_id is not None:
        stmt = stmt.where(UserChange.user_id == user_id)
    if actor:
        stmt = stmt.where(UserChange.actor == actor.strip().lower())
    if action:
        stmt = stmt.where(UserChange.action == action)
    return list(session.scalars(stmt.order_by(UserChange.at.desc(), UserChange.id.desc()).limit(limit).offset(offset)))


def changed_fields(row: UserChange) -> dict[str, list[Any]]:
    return json.loads(row.changes or "{}")
