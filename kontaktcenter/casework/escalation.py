"""Escalation to a department's queue with a structured handover, and its way back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ..database import utcnow
from ..directory.models import Queue, User
from ..routing.service import latest_decision
from ..tickets.models import Ticket, unrestricted
from ..tickets.service import TicketError, assign, record_event, set_status
from ..tickets.sla import start_accept_clock
from .claims import take
from .messaging import notify_citizen
from .models import URGENCIES, Escalation

# A more urgent handover is pulled earlier from the department's queue.
URGENCY_PRIORITY = {"low": 2, "normal": 3, "high": 6, "urgent": 8}


@dataclass
class Handover:
    citizen_wants: str
    done_so_far: str = ""
    how_to_reach: str = ""
    urgency: str = "normal"


def department_queues(session: Session) -> list[Queue]:
    return list(
        session.scalars(select(Queue).where(Queue.kind == "department", Queue.active.is_(True)).order_by(Queue.name_sv))
    )


def pending_escalation(session: Session, ticket: Ticket) -> Escalation | None:
    """The ticket's escalation that is not yet returned (accepted or waiting to be)."""
    return session.scalar(
        select(Escalation)
        .where(Escalation.ticket_id == ticket.id, Escalation.returned_at.is_(None))
        .order_by(Escalation.id.desc())
    )


def escalations_of(session: Session, ticket: Ticket) -> list[Escalation]:
    return list(session.scalars(select(Escalation).where(Escalation.ticket_id == ticket.id).order_by(Escalation.id)))


def escalate(
    session: Session,
    ticket: Ticket,
    user: User,
    to_queue: Queue,
    handover: Handover,
    *,
    notify: bool = False,
    now: datetime | None = None,
) -> Escalation:
    """Hand the ticket to a department queue; its caseworkers find it in their inbox."""
    if not ticket.is_open:
        raise TicketError("Ett löst ärende kan inte eskaleras.")
    if to_queue.kind != "department" or not to_queue.active:
        raise TicketError("Välj en förvaltnings kö att eskalera till.")
    if to_queue.id == ticket.queue_id:
        raise TicketError("Ärendet ligger redan i den kön.")
    if pending_escalation(session, ticket) is not None:
        raise TicketError("Ärendet är redan eskalerat.")
    if not handover.citizen_wants.strip():
        raise TicketError("Beskriv vad medborgaren vill.")
    if handover.urgency not in URGENCIES:
        raise TicketError("Okänd brådska.")
    now = now or utcnow()
    escalation = Escalation(
        ticket_id=ticket.id,
        department_id=to_queue.department_id,
        from_queue_id=ticket.queue_id,
        to_queue_id=to_queue.id,
        citizen_wants=handover.citizen_wants.strip(),
        done_so_far=handover.done_so_far.strip(),
        how_to_reach=handover.how_to_reach.strip(),
        urgency=handover.urgency,
        created_by_id=user.id,
        created_at=now,
    )
    session.add(escalation)
    from_code = ticket.queue.code
    ticket.queue = to_queue
    # A confidential department queue makes the errand confidential (as routing does).
    ticket.confidential = ticket.confidential or to_queue.confidential
    ticket.escalated = True
    ticket.priority = max(ticket.priority, URGENCY_PRIORITY[handover.urgency])
    if ticket.assignee is not None:
        assign(session, ticket, None, actor=user, reason="escalated")
    set_status(session, ticket, "escalated", actor=user)
    record_event(
        session,
        ticket,
        "escalated",
        actor=user,
        from_value=from_code,
        to_value=to_queue.code,
        at=now,
        urgency=handover.urgency,
    )
    decision = latest_decision(session, ticket)
    start_accept_clock(ticket, now, decision.sla if decision is not None else None)
    if notify:
        notify_citizen(
            session,
            ticket,
            f"Ditt ärende {ticket.reference} har lämnats över till {to_queue.department.name_sv}, "
            "som kontaktar dig. Ange ärendenumret om du hör av dig.",
            actor=user,
        )
    return escalation


def accept(session: Session, escalation: Escalation, user: User, now: datetime | None = None) -> None:
    """A caseworker of the department takes the escalated ticket and becomes its assignee."""
    if escalation.returned_at is not None:
        raise TicketError("Eskaleringen är redan återlämnad.")
    if escalation.accepted_at is not None:
        raise TicketError("Eskaleringen är redan accepterad.")
    if user.department_id != escalation.department_id:
        raise TicketError("Bara förvaltningens handläggare kan acceptera eskaleringen.")
    ticket = session.get(Ticket, escalation.ticket_id)
    take(session, ticket, user, now)  # marks the escalation accepted


def return_to_contact_center(
    session: Session,
    escalation: Escalation,
    user: User,
    reason: str,
    *,
    notify: bool = False,
    now: datetime | None = None,
) -> None:
    """Send the ticket back to the queue it came from, with the department's reason."""
    if escalation.returned_at is not None:
        raise TicketError("Eskaleringen är redan återlämnad.")
    if user.department_id != escalation.department_id and user.role != "admin":
        raise TicketError("Bara förvaltningens handläggare kan lämna tillbaka eskaleringen.")
    if not reason.strip():
        raise TicketError("Ange varför ärendet lämnas tillbaka.")
    now = now or utcnow()
    ticket = session.get(Ticket, escalation.ticket_id)
    if not ticket.is_open:
        raise TicketError("Ärendet är redan löst.")
    escalation.returned_at = now
    escalation.return_reason = reason.strip()
    back = session.get(Queue, escalation.from_queue_id)
    from_code = ticket.queue.code
    ticket.queue = back
    ticket.accept_due_at = None
    # Back to the agent who escalated it, so it lands in their own list (flagged there as returned)
    # instead of vanishing unassigned; when they can no longer work it, the queue gets it.
    escalated_by = escalation.created_by
    back_to = escalated_by if _may_take_back(escalated_by, back) else None
    if ticket.assignee is not back_to:
        assign(session, ticket, back_to, actor=user, reason="returned")
    set_status(session, ticket, "open", actor=user)
    record_event(
        session,
        ticket,
        "escalation_returned",
        actor=user,
        from_value=from_code,
        to_value=back.code,
        at=now,
        reason=escalation.return_reason,
    )
    if notify:
        notify_citizen(
            session,
            ticket,
            f"Ditt ärende {ticket.reference} hanteras nu av Malmö stads kontaktcenter igen.",
            actor=user,
        )


def _may_take_back(agent: User | None, queue: Queue) -> bool:
    """The escalating agent still works the queue the ticket goes back to."""
    return (
        agent is not None
        and agent.active
        and agent.role in ("agent", "coordinator", "caseworker")
        and (queue.kind == "first_line" and agent.role == "agent" or any(q.id == queue.id for q in agent.queues))
    )


@dataclass
class InboxItem:
    escalation: Escalation | None  # None: escalated without a handover (imported history)
    ticket: Ticket


def inbox(session: Session, user: User, *, include_accepted: bool = True) -> list[InboxItem]:
    """Open escalations to the user's department, waiting ones first, most urgent first.

    What the console shows as escalated in the department's queues is here too, also a
    ticket that came escalated without a handover row (imported history): the two never disagree.
    """
    if user.department_id is None:
        return []
    pending = select(Escalation.ticket_id).where(
        Escalation.department_id == user.department_id, Escalation.returned_at.is_(None)
    )
    department_queues = select(Queue.id).where(Queue.department_id == user.department_id, Queue.kind == "department")
    waiting_in_queue = and_(Ticket.status == "escalated", Ticket.queue_id.in_(department_queues))
    stmt = select(Ticket).where(
        Ticket.status != "resolved", unrestricted(), or_(Ticket.id.in_(pending), waiting_in_queue)
    )
    if not include_accepted:
        stmt = stmt.where(Ticket.status == "escalated")
    tickets = list(
        session.scalars(stmt.order_by(Ticket.status != "escalated", Ticket.priority.desc(), Ticket.first_arrived_at))
    )
    handovers = {
        e.ticket_id: e
        for e in session.scalars(
            select(Escalation)
            .where(Escalation.ticket_id.in_([t.id for t in tickets]), Escalation.returned_at.is_(None))
            .order_by(Escalation.id)
        )
    }
    return [InboxItem(handovers.get(t.id), t) for t in tickets]
