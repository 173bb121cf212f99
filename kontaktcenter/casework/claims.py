"""Taking tickets from a queue: each ticket to exactly one agent, however many ask at once."""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import JSON, Integer, String, bindparam, case, func, insert, literal, null, select, union_all, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ClauseElement

from ..database import UTCDateTime, utcnow
from ..directory.models import User
from ..tickets.models import Ticket, TicketEvent
from ..tickets.service import TicketError, event_values, record_event, set_status
from .models import Escalation, claimable

EVENT_COLUMNS = ["ticket_id", "at", "actor_id", "kind", "from_value", "to_value", "detail"]


def take_next(session: Session, user: User, now: datetime | None = None) -> Ticket | None:
    """Assign the most urgent, oldest unassigned ticket of the user's queues to the user.

    The pick is SELECT … FOR UPDATE SKIP LOCKED: on PostgreSQL twenty agents pull at
    once without waiting on each other or getting the same row. SQLite serialises
    writers, and the `assignee_id IS NULL` guard on the UPDATE makes the claim
    conditional on both. The caller commits.
    """
    queue_ids = [q.id for q in user.queues if q.active]
    if not queue_ids:
        return None
    now = now or utcnow()
    # Names that are no column's: an UPDATE would take a parameter named like a column as a SET.
    params = {"claim_queue_ids": queue_ids, "claim_user_id": user.id, "claim_username": user.username, "claim_now": now}
    if session.get_bind().dialect.name == "postgresql":
        ticket = session.execute(_one_statement_claim(), params).scalar_one_or_none()
    else:
        ticket = _claim_step_by_step(session, params)
    if ticket is None:
        return None
    set_committed_value(user, "last_assigned_at", now)
    if ticket.status == "escalated":
        _accept_pending_escalation(session, ticket, user, now)
    return ticket


def _pick_and_claim():
    """The pick (a CTE) and the conditional UPDATE that claims what it picked."""
    picked = (
        select(Ticket.id, Ticket.status)
        .where(Ticket.queue_id.in_(bindparam("claim_queue_ids", expanding=True)), claimable())
        .order_by(Ticket.priority.desc(), Ticket.first_arrived_at, Ticket.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    user_id = bindparam("claim_user_id", type_=Integer())
    # The status moves new → open in the same statement; the old one comes back for the event.
    claim = (
        update(Ticket)
        .where(Ticket.id == picked.c.id, Ticket.assignee_id.is_(None))
        .values(
            assignee_id=user_id,
            taken_by_id=func.coalesce(Ticket.taken_by_id, user_id),
            status=case((Ticket.status == "new", "open"), else_=Ticket.status),
            updated_at=bindparam("claim_now", type_=UTCDateTime()),
        )
    )
    return picked, claim


@functools.cache
def _one_statement_claim():
    """PostgreSQL: pick, assign, write both events and touch the agent in one round trip.

    Data-modifying CTEs keep a claim to one statement, built once: that is what lets
    twenty agents claim hundreds of tickets a second.
    """
    picked, claim = _pick_and_claim()
    claimed = claim.returning(*Ticket.__table__.c, picked.c.status.label("old_status")).cte("claimed")
    now, user_id = bindparam("claim_now", type_=UTCDateTime()), bindparam("claim_user_id", type_=Integer())

    def event(values: dict):
        sql = [
            v if isinstance(v, ClauseElement) else null() if v is None else literal(v)
            for v in (values[c] for c in EVENT_COLUMNS[1:-1])
        ]
        return select(claimed.c.id, *sql, literal(values["detail"], JSON())).select_from(claimed)

    assigned, opened = _claim_events(now, user_id, bindparam("claim_username", type_=String()))
    events = (
        insert(TicketEvent)
        .from_select(
            EVENT_COLUMNS,
            union_all(event(assigned), event(opened).where(claimed.c.old_status == "new")),
        )
        .cte("events")
    )
    touched = update(User).where(User.id == user_id).values(last_assigned_at=now).returning(User.id).cte("touched")
    rows = select(*[claimed.c[c.name] for c in Ticket.__table__.c]).add_cte(events, touched)
    return select(Ticket).from_statement(rows).execution_options(populate_existing=True)


def _claim_events(now, user_id, username) -> tuple[dict, dict]:
    """A claim's two events (values or SQL expressions): assigned, and new → open when it was new."""
    return (
        event_values("assigned", at=now, actor_id=user_id, to_value=username, reason="take_next"),
        event_values("status", at=now, actor_id=user_id, from_value="new", to_value="open"),
    )


@functools.cache
def _conditional_claim():
    picked, claim = _pick_and_claim()
    return claim.returning(Ticket.id, picked.c.status).execution_options(synchronize_session=False)


def _claim_step_by_step(session: Session, params: dict) -> Ticket | None:
    """SQLite (no data-modifying CTEs): the conditional UPDATE, then the events."""
    row = session.execute(_conditional_claim(), params).first()
    if row is None:
        return None
    ticket_id, old_status = row
    now, user_id = params["claim_now"], params["claim_user_id"]
    assigned, opened = _claim_events(now, user_id, params["claim_username"])
    events = [assigned, opened] if old_status == "new" else [assigned]
    session.execute(insert(TicketEvent).values([{"ticket_id": ticket_id, **values} for values in events]))
    session.execute(
        update(User).where(User.id == user_id).values(last_assigned_at=now).execution_options(synchronize_session=False)
    )
    return session.get(Ticket, ticket_id, populate_existing=True)


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
