"""Casework operations: the agent's queues, taking a ticket, replying, resolving."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..directory.models import Queue, User
from ..tickets.models import OPEN_STATUSES, Ticket
from ..tickets.service import TicketError, add_message, assign, resolve


@dataclass
class QueueSummary:
    queue: Queue
    waiting: int
    oldest: datetime | None


def queue_summaries(session: Session, user: User) -> list[QueueSummary]:
    rows = session.execute(
        select(Queue, func.count(Ticket.id), func.min(Ticket.first_arrived_at))
        .join(Ticket, (Ticket.queue_id == Queue.id) & Ticket.status.in_(OPEN_STATUSES), isouter=True)
        .where(Queue.id.in_([q.id for q in user.queues]))
        .group_by(Queue.id)
        .order_by(Queue.code)
    ).all()
    return [QueueSummary(q, n, oldest) for q, n, oldest in rows]


def visible_queue_tickets(session: Session, user: User, limit: int = 200) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.queue_id.in_([q.id for q in user.queues]), Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.priority.desc(), Ticket.first_arrived_at)
            .limit(limit)
        )
    )


def take(session: Session, ticket: Ticket, user: User) -> None:
    if not ticket.is_open:
        raise TicketError("Ärendet är redan löst.")
    if ticket.assignee_id not in (None, user.id):
        raise TicketError("Ärendet har redan tagits av en annan handläggare.")
    if ticket.assignee_id != user.id:
        assign(session, ticket, user, actor=user, reason="taken")
        if ticket.taken_by_id is None:
            ticket.taken_by_id = user.id


def reply(session: Session, ticket: Ticket, user: User, body: str, *, internal: bool) -> None:
    if internal:
        add_message(session, ticket, kind="note", body=body, author=user)
        return
    contact = ticket.contacts[-1] if ticket.contacts else None
    channel = contact.reply_channel if contact else "none"
    recipient = ""
    if contact is not None:
        recipient = {"email": contact.citizen_email, "sms": contact.citizen_phone, "phone": contact.citizen_phone}.get(channel) or ""
    add_message(session, ticket, kind="reply", body=body, author=user, channel=channel, recipient=recipient)


def resolve_ticket(session: Session, ticket: Ticket, user: User) -> None:
    resolve(session, ticket, actor=user)
