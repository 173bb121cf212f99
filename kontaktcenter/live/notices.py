"""Change notices: what changed (a topic, a kind and ids), collected at flush, sent after commit.

A notice names a queue, a ticket or contact id and what happened; never a citizen's name,
number or text, so it may pass through PostgreSQL, Redis and a browser's memory. Pages
that receive one fetch what they show again, through the access rules.

Topics:

| topic | what |
|---|---|
| `queue:<id>` | tickets created, claimed, resolved, escalated or moved in the queue; calls queued, answered, abandoned, ended; callbacks |
| `department:<id>` | escalations to the department (the inbox) |
| `user:<id>` | the user's own: a call they answered (the screen pop), tickets assigned to them, their presence |
| `presence` | an agent's presence changed (the wallboard's free/busy/away) |

A notice about a confidential or restricted ticket carries its audience: the departments
whose caseworkers and coordinators may read it and the users who took or hold it. Others
never learn of the ticket (a call's notice reaches them only as "the queue changed", which
the wallboard's aggregate counts show anyway).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from ..casework.models import Escalation
from ..contacts.calls import CallTransfer
from ..contacts.models import Contact
from ..directory.models import Queue, User
from ..intake.new_tickets import tickets_written
from ..tickets.models import Ticket

PENDING_KEY = "kontaktcenter.live.pending"


@dataclass(frozen=True)
class Audience:
    """Who may learn of a confidential or restricted ticket's change."""

    departments: frozenset[int] = frozenset()
    users: frozenset[int] = frozenset()

    def as_json(self) -> dict[str, list[int]]:
        return {"departments": sorted(self.departments), "users": sorted(self.users)}


@dataclass(frozen=True)
class Notice:
    topic: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    audience: Audience | None = None  # None: everyone who may follow the topic
    id: str = ""
    at: float = 0.0  # when it was sent (epoch seconds): the delay to a page is measurable

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "topic": self.topic, "kind": self.kind, "data": self.data, "at": self.at}
        if self.audience is not None:
            out["audience"] = self.audience.as_json()
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Notice:
        audience = raw.get("audience")
        return cls(
            topic=str(raw["topic"]),
            kind=str(raw["kind"]),
            data=dict(raw.get("data") or {}),
            audience=None
            if audience is None
            else Audience(frozenset(audience.get("departments", ())), frozenset(audience.get("users", ()))),
            id=str(raw.get("id", "")),
            at=float(raw.get("at", 0.0)),
        )

    def public(self) -> str:
        """The event's data as a browser receives it (no audience)."""
        return json.dumps({"topic": self.topic, "kind": self.kind, "at": self.at, **self.data}, separators=(",", ":"))


def stamped(notices: list[Notice]) -> list[Notice]:
    """Give each notice its id and send time: unique across processes, roughly time-ordered."""
    at = time.time()
    return [
        Notice(n.topic, n.kind, n.data, n.audience, f"{int(at * 1000)}-{secrets.token_hex(4)}", at) for n in notices
    ]


# -- what changed, from the flush --------------------------------------------------------


def _changed(obj: object, name: str) -> tuple[bool, Any]:
    """Whether the attribute changed in this flush, and its old value."""
    history = inspect(obj).attrs[name].history
    if not history.has_changes():
        return False, None
    return True, history.deleted[0] if history.deleted else None


def _audience(session: Session, ticket: Ticket | None) -> Audience | None:
    if ticket is None or not (ticket.confidential or ticket.restriction):
        return None
    departments = set()
    queue = session.get(Queue, ticket.queue_id) if ticket.queue_id else None
    if queue is not None:
        departments.add(queue.department_id)
    if ticket.service is not None:
        departments.add(ticket.service.department_id)
    users = {u for u in (ticket.taken_by_id, ticket.assignee_id) if u}
    users |= {c.answered_by_id for c in ticket.contacts if c.answered_by_id}
    users |= {c.registered_by_id for c in ticket.contacts if c.registered_by_id}
    return Audience(frozenset(departments), frozenset(users))


def _ticket_notices(session: Session, ticket: Ticket, new: bool) -> list[Notice]:
    audience = _audience(session, ticket)
    data = {"ticket": ticket.id, "queue": ticket.queue_id}
    out: list[Notice] = []

    def on_queue(kind: str, queue_id: int | None = None, **extra: Any) -> None:
        out.append(Notice(f"queue:{queue_id or ticket.queue_id}", kind, {**data, **extra}, audience))

    if new:
        on_queue("ticket.created")
        if ticket.assignee_id:
            out.append(Notice(f"user:{ticket.assignee_id}", "ticket.assigned", data, audience))
        return out
    moved, old_queue = _changed(ticket, "queue_id")
    if moved:
        if old_queue:
            on_queue("ticket.moved", old_queue)
        on_queue("ticket.escalated" if ticket.escalated else "ticket.moved")
    changed, old_status = _changed(ticket, "status")
    if changed:
        kind = {"resolved": "ticket.resolved", "reopened": "ticket.reopened"}.get(ticket.status, "ticket.status")
        on_queue(kind, status=ticket.status)
    changed, old_assignee = _changed(ticket, "assignee_id")
    if changed:
        on_queue("ticket.claimed" if ticket.assignee_id else "ticket.released")
        for user_id in {old_assignee, ticket.assignee_id} - {None}:
            out.append(Notice(f"user:{user_id}", "ticket.assigned", data, audience))
    for name in ("priority", "kind", "sla_breached", "restriction"):
        if _changed(ticket, name)[0] and not out:
            on_queue("ticket.changed")
    return out


def _contact_notices(session: Session, contact: Contact, new: bool) -> list[Notice]:
    if contact.channel != "phone" or contact.queue_id is None:
        return []
    ticket = contact.ticket if contact.ticket_id or contact.ticket is not None else None
    audience = _audience(session, ticket)
    data = {"contact": contact.id, "queue": contact.queue_id}
    if ticket is not None:
        data["ticket"] = ticket.id
    topic = f"queue:{contact.queue_id}"
    out: list[Notice] = []
    if new:
        if contact.outcome is None and contact.ended_at is None:
            out.append(Notice(topic, "call.queued", data, audience))
        return out
    if _changed(contact, "answered_at")[0] and contact.answered_at is not None:
        out.append(Notice(topic, "call.answered", data, audience))
        if contact.answered_by_id:
            # The screen pop: the agent's phone page fetches the caller's history.
            out.append(Notice(f"user:{contact.answered_by_id}", "call.connected", data))
    changed, _old = _changed(contact, "outcome")
    if changed and contact.outcome in ("abandoned", "callback_requested"):
        kind = "call.abandoned" if contact.outcome == "abandoned" else "callback.requested"
        out.append(Notice(topic, kind, data, audience))
    if _changed(contact, "ended_at")[0] and contact.ended_at is not None and not out:
        out.append(Notice(topic, "call.ended", data, audience))
    if _changed(contact, "callback_attempts")[0] or _changed(contact, "callback_completed_at")[0]:
        out.append(Notice(topic, "callback.attempted", data, audience))
    return out


def _escalation_notices(escalation: Escalation, new: bool) -> list[Notice]:
    data = {"escalation": escalation.id, "ticket": escalation.ticket_id}
    topic = f"department:{escalation.department_id}"
    if new:
        return [Notice(topic, "escalation.created", data)]
    if _changed(escalation, "accepted_at")[0] or _changed(escalation, "returned_at")[0]:
        return [Notice(topic, "escalation.changed", data)]
    return []


def _user_notices(user: User) -> list[Notice]:
    if not _changed(user, "presence")[0]:
        return []
    data = {"user": user.id, "presence": user.presence}
    return [Notice("presence", "agent.presence", data), Notice(f"user:{user.id}", "agent.presence", data)]


def collect(session: Session) -> list[Notice]:
    """The notices for what this flush wrote (new and changed rows)."""
    out: list[Notice] = []
    for obj, new in [(o, True) for o in session.new] + [(o, False) for o in session.dirty]:
        if isinstance(obj, Ticket):
            out += _ticket_notices(session, obj, new)
        elif isinstance(obj, Contact):
            out += _contact_notices(session, obj, new)
        elif isinstance(obj, Escalation):
            out += _escalation_notices(obj, new)
        elif isinstance(obj, User) and not new:
            out += _user_notices(obj)
        elif isinstance(obj, CallTransfer) and obj.user_id is not None:
            # The agent's live-call panel: the receiver answered, left, or the caller is back.
            out.append(Notice(f"user:{obj.user_id}", "call.transfer", {"transfer": obj.id, "status": obj.status}))
    # Escalations also change the ticket's queue: the department's inbox needs both.
    return _unique(out)


def _unique(notices: list[Notice]) -> list[Notice]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for n in notices:
        key = (n.topic, n.kind, json.dumps(n.data, sort_keys=True))
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out


# -- the session hooks ---------------------------------------------------------------------

_registered = False


def register(sender) -> None:
    """Install the hooks on every Session: collect in after_flush, send in after_commit.

    `sender(session, notices)` publishes; it finds the feed of the session's database.
    Nothing is sent for a rolled-back transaction, and a notice never precedes its commit
    (a page that fetches on it sees the change).
    """
    global _registered
    if _registered:
        return
    _registered = True

    @event.listens_for(Session, "after_flush")
    def _collect(session: Session, _context) -> None:
        notices = collect(session)
        if notices:
            session.info.setdefault(PENDING_KEY, []).extend(notices)

    @event.listens_for(Session, "after_commit")
    def _send(session: Session) -> None:
        notices = session.info.pop(PENDING_KEY, None)
        if notices:
            sender(session, _unique(notices))

    @event.listens_for(Session, "after_rollback")
    def _drop(session: Session) -> None:
        session.info.pop(PENDING_KEY, None)


@tickets_written.connect
def collect_written(session: Session, *, opened: list[tuple[Ticket, Contact]], calls: list[bool]) -> None:
    """Collect what a flush would have for new tickets and their opening contacts that bulk
    statements wrote (intake/new_tickets.py): no flush saw them. `opened` holds the tickets
    as written (their ids and columns) with the contact that opened each; `calls`, for each,
    whether its contact's "call queued" is to be collected here (no flush inserted it)."""
    if not _registered:
        return  # nobody sends them: do not let them pile up in the session
    notices: list[Notice] = []
    for (ticket, contact), call in zip(opened, calls, strict=True):
        notices += _ticket_notices(session, ticket, True)
        if call and contact.channel == "phone" and contact.outcome is None and contact.ended_at is None:
            data = {"contact": contact.id, "queue": ticket.queue_id, "ticket": ticket.id}
            notices.append(Notice(f"queue:{ticket.queue_id}", "call.queued", data, _audience(session, ticket)))
    if notices:
        session.info.setdefault(PENDING_KEY, []).extend(notices)
