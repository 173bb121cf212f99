"""SMS conversations: a text joins the sender's open ticket, or starts one; delivery reports."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..contacts.service import IncomingContact, receive
from ..tickets.models import OPEN_STATUSES, Message, Ticket
from ..tickets.service import add_message, record_event, set_status
from .phone import caller_number

# The first key of the two-key advisory locks that serialise one sender's texts.
SENDER_LOCK_SPACE = 40404

# Twilio's MessageStatus values in the order a message moves through them; a late,
# out-of-order callback (Twilio does not promise order) never moves a message back.
DELIVERY_ORDER = {
    "accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
    "delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4, "read": 5,
}


@dataclass(frozen=True)
class ReceivedSms:
    contact: Contact
    ticket: Ticket
    created: bool  # False when Twilio retried a MessageSid we already have
    threaded: bool  # True when the text joined an open ticket


def open_thread(session: Session, phone: str, at: datetime, thread_days: int) -> Ticket | None:
    """The sender's open ticket with a contact from this number within `thread_days`, newest first."""
    return session.scalar(
        select(Ticket)
        .join(Contact, Contact.ticket_id == Ticket.id)
        .where(
            Contact.citizen_phone == phone,
            Contact.arrived_at >= at - timedelta(days=thread_days),
            Ticket.status.in_(OPEN_STATUSES),
        )
        .order_by(Contact.arrived_at.desc(), Ticket.id.desc())
        .limit(1)
    )


def _one_text_at_a_time(session: Session, phone: str) -> bool:
    """Serialise one sender's texts until this request commits (PostgreSQL advisory lock).

    Two texts sent a second apart arrive as parallel webhooks; without this both would
    find no open ticket and each start one. Other senders are not held up. Returns
    whether the lock was taken (not on SQLite, which has one writer at a time anyway).
    """
    if session.get_bind().dialect.name != "postgresql":
        return False
    session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:phone))"), {"space": SENDER_LOCK_SPACE, "phone": phone})
    return True


def _by_sid(session: Session, message_sid: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.provider_sid == message_sid))


def _joined(contact: Contact) -> bool:
    return contact.ticket is not None and contact.ticket.contacts[0].id != contact.id


def receive_sms(
    session: Session, *, message_sid: str, sender: str, body: str, at: datetime, thread_days: int, service_code: str
) -> ReceivedSms:
    """Store one inbound SMS (idempotent on MessageSid) on the sender's thread or a new ticket."""
    phone = caller_number(sender)
    locked = bool(phone) and _one_text_at_a_time(session, phone)
    # After the lock, so a parallel duplicate that got it first is seen here with what it stored.
    existing = _by_sid(session, message_sid)
    if existing is not None:
        return ReceivedSms(existing, existing.ticket, created=False, threaded=_joined(existing))
    ticket = open_thread(session, phone, at, thread_days) if phone else None
    if ticket is None:
        received = receive(
            session,
            IncomingContact(
                channel="sms",
                service_code=service_code,
                text=body,
                phone=phone,
                reply_channel="sms" if phone else "none",
                provider_sid=message_sid,
                arrived_at=at,
            ),
        )
        return ReceivedSms(received.contact, received.ticket, received.created, threaded=False)
    contact = Contact(
        channel="sms",
        service_id=ticket.service_id,
        queue_id=ticket.queue_id,
        citizen_phone=phone,
        reply_channel="sms",
        text=body.strip(),
        arrived_at=at,
        provider_sid=message_sid,
    )
    if locked:
        # Under the sender's lock a retry of this MessageSid cannot be stored beside it (Twilio
        # retries come from the same number): the text goes in with the request's other rows.
        _join_thread(session, contact, ticket, at)
        return ReceivedSms(contact, ticket, created=True, threaded=True)
    try:
        with session.begin_nested():  # without the lock, a parallel duplicate is caught here
            _join_thread(session, contact, ticket, at)
            session.flush()
    except IntegrityError:
        # A parallel duplicate of this MessageSid was stored first.
        existing = _by_sid(session, message_sid)
        if existing is None:
            raise
        return ReceivedSms(existing, existing.ticket, created=False, threaded=_joined(existing))
    return ReceivedSms(contact, ticket, created=True, threaded=True)


def _join_thread(session: Session, contact: Contact, ticket: Ticket, at: datetime) -> None:
    session.add(contact)
    contact.ticket = ticket
    record_event(session, ticket, "contact_added", to_value="sms", at=at)
    if ticket.status == "waiting_citizen":
        set_status(session, ticket, "open", reason="citizen answered by SMS")


def record_receipt(session: Session, received: ReceivedSms, body: str, at: datetime) -> Message:
    """The automatic answer with the reference, kept on the ticket (not a first response)."""
    return add_message(
        session, received.ticket, kind="reply", body=body, channel="sms",
        recipient=received.contact.citizen_phone or "", automatic=True, at=at,
    )


def record_delivery_status(session: Session, message_sid: str, status: str) -> Message | None:
    """Twilio's delivery report for a message we sent (Message.provider_sid = MessageSid)."""
    message = session.scalar(select(Message).where(Message.provider_sid == message_sid))
    if message is None or status not in DELIVERY_ORDER:
        return message
    if DELIVERY_ORDER[status] >= DELIVERY_ORDER.get(message.delivery_status, -1):
        message.delivery_status = status
    return message
