"""Ticket operations: creation, events, replies, resolution (reference numbers: references.py)."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement

from ..contacts.models import Contact
from ..database import utcnow
from ..directory.models import Queue, Service, User
from ..errors import DomainError
from .models import Message, Ticket, TicketEvent
from .references import format_reference, next_reference_numbers
from .sla import on_status_change


class TicketError(DomainError, ValueError):
    """A ticket operation that cannot be done; the message says why."""


# Crockford's base 32 without I, L, O, U: read aloud or typed from paper without confusion.
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_LENGTH = 10  # 50 random bits: guessing one ticket's code is out of reach


def new_receipt_code() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))


def format_receipt_code(code: str | None) -> str:
    """As printed on a receipt: two groups of five."""
    return f"{code[:5]}-{code[5:]}" if code else ""


def receipt_code_matches(ticket: Ticket, given: str | None) -> bool:
    """The citizen's receipt code, as typed (any case, spaces or dashes), in constant time."""
    if not ticket.receipt_code or not given:
        return False
    typed = "".join(given.split()).replace("-", "").upper()
    if not typed.isascii():
        return False
    return hmac.compare_digest(typed.encode(), ticket.receipt_code.encode())


def reply_address(contact: Contact) -> str:
    """The address a contact's reply channel answers at."""
    if contact.reply_channel == "email":
        return contact.citizen_email or ""
    if contact.reply_channel in ("sms", "phone"):
        return contact.citizen_phone or ""
    return ""


def event_values(
    kind: str, *, at: Any, actor_id: Any = None, from_value: Any = None, to_value: Any = None, **detail: Any
) -> dict[str, Any]:
    """One event row's values (all but ticket_id): the one builder for the ORM path,
    the claim's single SQL statement (values may be SQL expressions) and the bulk import."""
    return {
        "at": at,
        "actor_id": actor_id,
        "kind": kind,
        "from_value": _as_text(from_value),
        "to_value": _as_text(to_value),
        "detail": detail,
    }


def _as_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str | ClauseElement) else str(value)


def record_event(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    actor: User | None = None,
    from_value: Any = None,
    to_value: Any = None,
    at: datetime | None = None,
    **detail: Any,
) -> TicketEvent:
    event = TicketEvent(
        ticket=ticket,
        **event_values(
            kind,
            at=at or utcnow(),
            actor_id=actor.id if actor else None,
            from_value=from_value,
            to_value=to_value,
            **detail,
        ),
    )
    session.add(event)
    return event


def create_ticket(
    session: Session,
    *,
    queue: Queue,
    service: Service | None,
    first_arrived_at: datetime,
    subject: str = "",
    priority: int = 3,
    kind: str = "errand",
    actor: User | None = None,
    opened_by: Contact | None = None,
) -> Ticket:
    """A new ticket; `opened_by`, the contact that opens it, gives its reply address."""
    # The reference is given as the ticket is inserted (_number_at_insert).
    ticket = Ticket(
        kind=kind,
        status="new",
        queue=queue,
        service=service,
        priority=priority,
        confidential=bool(service and service.confidential) or queue.confidential,
        subject=subject[:300],
        first_arrived_at=first_arrived_at,
        receipt_code=new_receipt_code(),
    )
    if opened_by is not None and opened_by.reply_channel != "none":
        ticket.reply_channel, ticket.reply_to = opened_by.reply_channel, reply_address(opened_by)
    session.add(ticket)
    record_event(session, ticket, "created", actor=actor, to_value=queue.code)
    return ticket


@event.listens_for(Ticket, "before_insert")
def _number_at_insert(_mapper, connection: Connection, ticket: Ticket) -> None:
    """A new ticket takes the next reference number of its year as it is inserted
    (references.py; on SQLite that locks the database for writing from then on)."""
    if ticket.reference is None:
        year = ticket.first_arrived_at.year
        (number,) = next_reference_numbers(connection, year)
        ticket.reference = format_reference(year, number)


def set_status(session: Session, ticket: Ticket, status: str, *, actor: User | None = None, **detail: Any) -> None:
    if ticket.status == status:
        return
    record_event(session, ticket, "status", actor=actor, from_value=ticket.status, to_value=status, **detail)
    # The SLA clocks stop while the ticket waits for the citizen (sla.py).
    on_status_change(ticket, ticket.status, status)
    ticket.status = status


def assign(session: Session, ticket: Ticket, user: User | None, *, actor: User | None = None, reason: str = "") -> None:
    old = ticket.assignee
    ticket.assignee = user
    record_event(
        session,
        ticket,
        "assigned",
        actor=actor,
        from_value=old.username if old else None,
        to_value=user.username if user else None,
        reason=reason,
    )
    if user is not None:
        user.last_assigned_at = utcnow()
        if ticket.status == "new":
            set_status(session, ticket, "open", actor=actor)


def add_message(
    session: Session,
    ticket: Ticket,
    *,
    kind: str,
    body: str,
    author: User | None = None,
    channel: str = "",
    recipient: str = "",
    automatic: bool = False,
    provider_sid: str | None = None,
    at: datetime | None = None,
) -> Message:
    body = body.strip()
    if not body:
        raise TicketError("Meddelandet är tomt.")
    at = at or utcnow()
    message = Message(
        ticket=ticket,
        kind=kind,
        body=body,
        author=author,
        channel=channel,
        recipient=recipient,
        automatic=automatic,
        provider_sid=provider_sid,
        created_at=at,
    )
    session.add(message)
    record_event(session, ticket, f"message:{kind}", actor=author, to_value=channel or None)
    if kind == "reply" and not automatic:
        # The first reply to the citizen is the written contacts' response time (METRICS.md).
        for contact in ticket.contacts:
            if contact.is_written and contact.first_response_at is None and contact.arrived_at <= at:
                contact.first_response_at = at
    return message


def resolve(session: Session, ticket: Ticket, *, actor: User | None, at: datetime | None = None) -> None:
    """Resolve; who resolved and the ticket's history decide the resolution (METRICS.md)."""
    if not ticket.is_open:
        raise TicketError("Ärendet är redan löst.")
    by_kontaktcenter = ticket.queue.kind == "first_line" and not ticket.escalated
    if not by_kontaktcenter:
        resolution = "department"
    elif len(ticket.contacts) <= 1 and ticket.reopened_count == 0:
        resolution = "first_contact"
    else:
        resolution = "kontaktcenter"
    set_status(session, ticket, "resolved", actor=actor)
    ticket.resolved_at = at or utcnow()
    ticket.resolution = resolution
    ticket.resolved_by_id = actor.id if actor else None
    record_event(session, ticket, "resolution", actor=actor, to_value=resolution)


def reopen(session: Session, ticket: Ticket, *, actor: User | None = None, reason: str = "") -> None:
    if ticket.is_open:
        return
    set_status(session, ticket, "open", actor=actor, reason=reason)
    ticket.resolved_at = None
    ticket.resolution = "unresolved"
    ticket.reopened_count += 1
