"""Who may follow which live topic, and which notices reach them (the need-to-know rule, live)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..directory.models import Queue, User
from ..errors import DomainError
from ..tickets.access import DEPARTMENT_ROLES
from .notices import Notice

# Who may open a live stream, and the wallboard.
LIVE_ROLES = ("agent", "caseworker", "coordinator", "manager", "admin")
WALLBOARD_ROLES = ("agent", "coordinator", "manager", "admin")
TOPIC_RE = re.compile(r"^(?:presence|(?:queue|department|user):[1-9][0-9]{0,9})$")
MAX_TOPICS = 50


class TopicError(DomainError):
    """A live stream asked for a topic that does not exist or that its user may not follow."""

    status = 400


class TopicForbidden(TopicError):
    status = 403


def visible_queues(session: Session, user: User) -> list[Queue]:
    """The queues whose live figures the user may follow (and see on the wallboard).

    Agents: their own queues and the kontaktcenter's first line; caseworkers and
    coordinators: their own queues and their department's; managers: every queue (the
    wallboard's counts are aggregates, never a ticket).
    """
    stmt = select(Queue).where(Queue.active.is_(True)).order_by(Queue.kind.desc(), Queue.code)
    own = {q.id for q in user.queues}
    queues = list(session.scalars(stmt))
    if user.role in ("manager", "admin"):
        return queues
    if user.role == "agent":
        return [q for q in queues if q.id in own or q.kind == "first_line"]
    if user.role in DEPARTMENT_ROLES:
        return [q for q in queues if q.id in own or q.department_id == user.department_id]
    return []


@dataclass(frozen=True)
class Listener:
    """What a stream needs to know of its user, as plain values (no session held while streaming)."""

    user_id: int
    role: str
    department_id: int | None
    topics: frozenset[str]

    def receives(self, notice: Notice) -> Notice | None:
        """The notice as this user may receive it, or None."""
        if notice.topic not in self.topics:
            return None
        audience = notice.audience
        if audience is None or self.user_id in audience.users:
            return notice
        if self.role in DEPARTMENT_ROLES and self.department_id in audience.departments:
            return notice
        if notice.kind.startswith("call.") or notice.kind.startswith("callback."):
            # A confidential errand's call still counts in the queue's figures: say only that they changed.
            return Notice(
                notice.topic, "queue.changed", {"queue": notice.data.get("queue")}, None, notice.id, notice.at
            )
        return None


def parse_topics(raw: str) -> list[str]:
    topics = [t.strip() for t in raw.split(",") if t.strip()]
    if not topics:
        raise TopicError("Ange minst ett ämne att följa.", field="topics")
    if len(topics) > MAX_TOPICS:
        raise TopicError("För många ämnen att följa.", field="topics")
    for topic in topics:
        if not TOPIC_RE.match(topic):
            raise TopicError("Okänt ämne att följa.", field="topics")
    return sorted(set(topics))


def listener_for(session: Session, user: User, topics: list[str]) -> Listener:
    """The user's listener for `topics`; TopicForbidden when one is not theirs to follow."""
    if user.role not in LIVE_ROLES:
        raise TopicForbidden("Du får inte följa ändringarna.")
    queue_ids = {q.id for q in visible_queues(session, user)}
    for topic in topics:
        kind, _, value = topic.partition(":")
        allowed = (
            (kind == "presence" and user.role in WALLBOARD_ROLES)
            or (kind == "queue" and int(value) in queue_ids)
            or (kind == "user" and int(value) == user.id)
            or (
                kind == "department"
                and int(value) == user.department_id
                and user.role in (*DEPARTMENT_ROLES, "manager")
            )
        )
        if not allowed:
            raise TopicForbidden("Du får inte följa det ämnet.", field="topics")
    return Listener(user.id, user.role, user.department_id, frozenset(topics))


def passive_request(request) -> bool:
    """A request the browser makes by itself for a live page (the event stream, a region's
    refresh), not the user's own activity."""
    return request.endpoint == "live.live_stream" or request.headers.get("X-Live-Refresh") == "1"
