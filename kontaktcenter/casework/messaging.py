"""Messages on a ticket: replies through the ticket's channel, phone notes, internal notes."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..directory.models import User
from ..tickets.models import Message, Ticket
from ..tickets.service import TicketError, add_message, record_event

log = logging.getLogger(__name__)

MESSAGE_KINDS = ("reply", "phone_note", "note")
MAX_BODY = 10_000


def reply_contact(ticket: Ticket) -> Contact | None:
    """The contact whose reply channel answers the ticket: the latest one that asked for an answer."""
    for contact in reversed(ticket.contacts):
        if contact.reply_channel != "none":
            return contact
    return ticket.contacts[-1] if ticket.contacts else None


def reply_channel(ticket: Ticket) -> str:
    contact = reply_contact(ticket)
    return contact.reply_channel if contact else "none"


def _deliver(ticket: Ticket, channel: str, contact: Contact, body: str) -> tuple[str, str]:
    """Send through the channel; returns (recipient, provider id)."""
    if channel == "email":
        from ..notify.email import send_email

        recipient = contact.citizen_email or ""
        return recipient, send_email(recipient, f"Svar på ditt ärende {ticket.reference}", body, reference=ticket.reference)
    if channel == "sms":
        from ..notify.sms import send_sms

        recipient = contact.citizen_phone or ""
        return recipient, send_sms(recipient, body)
    raise TicketError("Ärendet saknar en kanal för svar.")


def post_message(session: Session, ticket: Ticket, user: User, body: str, kind: str) -> Message:
    """Reply to the citizen through the ticket's channel, log a phone call, or note internally.

    A reply is stored and then sent; if sending fails the caller rolls back, so no
    message claims to be sent that was not.
    """
    if kind not in MESSAGE_KINDS:
        raise TicketError("Okänd typ av meddelande.")
    if len(body) > MAX_BODY:
        raise TicketError("Meddelandet får vara högst 10 000 tecken.")
    if kind == "note":
        return add_message(session, ticket, kind="note", body=body, author=user)
    contact = reply_contact(ticket)
    if kind == "phone_note":
        # A call to the citizen, written down: the answer was given by phone.
        recipient = (contact.citizen_phone or "") if contact else ""
        return add_message(session, ticket, kind="reply", channel="phone", body=body, author=user, recipient=recipient)
    channel = contact.reply_channel if contact else "none"
    if channel == "phone":
        raise TicketError("Medborgaren vill bli uppringd: ring upp och skriv en telefonanteckning.")
    if channel == "none" or contact is None:
        raise TicketError("Medborgaren har inte bett om svar och saknar kontaktuppgift för svar. Skriv en intern anteckning.")
    message = add_message(session, ticket, kind="reply", channel=channel, body=body, author=user)
    session.flush()
    try:
        recipient, provider_id = _deliver(ticket, channel, contact, body)
    except TicketError:
        raise
    except Exception as exc:  # noqa: BLE001 - any provider failure means: not sent
        log.warning("reply on %s by %s could not be sent: %s", ticket.reference, channel, exc)
        raise TicketError("Svaret kunde inte skickas. Försök igen om en stund.") from exc
    message.recipient = recipient
    message.provider_sid = provider_id
    message.delivery_status = "sent"
    return message


def notify_citizen(session: Session, ticket: Ticket, body: str, *, actor: User | None = None) -> Message | None:
    """An automatic notice (the ticket moved) through the ticket's channel, when it has one.

    Automatic notices are not a first response (METRICS.md); a failure is logged on
    the ticket and does not undo the move.
    """
    contact = reply_contact(ticket)
    channel = contact.reply_channel if contact else "none"
    if contact is None or channel not in ("email", "sms"):
        return None
    message = add_message(session, ticket, kind="reply", channel=channel, body=body, author=actor, automatic=True)
    session.flush()
    try:
        recipient, provider_id = _deliver(ticket, channel, contact, body)
    except Exception as exc:  # noqa: BLE001 - a notice that fails is recorded, not fatal
        log.warning("notice on %s by %s failed: %s", ticket.reference, channel, exc)
        message.delivery_status = "failed"
        record_event(session, ticket, "notice_failed", actor=actor, to_value=channel)
        return message
    message.recipient = recipient
    message.provider_sid = provider_id
    message.delivery_status = "sent"
    return message
