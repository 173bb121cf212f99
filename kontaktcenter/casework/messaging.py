"""Messages on a ticket: replies to its citizen's own reply address, phone notes, internal notes."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from ..contacts.citizen import IdentifierError, normalise_email, normalise_phone
from ..directory.models import User
from ..tickets.models import Message, Ticket
from ..tickets.service import TicketError, add_message, record_event
from ..vocabulary import REPLY_CHANNELS

log = logging.getLogger(__name__)

MESSAGE_KINDS = ("reply", "phone_note", "note")
MAX_BODY = 10_000


def _deliver(ticket: Ticket, body: str) -> tuple[str, str]:
    """Send to the ticket's own reply address; returns (recipient, provider id)."""
    recipient = ticket.reply_to
    if not recipient:
        raise TicketError("Ärendet saknar en adress för svar.")
    if ticket.reply_channel == "email":
        from ..notify.email import send_email

        return recipient, send_email(
            recipient, f"Svar på ditt ärende {ticket.reference}", body, reference=ticket.reference
        )
    if ticket.reply_channel == "sms":
        from ..notify.sms import send_sms

        return recipient, send_sms(recipient, body)
    raise TicketError("Ärendet saknar en kanal för svar.")


def change_reply_address(session: Session, ticket: Ticket, user: User, channel: str, address: str) -> None:
    """Staff change where replies go (the citizen asked for it): validated, and logged on the ticket."""
    if channel not in REPLY_CHANNELS:
        raise TicketError("Välj hur medborgaren vill få svar.")
    try:
        if channel == "email":
            address = normalise_email(address)
        elif channel in ("sms", "phone"):
            address = normalise_phone(address)
        else:
            address = ""
    except IdentifierError:
        raise TicketError("Skriv en giltig e-postadress eller ett giltigt telefonnummer för svaret.") from None
    if (channel, address) == (ticket.reply_channel, ticket.reply_to):
        return
    record_event(
        session,
        ticket,
        "reply_address",
        actor=user,
        from_value=f"{ticket.reply_channel}:{ticket.reply_to}",
        to_value=f"{channel}:{address}",
    )
    ticket.reply_channel, ticket.reply_to = channel, address


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
    channel = ticket.reply_channel
    if kind == "phone_note":
        # A call to the citizen, written down: the answer was given by phone.
        recipient = ticket.reply_to if channel in ("sms", "phone") else ""
        return add_message(session, ticket, kind="reply", channel="phone", body=body, author=user, recipient=recipient)
    if channel == "phone":
        raise TicketError("Medborgaren vill bli uppringd: ring upp och skriv en telefonanteckning.")
    if channel == "none":
        raise TicketError(
            "Medborgaren har inte bett om svar och saknar kontaktuppgift för svar. Skriv en intern anteckning."
        )
    message = add_message(session, ticket, kind="reply", channel=channel, body=body, author=user)
    session.flush()
    try:
        recipient, provider_id = _deliver(ticket, body)
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
    channel = ticket.reply_channel
    if channel not in ("email", "sms") or not ticket.reply_to:
        return None
    message = add_message(session, ticket, kind="reply", channel=channel, body=body, author=actor, automatic=True)
    session.flush()
    try:
        recipient, provider_id = _deliver(ticket, body)
    except Exception as exc:  # noqa: BLE001 - a notice that fails is recorded, not fatal
        log.warning("notice on %s by %s failed: %s", ticket.reference, channel, exc)
        message.delivery_status = "failed"
        record_event(session, ticket, "notice_failed", actor=actor, to_value=channel)
        return message
    message.recipient = recipient
    message.provider_sid = provider_id
    message.delivery_status = "sent"
    return message
