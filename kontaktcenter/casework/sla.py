"""SLA breaches: running clocks past due, flagged once, the queue told (the clocks: tickets/sla.py)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from flask import has_app_context
from sqlalchemy import and_, case, exists, or_, select, true
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..directory.models import Queue, User
from ..tickets.models import Message, Ticket, TicketEvent, unrestricted
from ..tickets.service import record_event
from ..tickets.sla import CLOCKS
from ..vocabulary import OPEN_STATUSES
from .models import Escalation

log = logging.getLogger(__name__)

# How much a breach raises a ticket's priority (0 … 9).
BREACH_PRIORITY_STEP = 2


@dataclass
class Breach:
    ticket: Ticket
    clocks: list[str]


def _responded():
    return or_(
        exists().where(Message.ticket_id == Ticket.id, Message.kind == "reply", Message.automatic.is_(False)),
        # A call or visit answered live is the first response.
        exists().where(Contact.ticket_id == Ticket.id, Contact.answered_at.is_not(None)),
    )


def _awaiting_accept():
    return exists().where(
        Escalation.ticket_id == Ticket.id, Escalation.accepted_at.is_(None), Escalation.returned_at.is_(None)
    )


def _not_flagged(clock: str, due):
    """No breach of this clock recorded since it fell due (a moved clock may breach again)."""
    return ~exists().where(
        TicketEvent.ticket_id == Ticket.id,
        TicketEvent.kind == "sla_breached",
        TicketEvent.to_value == clock,
        TicketEvent.at >= due,
    )


def _clock_broken(clock: str, now: datetime):
    due = getattr(Ticket, f"{clock}_due_at")
    running = {"first_response": ~_responded(), "accept": _awaiting_accept(), "resolve": true()}[clock]
    return and_(due < now, running, _not_flagged(clock, due))


def find_breaches(session: Session, now: datetime) -> list[Breach]:
    """Open, running (not paused) tickets with a clock past due that is not yet flagged.

    Each clock is flagged once per due time: a ticket late with its first response
    that is later escalated and not accepted in time breaches again, and the
    department's queue hears about it.
    """
    broken = {clock: _clock_broken(clock, now) for clock in CLOCKS}
    stmt = (
        select(Ticket, *(case((condition, True), else_=False) for condition in broken.values()))
        # A restricted ticket (begränsning) is kept, not processed: no breach, no priority, no notice.
        .where(Ticket.status.in_(OPEN_STATUSES), Ticket.sla_paused_at.is_(None), unrestricted(), or_(*broken.values()))
        .order_by(Ticket.id)
        # Another process checking at the same moment skips what this one holds.
        .with_for_update(skip_locked=True, of=Ticket)
    )
    return [
        Breach(ticket, [clock for clock, hit in zip(CLOCKS, hits, strict=True) if hit])
        for ticket, *hits in session.execute(stmt)
    ]


def flag_breaches(session: Session, now: datetime, *, notify: bool = True) -> list[Breach]:
    """Flag each breach once, raise its priority, and tell the queue's members (unless
    not `notify`: the demo's made-up history mails nobody)."""
    breaches = find_breaches(session, now)
    by_queue: dict[int, list[Breach]] = defaultdict(list)
    for breach in breaches:
        ticket = breach.ticket
        ticket.sla_breached = True
        old = ticket.priority
        ticket.priority = min(9, ticket.priority + BREACH_PRIORITY_STEP)
        for clock in breach.clocks:
            record_event(session, ticket, "sla_breached", at=now, to_value=clock, clocks=breach.clocks)
        if ticket.priority != old:
            record_event(
                session, ticket, "priority", at=now, from_value=old, to_value=ticket.priority, reason="sla_breached"
            )
        by_queue[ticket.queue_id].append(breach)
    for queue_id, queue_breaches in by_queue.items() if notify else ():
        notify_queue(session, session.get(Queue, queue_id), queue_breaches)
    return breaches


def notify_queue(session: Session, queue: Queue, breaches: list[Breach]) -> int:
    """E-mail the queue's active members about breached tickets; returns messages sent.

    Confidential tickets are named by reference only, never by subject.
    """
    if not has_app_context():
        return 0
    from ..notify.email import EmailError, send_email

    members = session.scalars(
        select(User).where(User.queues.any(Queue.id == queue.id), User.active.is_(True), User.email != "")
    ).all()
    lines = [
        f"{b.ticket.reference}: {', '.join(b.clocks)}" + ("" if b.ticket.confidential else f" – {b.ticket.subject}")
        for b in breaches
    ]
    body = (
        f"Följande ärenden i kön {queue.name_sv} har passerat sin tidsgräns (SLA) "
        f"och har fått högre prioritet:\n\n" + "\n".join(lines)
    )
    sent = 0
    for member in members:
        try:
            send_email(member.email, f"SLA-brott i kön {queue.name_sv} ({len(breaches)})", body)
            sent += 1
        except EmailError:
            # The breach is flagged and on the console either way; a mail outage must not undo it.
            log.warning("could not e-mail %s about SLA breaches in %s", member.username, queue.code, exc_info=True)
    return sent
