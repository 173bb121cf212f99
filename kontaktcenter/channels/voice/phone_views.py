"""The agent's phone page /phone: callers waiting, take the next call, callbacks and their outcome."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from twilio.base.exceptions import TwilioException

from ...auth.decorators import roles_required
from ...casework.service import set_presence
from ...database import db
from ...errors_http import back_on_error
from ...notify.transport import TransportError, from_number, twilio_client
from ...tickets.access import may_see
from ...tickets.models import Ticket
from ..clock import now
from ..twilio_security import public_url
from . import calls, distribution

bp = Blueprint("phone", __name__, url_prefix="/phone")

PHONE_ROLES = ("agent", "admin")


def _readable(tickets: list[Ticket]) -> list[Ticket]:
    # A confidential errand's existence and service are confidential too (OSL); the
    # caller's other tickets open from here as "serving the same citizen" (logged).
    return [t for t in tickets if may_see(current_user, t)]


def _max_attempts() -> int:
    return current_app.config["CALLBACK_MAX_ATTEMPTS"]


@bp.get("")
@roles_required(*PHONE_ROLES)
def page():
    answered = calls.recent_answered(db.session, current_user)
    return render_template(
        "phone/phone.html",
        waiting=calls.waiting_calls(db.session, current_user),
        callbacks=calls.callbacks_for(db.session, current_user, _max_attempts()),
        answered=[(c, _readable(calls.earlier_tickets(db.session, c.citizen_phone, c.ticket_id))) for c in answered],
        max_attempts=_max_attempts(),
    )


@bp.post("/presence")
@roles_required(*PHONE_ROLES)
def presence():
    choice = request.form.get("presence", "")
    if choice not in ("available", "away"):
        flash(_("Välj tillgänglig eller borta."), "error")
        return redirect(url_for(".page")), 303
    set_presence(db.session, current_user, choice, now())
    db.session.commit()
    if choice == "available":
        # Back at the phone: the longest-waiting call they can take rings them at once.
        distribution.after_event(db.session, at=now(), agent_ids=[current_user.id])
    flash(
        _("Du är nu tillgänglig för samtal.") if choice == "available" else _("Du tar inte emot samtal nu."), "success"
    )
    return redirect(url_for(".page")), 303


@bp.post("/next")
@roles_required(*PHONE_ROLES)
def take_next():
    """Ring the agent and connect the longest-waiting caller in the agent's queues."""
    bridge = public_url(current_app, url_for("twilio_voice.bridge", agent=current_user.id))
    leg_status = public_url(current_app, url_for("twilio_voice.agent_status", agent=current_user.id))
    back_on_error(url_for(".page"), 303)
    try:
        call = calls.take_next_call(
            db.session,
            current_user,
            client=twilio_client(),
            from_number=from_number(),
            bridge_url=bridge,
            status_url=leg_status,
        )
    except (TwilioException, TransportError) as exc:
        db.session.rollback()
        current_app.logger.error("Twilio refused to connect agent %s: %s", current_user.username, exc)
        flash(_("Twilio kunde inte koppla samtalet. Försök igen om en stund."), "error")
    else:
        db.session.commit()
        flash(
            _("Din telefon ringer nu: svara för att ta samtalet i kön %(queue)s.", queue=call.queue.name_sv), "success"
        )
    return redirect(url_for(".page")), 303


@bp.post("/callbacks/<reference>")
@roles_required(*PHONE_ROLES)
def callback_outcome(reference: str):
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    if ticket is None or ticket.queue_id not in {q.id for q in current_user.queues}:
        abort(404)
    outcome = request.form.get("outcome")
    if outcome not in ("reached", "not_reached"):
        flash(_("Välj om du nådde medborgaren eller inte."), "error")
        return redirect(url_for(".page")), 303
    back_on_error(url_for(".page"), 303)
    contact = calls.record_callback_attempt(
        db.session,
        ticket,
        current_user,
        reached=outcome == "reached",
        at=now(),
        max_attempts=_max_attempts(),
    )
    db.session.commit()
    if outcome == "reached":
        flash(_("Återuppringningen är klar. Fortsätt i ärendet."), "success")
        return redirect(url_for("casework.ticket", reference=reference)), 303
    if ticket.is_open:
        flash(
            _("Inte nådd (försök %(n)d). Återuppringningen ligger kvar i kön.", n=contact.callback_attempts), "success"
        )
    else:
        flash(_("Inte nådd efter %(n)d försök. Återuppringningen är avslutad.", n=contact.callback_attempts), "success")
    return redirect(url_for(".page")), 303
