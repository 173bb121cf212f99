"""Outbound SMS through the twilio client, with delivery status reported back to us."""

from __future__ import annotations

from flask import current_app
from twilio.base.exceptions import TwilioException

from ..contacts.citizen import IdentifierError, normalise_phone
from .transport import from_number, twilio_client

# Twilio rejects bodies longer than this (10 segments of 160 GSM characters).
MAX_BODY = 1600
STATUS_CALLBACK_PATH = "/twilio/sms/status"


class SmsError(RuntimeError):
    """The SMS could not be handed to Twilio; the message says why."""


def status_callback_url() -> str:
    """Where Twilio reports delivery (signed like every other Twilio request)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + STATUS_CALLBACK_PATH


def send_sms(to: str, body: str, *, status_callback: str | None = None) -> str:
    """Send `body` to `to` (normalised to E.164); returns Twilio's MessageSid.

    Without an explicit `status_callback`, delivery reports come to our own
    /twilio/sms/status, which records them on the Message with this MessageSid.
    """
    try:
        recipient = normalise_phone(to)
    except IdentifierError as exc:
        raise SmsError(f"cannot send an SMS to this number: {exc}") from None
    body = body.strip()
    if not body:
        raise SmsError("an SMS needs a text")
    if len(body) > MAX_BODY:
        raise SmsError(f"an SMS may be at most {MAX_BODY} characters (this one has {len(body)})")
    try:
        message = twilio_client().messages.create(
            to=recipient,
            from_=from_number(),
            body=body,
            status_callback=status_callback or status_callback_url(),
        )
    except TwilioException as exc:
        raise SmsError(f"Twilio did not accept the SMS: {exc}") from exc
    return message.sid
