"""Twilio's SMS webhooks: an inbound text becomes a ticket or joins one; delivery status callbacks."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _
from twilio.twiml.messaging_response import MessagingResponse

from ...auth.decorators import public
from ...database import db
from ...errors_http import answer_under
from ...extensions import csrf, current_locale
from ...tickets.service import format_receipt_code
from ..clock import now
from ..receipts import citizen_pages_text
from ..twilio_security import validate_twilio_request
from . import threads

bp = Blueprint("twilio_sms", __name__, url_prefix="/twilio/sms")
# Twilio cannot send a CSRF token; the signature check protects these routes instead.
csrf.exempt(bp)
# A text we cannot take (errors_http calls it): the reason in plain text for Twilio's log,
# as the webhook answers a post without MessageSid.
answer_under("/twilio/sms/", lambda error: Response(str(error), status=error.status, mimetype="text/plain"))

MAX_BODY = 5000


@bp.post("/incoming")
@public
@validate_twilio_request
def incoming():
    """Store the text (idempotent on MessageSid) and answer with the ticket's reference."""
    form = request.form
    message_sid = form.get("MessageSid", "")
    if not message_sid or not form.get("From"):
        return Response("MessageSid and From are required", status=400, mimetype="text/plain")
    body = form.get("Body", "")[:MAX_BODY]
    media = form.get("NumMedia", "0")
    media = int(media) if media.isdigit() else 0
    if media:
        # Pictures are not stored here; the agent learns that the citizen sent some.
        body = (body + "\n" + _("[%(n)d bilagor (MMS) kom inte med]", n=media)).strip()
    at = now()
    received = threads.receive_sms(
        db.session,
        message_sid=message_sid,
        sender=form["From"],
        body=body,
        at=at,
        service_code=current_app.config["sms"]["service"],
    )
    reference = received.ticket.reference
    if received.threaded:
        reply = _("Tack, vi har lagt till ditt sms i ärende %(reference)s.", reference=reference)
    else:
        reply = _(
            "Tack för ditt sms. Ditt ärendenummer är %(reference)s och din kvittokod är %(code)s. Svara på det här sms:et om du vill lägga till något.",
            reference=reference,
            code=format_receipt_code(received.ticket.receipt_code),
        ) + citizen_pages_text(current_locale(), short=True)
    if received.created:
        threads.record_receipt(db.session, received, reply, at)
    db.session.commit()
    response = MessagingResponse()
    response.message(reply)
    return Response(str(response), mimetype="text/xml")


@bp.post("/status")
@public
@validate_twilio_request
def status():
    """Delivery report for an SMS we sent: recorded on the Message with that MessageSid."""
    threads.record_delivery_status(
        db.session, request.form.get("MessageSid", ""), request.form.get("MessageStatus", "")
    )
    db.session.commit()
    return Response(status=204)
