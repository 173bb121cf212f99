"""The automatic receipt a citizen may ask for: the reference by e-mail or SMS (not a first response)."""

from __future__ import annotations

import logging

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..tickets.models import Message, Ticket
from ..tickets.service import add_message, format_receipt_code
from .accessibility import ACCESSIBILITY_PATH, PRIVACY_PATH, page_url

log = logging.getLogger(__name__)


class ReceiptError(RuntimeError):
    """The receipt could not be sent; the contact itself is stored."""


def receipt_route(contact: Contact) -> tuple[str, str] | None:
    """(channel, recipient): the citizen's chosen answer channel when it can carry text, else what they gave."""
    if contact.reply_channel == "sms" and contact.citizen_phone:
        return "sms", contact.citizen_phone
    if contact.citizen_email:
        return "email", contact.citizen_email
    if contact.citizen_phone:
        return "sms", contact.citizen_phone
    return None


def citizen_pages_text(locale: str, *, short: bool = False) -> str:
    """The links a confirmation ends with: both citizen pages by e-mail, an SMS the privacy page only."""
    base = current_app.config["PUBLIC_BASE_URL"]
    privacy = page_url(base, PRIVACY_PATH, locale)
    if short:
        return " " + _("Personuppgifter: %(url)s", url=privacy)
    return "\n\n" + "\n".join(
        (
            _("Så behandlar vi dina personuppgifter: %(url)s", url=privacy),
            _("Tillgänglighetsredogörelse: %(url)s", url=page_url(base, ACCESSIBILITY_PATH, locale)),
        )
    )


def send_receipt(session: Session, ticket: Ticket, contact: Contact) -> Message | None:
    """Send the receipt in the contact's language and record it as an automatic reply."""
    route = receipt_route(contact)
    if route is None:
        return None
    channel, recipient = route
    locale = contact.language if contact.language in ("sv", "en", "ar") else "sv"
    with force_locale(locale):
        subject = _("Vi har tagit emot ditt ärende")
        body = _(
            "Hej! Vi har tagit emot ditt ärende hos Malmö stad. Ditt ärendenummer är %(reference)s "
            "och din kvittokod är %(code)s. Ange numret om du kontaktar oss igen om samma sak. "
            "Det här är en automatisk bekräftelse.",
            reference=ticket.reference,
            code=format_receipt_code(ticket.receipt_code),
        )
        body += citizen_pages_text(locale, short=channel == "sms")
    try:
        if channel == "email":
            from ..notify.email import EmailError, send_email

            try:
                sid = send_email(recipient, subject, body, reference=ticket.reference)
            except EmailError as exc:
                raise ReceiptError(str(exc)) from exc
        else:
            from ..notify.sms import SmsError, send_sms

            try:
                sid = send_sms(recipient, body)
            except SmsError as exc:
                raise ReceiptError(str(exc)) from exc
    except ReceiptError:
        log.warning("receipt for %s could not be sent by %s", ticket.reference, channel, exc_info=True)
        raise
    return add_message(
        session, ticket, kind="reply", body=body, channel=channel, recipient=recipient, automatic=True, provider_sid=sid
    )
