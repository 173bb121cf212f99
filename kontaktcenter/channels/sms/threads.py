"""SMS conversations: a text joins the sender's thread, or starts one; delivery reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ...contacts.citizen import caller_number
from ...contacts.models import Contact
from ...intake.incoming import IncomingContact
from ...intake.receive import receive
from ...tickets.models import Message, Ticket
from ...tickets.service import add_message

# The first key of the two-key advisory locks that serialise one sender's texts.
SENDER_LOCK_SPACE = 40404

# Twilio's MessageStatus values in the order a message moves through them; a late,
# out-of-order callback (Twilio does not promise order) never moves a message back.
DELIVERY_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}


@dataclass(frozen=True)
class ReceivedSms:
    contact: Contact
    ticket: Ticket
    created: bool  # False when Twilio retried a MessageSid we already have
    threaded: bool  # True when the text joined an open ticket


def _one_text_at_a_time(session: Session, phone: str) -> None:
    """Serialise one sender's texts until this request commits (PostgreSQL advisory lock).

    Two texts sent a second apart arrive as parallel webhooks; without this both would
    find no open ticket and each start one. Other senders are not held up. (SQLite has
    one writer at a time anyway.)
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:phone))"), {"space": SENDER_LOCK_SPACE, "phone": phone}
        )


def receive_sms(
    session: Session, *, message_sid: str, sender: str, body: str, at: datetime, service_code: str
) -> ReceivedSms:
    """Store one inbound SMS (idempotent on MessageSid): on the sender's thread (the intake's
    placement: same number, open or just resolved) or a new ticket."""
    phone = caller_number(sender)
    if phone:
        _one_text_at_a_time(session, phone)
    # After the lock, so a parallel duplicate that got it first is seen here with what it stored.
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
    threaded = received.contact.placement not in (None, "new")
    return ReceivedSms(received.contact, received.ticket, received.created, threaded=threaded)


def record_receipt(session: Session, received: ReceivedSms, body: str, at: datetime) -> Message:
    """The automatic answer with the reference, kept on the ticket (not a first response)."""
    return add_message(
        session,
        received.ticket,
        kind="reply",
        body=body,
        channel="sms",
        recipient=received.contact.citizen_phone or "",
        automatic=True,
        at=at,
    )


def record_delivery_status(session: Session, message_sid: str, status: str) -> Message | None:
    """Twilio's delivery report for a message we sent (Message.provider_sid = MessageSid)."""
    message = session.scalar(select(Message).where(Message.provider_sid == message_sid))
    if message is None or status not in DELIVERY_ORDER:
        return message
    if DELIVERY_ORDER[status] >= DELIVERY_ORDER.get(message.delivery_status, -1):
        message.delivery_status = status
    return message
