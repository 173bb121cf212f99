"""Casework operations: the agent's queues, presence, the ticket's context, resolving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from blinker import Namespace
from sqlalchemy import case, func, or_, select, type_coerce
from sqlalchemy.orm import Session, selectinload

from ..contacts.models import Contact, same_citizen
from ..database import UTCDateTime, utcnow
from ..directory.models import PRESENCE, Queue, User
from ..tickets.access import can_write, may_see
from ..tickets.models import Ticket, unrestricted
from ..tickets.service import TicketError, resolve, set_status
from ..vocabulary import OPEN_STATUSES
from .claims import take, take_next  # noqa: F401 - the console's verbs live here too
from .models import claimable


@dataclass
class QueueSummary:
    queue: Queue
    open: int
    waiting: int  # unassigned, ready to take
    oldest: datetime | None  # oldest waiting
    breached: int


def console_queues(session: Session, user: User) -> list[Queue]:
    """The queues a user works: their own; a coordinator also sees the department's."""
    queues = {q.id: q for q in user.queues if q.active}
    if user.role == "coordinator" and user.department_id is not None:
        for q in session.scalars(
            select(Queue).where(Queue.department_id == user.department_id, Queue.active.is_(True))
        ):
            queues.setdefault(q.id, q)
    return sorted(queues.values(), key=lambda q: q.code)


def queue_summaries(session: Session, user: User) -> list[QueueSummary]:
    queues = console_queues(session, user)
    if not queues:
        return []
    waiting = claimable()
    rows = session.execute(
        select(
            Ticket.queue_id,
            func.count(Ticket.id),
            func.sum(case((waiting, 1), else_=0)),
            # min() over a CASE loses the column type; say again that it is a UTC time.
            type_coerce(func.min(case((waiting, Ticket.first_arrived_at), else_=None)), UTCDateTime()),
            func.sum(case((Ticket.sla_breached.is_(True), 1), else_=0)),
        )
        .where(Ticket.queue_id.in_([q.id for q in queues]), Ticket.status.in_(OPEN_STATUSES), unrestricted())
        .group_by(Ticket.queue_id)
    ).all()
    by_queue = {r[0]: r for r in rows}
    summaries = []
    for q in queues:
        _, n_open, n_waiting, oldest, breached = by_queue.get(q.id, (q.id, 0, 0, None, 0))
        summaries.append(QueueSummary(q, n_open or 0, n_waiting or 0, oldest, breached or 0))
    return summaries


# A list shows each ticket's next due time, which reads its contacts and messages.
_FOR_LISTS = (selectinload(Ticket.contacts), selectinload(Ticket.messages))


def queue_tickets(session: Session, user: User, limit: int = 200) -> list[Ticket]:
    queue_ids = [q.id for q in console_queues(session, user)]
    if not queue_ids:
        return []
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.queue_id.in_(queue_ids), Ticket.status.in_(OPEN_STATUSES), unrestricted())
            .order_by(Ticket.priority.desc(), Ticket.first_arrived_at)
            .limit(limit)
            .options(*_FOR_LISTS)
        )
    )


def my_tickets(session: Session, user: User) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.assignee_id == user.id, Ticket.status.in_(OPEN_STATUSES), unrestricted())
            .order_by(Ticket.priority.desc(), Ticket.first_arrived_at)
            .options(*_FOR_LISTS)
        )
    )


# Sent after a presence change is committed, with the user as sender: the phone channel
# offers a call at once to an agent back at the phone (channels/voice/distribution.py
# listens), so casework need not know about phones.
presence_changed = Namespace().signal("presence-changed")


def change_presence(session: Session, user: User, presence: str, at: datetime) -> None:
    """Set and commit the user's presence (the console or the phone page), then tell the listeners.
    Raises TicketError, changing nothing, for an unknown presence."""
    set_presence(session, user, presence, at)
    session.commit()
    presence_changed.send(user, session=session, presence=presence, at=at)


def set_presence(session: Session, user: User, presence: str, now: datetime | None = None) -> None:
    if presence not in PRESENCE:
        raise TicketError("Okänd närvarostatus.")
    if user.presence != presence:
        user.presence = presence
        user.presence_since = now or utcnow()


@dataclass
class RelatedContact:
    contact: Contact
    ticket: Ticket
    writable: bool  # the user may link a contact to it


def citizen_contacts(session: Session, user: User, ticket: Ticket, limit: int = 50) -> list[RelatedContact]:
    """Every contact from the same citizen (phone, e-mail or personnummer) on other tickets
    that the user may know of (tickets/access.may_see): a confidential ticket's very
    existence is hidden from others; one outside their work opens with a logged reason."""
    conditions = same_citizen(*ticket.contacts)
    if not conditions:
        return []
    rows = session.execute(
        select(Contact, Ticket)
        .join(Ticket, Ticket.id == Contact.ticket_id)
        .where(or_(*conditions), Contact.ticket_id != ticket.id, unrestricted())
        .order_by(Contact.arrived_at.desc())
        .limit(limit)
    ).all()
    return [RelatedContact(c, t, can_write(user, t)) for c, t in rows if may_see(user, t)]


def set_waiting(session: Session, ticket: Ticket, user: User, waiting: bool) -> None:
    """Waiting for the citizen stops the SLA clocks; resuming moves them on."""
    if not ticket.is_open:
        raise TicketError("Ärendet är redan löst.")
    if waiting:
        if ticket.status == "escalated":
            raise TicketError("Acceptera eskaleringen innan du väntar på medborgaren.")
        set_status(session, ticket, "waiting_citizen", actor=user)
    elif ticket.status == "waiting_citizen":
        set_status(session, ticket, "open", actor=user)


def resolve_ticket(session: Session, ticket: Ticket, user: User) -> None:
    if ticket.status == "waiting_citizen":
        set_status(session, ticket, "open", actor=user)
    resolve(session, ticket, actor=user)
    ticket.sla_paused_at = None
