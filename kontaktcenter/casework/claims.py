"""Taking tickets from a queue: each ticket to exactly one agent, however many ask at once."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from ..database import utcnow
from ..directory.models import User
from ..tickets.models import Ticket, TicketEvent
from ..tickets.service import TicketError, record_event, set_status
from .models import Escalation

# What "take next" hands out: unassigned tickets that are waiting for someone to act.
CLAIMABLE_STATUSES = ("new", "open", "escalated")


def take_next(session: Session, user: User, now: datetime | None = None) -> Ticket | None:
    """Assign the most urgent, oldest unassigned ticket of the user's queues to the user.

    One statement picks and assigns: on PostgreSQL the inner SELECT … FOR UPDATE SKIP
    LOCKED lets twenty agents pull at once without waiting on each other or getting the
    same row; SQLite serialises writers, and the `assignee_id IS NULL` guard makes the
    claim conditional on both. The caller commits.
    """
    queue_ids = [q.id for q in user.queues if q.active]
    if not queue_ids:
        return None
    now = now or utcnow()
    picked = (
        select(Ticket.id, Ticket.status)
        .where(Ticket.queue_id.in_(queue_ids), Ticket.status.in_(CLAIMABLE_STATUSES), Ticket.assignee_id.is_(None))
        .order_by(Ticket.priority.desc(), Ticket.first_arrived_at, Ticket.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    # The status moves new → open in the same statement; the old one comes back for the event.
    row = session.execute(
        update(Ticket)
        .where(Ticket.id == picked.c.id, Ticket.assignee_id.is_(None))
        .values(
            assignee_id=user.id,
            taken_by_id=func.coalesce(Ticket.taken_by_id, user.id),
            status=case((Ticket.status == "new", "open"), else_=Ticket.status),
            updated_at=now,
        )
        .returning(Ticket.id, picked.c.status)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return None
    ticket_id, old_status = row
    events = [
        {"ticket_id": ticket_id, "at": now, "actor_id": user.id, "kind": "assigned", "from_value": None, "to_value": user.username, "detail": {"reason": "take_next"}}
    ]
    if old_status == "new":
        events.append({"ticket_id": ticket_id, "at": now, "actor_id": user.id, "kind": "status", "from_value": "new", "to_value": "open", "detail": {}})
    session.execute(insert(TicketEvent).values(events))
    session.execute(update(User).where(User.id == user.id).values(last_assigned_at=now).execution_options(synchronize_session=False))
    ticket = session.get(Ticket, ticket_id, populate_existing=True)
    if old_status == "escalated":
        _accept_pending_escalation(session, ticket, user, now)
    return ticket


def take(session: Session, ticket: Ticket, user: User, now: datetime | None = None) -> None:
    """Take one named ticket; refused when someone else already has it."""
    if not ticket.is_open:
        raise TicketError("Ärendet är redan löst.")
    if ticket.assignee_id == user.id:
        return
    if ticket.assignee_id is not None:
        raise TicketError("Ärendet har redan tagits av en annan handläggare.")
    now = now or utcnow()
    claimed = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee_id.is_(None))
        .values(assignee_id=user.id, taken_by_id=func.coalesce(Ticket.taken_by_id, user.id), updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise TicketError("Ärendet har redan tagits av en annan handläggare.")
    session.refresh(ticket)
    _after_claim(session, ticket, user, now, reason="taken")


def _after_claim(session: Session, ticket: Ticket, user: User, now: datetime, reason: str) -> None:
    record_event(session, ticket, "assigned", actor=user, to_value=user.username, at=now, reason=reason)
    user.last_assigned_at = now
    if ticket.status == "escalated":
        _accept_pending_escalation(session, ticket, user, now)
    elif ticket.status == "new":
        set_status(session, ticket, "open", actor=user)


def _accept_pending_escalation(session: Session, ticket: Ticket, user: User, now: datetime) -> None:
    """A caseworker taking an escalated ticket accepts the escalation."""
    pending = session.scalar(
        select(Escalation)
        .where(Escalation.ticket_id == ticket.id, Escalation.accepted_at.is_(None), Escalation.returned_at.is_(None))
        .order_by(Escalation.id.desc())
    )
    if pending is not None:
        pending.accepted_by_id = user.id
        pending.accepted_at = now
        record_event(session, ticket, "escalation_accepted", actor=user, to_value=user.username, at=now)
    set_status(session, ticket, "open", actor=user)
