"""Phone calls: the IVR menu, queueing, waiting, callbacks, answering and the call record."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session, aliased, joinedload

from ...casework.service import set_presence
from ...contacts.citizen import caller_number
from ...contacts.models import Contact
from ...directory.models import Queue, Service, User
from ...errors import DomainError
from ...intake.incoming import IncomingContact
from ...intake.receive import Received, receive
from ...tickets.models import Ticket
from ...tickets.service import assign, record_event, set_status
from ...vocabulary import OPEN_STATUSES

GENERAL_LINE_DIGIT = "0"
# Expected wait is estimated from answered calls of the last hours in the same queue.
RECENT_WAIT_WINDOW = timedelta(hours=2)
RECENT_WAIT_SAMPLE = 50
# Twilio's QueueResult values; "leave" is the caller choosing a callback (<Leave/>).
QUEUE_RESULTS = ("bridged", "hangup", "leave", "redirected", "queue-full", "error", "system-error")
FINAL_CALL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")


class PhoneError(DomainError, ValueError):
    """A phone operation that cannot be done; the message says why (Swedish, for agents)."""


@dataclass(frozen=True)
class MenuChoice:
    digit: str
    service: Service


def menu(session: Session, phone_config: Mapping[str, Any]) -> list[MenuChoice]:
    """The IVR menu from config [phone.menu] (digit → service code), digits in order, 0 last."""
    mapping = phone_config["menu"]
    codes = {str(d): code for d, code in mapping.items()}
    # With their departments: the intake of a chosen call reads the service's department
    # (routing, SLA clocks), and finds it here instead of in one more query.
    services = {
        s.code: s
        for s in session.scalars(
            select(Service).where(Service.code.in_(codes.values())).options(joinedload(Service.department))
        )
    }
    missing = sorted(set(codes.values()) - set(services))
    if missing:
        raise LookupError(f"[phone.menu] names unknown service(s): {', '.join(missing)}")
    order = sorted(codes, key=lambda d: (d == GENERAL_LINE_DIGIT, d))
    return [MenuChoice(d, services[codes[d]]) for d in order]


def service_for_digit(choices: list[MenuChoice], digits: str | None) -> Service | None:
    """The chosen service; no input at all means the general line; a wrong digit means None."""
    digit = (digits or GENERAL_LINE_DIGIT).strip()[:1] or GENERAL_LINE_DIGIT
    return next((c.service for c in choices if c.digit == digit), None)


def call_by_sid(
    session: Session, call_sid: str, *, for_update: bool = False, load: tuple[QueryableAttribute, ...] = ()
) -> Contact | None:
    """The call's contact; `for_update` locks its row (PostgreSQL) until the request commits.

    Twilio retries a webhook it thinks was lost, sometimes while the first is still
    running: the lock makes the second wait and see what the first did, so the
    change (and its ticket events) happens once. `load` names the relationships the
    caller will read, fetched in the same query (only the contact's row is locked).
    """
    stmt = (
        select(Contact)
        .where(Contact.provider_sid == call_sid, Contact.channel == "phone")
        .options(*(joinedload(relationship) for relationship in load))
    )
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Contact)
    return session.scalar(stmt)


def enqueue_call(session: Session, *, call_sid: str, caller: str | None, service: Service, at: datetime) -> Received:
    """The call reached a queue: its contact and ticket, routed by the intake (idempotent on CallSid).

    arrived_at is the queue entry (METRICS.md), so a retried /menu keeps the first one.
    """
    phone = caller_number(caller)
    return receive(
        session,
        IncomingContact(
            channel="phone",
            service_code=service.code,
            phone=phone,
            reply_channel="phone" if phone else "none",
            provider_sid=call_sid,
            arrived_at=at,
        ),
        service=service,
    )


def call_on_hold(session: Session, call_sid: str, at: datetime) -> tuple[Contact | None, float | None]:
    """The call's contact and the mean wait (seconds) of recently answered calls in its queue.

    One query, as the hold loop asks every 20 seconds for every caller in a queue.
    The mean is None when nobody was answered in the window (or the call is in no queue).
    """
    row = session.execute(_on_hold(), {"call_sid": call_sid, "since": at - RECENT_WAIT_WINDOW, "at": at}).first()
    return (row[0], row[1]) if row is not None else (None, None)


@cache
def _on_hold():
    # Built once per process: a self-join through an alias costs more to build than to run.
    answered = aliased(Contact)
    recent = (
        select(answered.wait_seconds)
        .where(
            answered.queue_id == Contact.queue_id,
            answered.channel == "phone",
            answered.outcome == "answered",
            answered.wait_seconds.is_not(None),
            answered.answered_at >= bindparam("since"),
            answered.answered_at <= bindparam("at"),
        )
        .order_by(answered.answered_at.desc())
        .limit(RECENT_WAIT_SAMPLE)
        .correlate(Contact)
        .subquery()
    )
    mean = select(func.avg(recent.c.wait_seconds)).scalar_subquery()
    return select(Contact, mean).where(Contact.provider_sid == bindparam("call_sid"), Contact.channel == "phone")


def expected_wait(mean_wait: float | None, waited_seconds: float = 0) -> timedelta | None:
    """The recent mean wait less what this caller has waited, in whole minutes.

    None when nobody was answered in the window: better to say nothing than to guess.
    """
    if mean_wait is None:
        return None
    # Tell at least one minute: "cirka 0 minuter" would be a promise nobody keeps.
    remaining = max(float(mean_wait) - waited_seconds, 60.0)
    return timedelta(minutes=math.ceil(remaining / 60))


def request_callback(session: Session, call_sid: str, at: datetime) -> Contact:
    """The caller pressed 1 in the queue: the ticket becomes a callback in the routed queue."""
    contact = call_by_sid(session, call_sid, for_update=True, load=(Contact.ticket,))
    if contact is None or contact.ticket is None:
        raise PhoneError("Samtalet finns inte i någon kö.")
    if contact.citizen_phone is None:
        raise PhoneError("Numret är dolt, så vi kan inte ringa upp.")
    if contact.outcome == "callback_requested":
        return contact  # Twilio retried the digits
    if contact.answered_at is not None or contact.outcome is not None:
        raise PhoneError("Samtalet har redan lämnat kön.")
    contact.outcome = "callback_requested"
    ticket = contact.ticket
    if ticket.kind != "callback":
        record_event(session, ticket, "kind", from_value=ticket.kind, to_value="callback", at=at, call_sid=call_sid)
        ticket.kind = "callback"
    record_event(session, ticket, "callback_requested", to_value=contact.citizen_phone, at=at)
    return contact


def record_bridge(
    session: Session, call_sid: str, agent: User, queue_time: float | None, at: datetime, *, take_ticket: bool = True
) -> Contact | None:
    """Twilio is connecting the caller to `agent` (the <Queue url> webhook): who and when.

    The agent takes the call's ticket, unless `take_ticket` is False (a department's
    caseworker answering a transferred caller: the escalation stays the department's)."""
    contact = call_by_sid(session, call_sid, for_update=True, load=(Contact.ticket,))
    if contact is None:
        return None
    if contact.answered_at is None:
        _note_queue_time(contact, queue_time)
        contact.answered_at = _left_queue_at(contact, at)
        contact.answered_by_id = agent.id
        set_presence(session, agent, "busy", at)
        ticket = contact.ticket
        if take_ticket and ticket is not None and ticket.is_open and ticket.assignee_id != agent.id:
            assign(session, ticket, agent, actor=agent, reason="answered call")
            if ticket.taken_by_id is None:
                ticket.taken_by_id = agent.id
    return contact


def record_queue_result(
    session: Session, call_sid: str, result: str, queue_time: float | None, at: datetime
) -> Contact | None:
    """The caller left the queue (Twilio's Enqueue action): answered, abandoned or callback."""
    if result not in QUEUE_RESULTS:
        raise PhoneError(f"okänt QueueResult {result!r}")
    # The ticket (a callback's reference, closing an abandoned call) and the agent to free.
    contact = call_by_sid(session, call_sid, for_update=True, load=(Contact.ticket, Contact.answered_by))
    if contact is None:
        return None
    reported = _note_queue_time(contact, queue_time)
    left_at = _left_queue_at(contact, at)
    if result == "bridged" or contact.answered_at is not None:
        contact.outcome = "answered"
        if contact.answered_at is None or reported:
            contact.answered_at = left_at
        # Twilio asks for the action when the bridged conversation is over.
        contact.ended_at = max(contact.ended_at or at, contact.answered_at)
        _release_agent(session, contact, at)
    elif result == "leave" and contact.outcome == "callback_requested":
        contact.ended_at = left_at if reported else contact.ended_at or left_at
    elif contact.outcome is None:
        contact.outcome = "abandoned"
        contact.ended_at = left_at if reported else contact.ended_at or left_at
        _close_abandoned(session, contact, at, result)
    elif reported and contact.outcome == "abandoned":
        # The status callback came first and gave the hang-up its webhook time.
        contact.ended_at = left_at
    return contact


def _note_queue_time(contact: Contact, queue_time: float | None) -> bool:
    """Keep Twilio's QueueTime, the call's wait (METRICS.md), the first time it is reported.

    Returns whether it was new here; the caller then sets the moment the call left the
    queue from it (`_left_queue_at`).
    """
    if queue_time is None or queue_time < 0 or contact.wait_seconds is not None:
        return False
    contact.wait_seconds = float(queue_time)
    return True


def _left_queue_at(contact: Contact, at: datetime) -> datetime:
    """When the call left the queue: arrived_at + Twilio's QueueTime, else the webhook's time.

    The metrics engine takes the wait from timestamps (answered_at or ended_at − arrived_at),
    so Twilio's wait goes into the leaving moment and the engine needs no change. arrived_at
    itself never moves: the ticket's period, first_arrived_at and deadlines hang on it.
    """
    if contact.wait_seconds is not None:
        return contact.arrived_at + timedelta(seconds=contact.wait_seconds)
    return max(at, contact.arrived_at)


def record_status(
    session: Session,
    *,
    call_sid: str,
    status: str,
    duration: float | None,
    caller: str | None,
    at: datetime,
    line_open: Callable[[datetime], bool] = lambda _started: True,
    queue_time: float | None = None,
) -> Contact | None:
    """The call's status callback: its end, and for a call that never reached a queue, an IVR drop.

    A call that came while the line was closed heard the out-of-hours message: it was
    never in the IVR, so it is not recorded at all (`line_open` of the call's start).
    """
    if status not in FINAL_CALL_STATUSES:
        return call_by_sid(session, call_sid)
    started = at - timedelta(seconds=duration or 0)
    contact = call_by_sid(session, call_sid, for_update=True)
    if contact is None:
        if not line_open(started):
            return None
        return _record_ivr_drop(session, call_sid=call_sid, caller=caller, started=started, at=at)
    contact.started_at = contact.started_at or min(started, contact.arrived_at)
    reported = _note_queue_time(contact, queue_time)
    contact.ended_at = contact.ended_at or max(at, contact.arrived_at)
    if contact.outcome is None:
        # The queue-result never came (or comes later and finds the outcome set).
        contact.outcome = "answered" if contact.answered_at else "abandoned"
        if contact.outcome == "abandoned":
            _close_abandoned(session, contact, at, "status")
        else:
            _release_agent(session, contact, at)
    if reported and contact.outcome == "abandoned":
        # A hang-up in the queue ended the call: it left the queue QueueTime after arriving.
        contact.ended_at = _left_queue_at(contact, at)
    return contact


def _record_ivr_drop(
    session: Session, *, call_sid: str, caller: str | None, started: datetime, at: datetime
) -> Contact:
    """A call that hung up before a queue: a contact without a ticket (not offered, METRICS.md)."""
    contact = Contact(
        channel="phone",
        provider_sid=call_sid,
        citizen_phone=caller_number(caller),
        started_at=started,
        arrived_at=started,
        ended_at=at,
        outcome="ivr_dropped",
    )
    try:
        with session.begin_nested():
            session.add(contact)
            session.flush()
    except IntegrityError:
        # A parallel duplicate of this callback stored it first.
        return call_by_sid(session, call_sid)
    return contact


def _close_abandoned(session: Session, contact: Contact, at: datetime, result: str) -> None:
    """Nobody can act on a hung-up call with nothing said: close its ticket, unresolved."""
    ticket = contact.ticket
    if ticket is None or not ticket.is_open or ticket.kind == "callback" or len(ticket.contacts) > 1:
        return
    record_event(session, ticket, "call_abandoned", to_value=result, at=at)
    set_status(session, ticket, "resolved", reason="abandoned call")
    ticket.resolved_at = max(at, ticket.first_arrived_at)
    ticket.resolution = "unresolved"


def _release_agent(session: Session, contact: Contact, at: datetime) -> None:
    agent = contact.answered_by
    if agent is not None and agent.presence == "busy":
        set_presence(session, agent, "available", at)


# -- the agent's side -----------------------------------------------------------


@dataclass(frozen=True)
class WaitingQueue:
    queue: Queue
    waiting: int
    oldest: datetime | None


def _waiting():
    """A caller in a queue right now: queued, not answered, not gone."""
    return and_(
        Contact.channel == "phone",
        Contact.outcome.is_(None),
        Contact.answered_at.is_(None),
        Contact.ended_at.is_(None),
    )


def waiting_calls(session: Session, agent: User) -> list[WaitingQueue]:
    """Callers waiting now in the agent's queues, per queue."""
    queue_ids = [q.id for q in agent.queues]
    rows = session.execute(
        select(Queue, func.count(Contact.id), func.min(Contact.arrived_at))
        .join(Contact, (Contact.queue_id == Queue.id) & _waiting(), isouter=True)
        .where(Queue.id.in_(queue_ids))
        .group_by(Queue.id)
        .order_by(Queue.code)
    ).all()
    return [WaitingQueue(q, n, oldest) for q, n, oldest in rows]


def live_call(session: Session, agent: User) -> Contact | None:
    """The call the agent is talking in now: answered by them, not yet over."""
    return session.scalar(
        select(Contact)
        .where(
            Contact.channel == "phone",
            Contact.answered_by_id == agent.id,
            Contact.outcome.is_(None),
            Contact.ended_at.is_(None),
        )
        .limit(1)
    )


def record_agent_leg_end(session: Session, agent: User, status: str, at: datetime) -> str:
    """The call that rang the agent is over; returns the agent's presence afterwards.

    An agent left "busy" would never take a call again. A ring nobody answered
    (no-answer, busy, failed) means the agent is not at the phone, so "away" until
    they say otherwise, as an ACD does; after an answered leg they are available
    again unless they are still in a conversation (the caller's queue result may
    come after this report).
    """
    if status not in FINAL_CALL_STATUSES or agent.presence != "busy" or live_call(session, agent) is not None:
        return agent.presence
    set_presence(session, agent, "available" if status == "completed" else "away", at)
    return agent.presence


# -- callbacks ------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    ticket: Ticket
    contact: Contact
    earlier_tickets: int


def _pending_callback(max_attempts: int):
    """A callback still to be made: requested, not yet reached, tries left."""
    return and_(
        Contact.channel == "phone",
        Contact.outcome == "callback_requested",
        Contact.callback_completed_at.is_(None),
        Contact.callback_attempts < max_attempts,
    )


def callbacks_for(session: Session, agent: User, max_attempts: int) -> list[Callback]:
    """Callbacks still to be made in the agent's queues, most urgent and oldest request first.

    A reached callback leaves the list (the agent goes on in the ticket), and so does one
    given up after `max_attempts`, even when a later contact reopens its ticket.
    """
    rows = session.execute(
        select(Ticket, Contact)
        .join(Contact, Contact.ticket_id == Ticket.id)
        .where(
            _pending_callback(max_attempts),
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.queue_id.in_([q.id for q in agent.queues]),
        )
        .order_by(Ticket.priority.desc(), Contact.arrived_at, Contact.id)
    ).all()
    # Confidential tickets are not counted: even their number tells (OSL).
    return [
        Callback(t, c, sum(not e.confidential for e in earlier_tickets(session, c.citizen_phone, t.id)))
        for t, c in rows
    ]


def pending_callback(session: Session, ticket: Ticket, max_attempts: int) -> Contact | None:
    """The ticket's callback still to be made, if any (the latest request)."""
    return session.scalar(
        select(Contact)
        .where(Contact.ticket_id == ticket.id, _pending_callback(max_attempts))
        .order_by(Contact.arrived_at.desc(), Contact.id.desc())
        .limit(1)
    )


def record_callback_attempt(
    session: Session, ticket: Ticket, agent: User, *, reached: bool, at: datetime, max_attempts: int
) -> Contact:
    """One try to call the citizen back: reached completes it; the last failed try gives up."""
    if ticket.kind != "callback":
        raise PhoneError("Ärendet är ingen återuppringning.")
    contact = pending_callback(session, ticket, max_attempts) if ticket.is_open else None
    if contact is None:
        raise PhoneError("Återuppringningen är redan avslutad.")
    contact.callback_attempts += 1
    record_event(
        session,
        ticket,
        "callback_attempt",
        actor=agent,
        to_value="reached" if reached else "not_reached",
        at=at,
        attempt=contact.callback_attempts,
    )
    if reached:
        contact.callback_completed_at = max(at, contact.arrived_at)
        if ticket.assignee_id != agent.id:
            assign(session, ticket, agent, actor=agent, reason="callback reached")
        if ticket.taken_by_id is None:
            ticket.taken_by_id = agent.id
    elif contact.callback_attempts >= max_attempts:
        record_event(session, ticket, "callback_given_up", actor=agent, at=at, attempts=contact.callback_attempts)
        set_status(session, ticket, "resolved", actor=agent, reason="callback not reached")
        ticket.resolved_at = max(at, ticket.first_arrived_at)
        ticket.resolution = "unresolved"
        ticket.resolved_by_id = agent.id
    return contact


# -- recognising callers --------------------------------------------------------


def earlier_tickets(
    session: Session, phone: str | None, exclude_ticket_id: int | None = None, limit: int = 10
) -> list[Ticket]:
    """Tickets from earlier contacts with this number, newest first (shown to the agent)."""
    if not phone:
        return []
    stmt = (
        select(Ticket)
        .join(Contact, Contact.ticket_id == Ticket.id)
        .where(Contact.citizen_phone == phone)
        .order_by(Ticket.first_arrived_at.desc())
        .distinct()
        .limit(limit)
    )
    if exclude_ticket_id is not None:
        stmt = stmt.where(Ticket.id != exclude_ticket_id)
    return list(session.scalars(stmt))


def recent_answered(session: Session, agent: User, limit: int = 5) -> list[Contact]:
    """The agent's latest answered calls, for the phone page (with the caller's history)."""
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.channel == "phone", Contact.answered_by_id == agent.id)
            .order_by(Contact.answered_at.desc())
            .limit(limit)
        )
    )
