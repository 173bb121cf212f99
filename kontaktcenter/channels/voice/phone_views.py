"""The agent's phone page /phone: callers waiting, take the next call, callbacks and their outcome."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from twilio.base.exceptions import TwilioException

from ...auth.decorators import roles_required
from ...casework.service import change_presence
from ...database import db
from ...errors_http import back_on_error
from ...notify.transport import TransportError, from_number, twilio_client
from ...tickets.access import may_see
from ...tickets.models import Ticket
from ..clock import now
from ..twilio_security import public_url
from . import calls, distribution, transfers

bp = Blueprint("phone", __name__, url_prefix="/phone")

# Who answers calls here: the first line, and a department's caseworkers and coordinators
# (offered the callers transferred to their department's queues).
PHONE_ROLES = distribution.PHONE_ROLES
# Who transfers calls and works the first line's callbacks: the switchboard's own staff.
TRANSFER_ROLES = ("agent", "admin")


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
        live=transfers.live_panel(db.session, current_user, request.args.get("q", ""), now()),
    )


@bp.post("/presence")
@roles_required(*PHONE_ROLES)
def presence():
    choice = request.form.get("presence", "")
    if choice not in ("available", "away"):
        flash(_("Välj tillgänglig eller borta."), "error")
        return redirect(url_for(".page")), 303
    change_presence(db.session, current_user, choice, now())
    flash(
        _("Du är nu tillgänglig för samtal.") if choice == "available" else _("Du tar inte emot samtal nu."), "success"
    )
    return redirect(url_for(".page")), 303


@bp.post("/next")
@roles_required(*PHONE_ROLES)
def take_next():
    """Offer the agent the longest-waiting call they may take, now: their phone rings for exactly that caller."""
    back_on_error(url_for(".page"), 303)
    try:
        offer = distribution.take_next(db.session, distribution.app_ringer(), current_user, now())
    except (TwilioException, TransportError) as exc:
        db.session.rollback()
        current_app.logger.error("Twilio refused to connect agent %s: %s", current_user.username, exc)
        flash(_("Twilio kunde inte koppla samtalet. Försök igen om en stund."), "error")
    else:
        queue = db.session.get(calls.Contact, offer.contact_id).queue
        flash(_("Din telefon ringer nu: svara för att ta samtalet i kön %(queue)s.", queue=queue.name_sv), "success")
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


# -- live-call transfers (transfers.py) -------------------------------------------------


def _twilio_for_transfers() -> transfers.Twilio:
    def webhook(name: str, transfer_id: int) -> str:
        return public_url(current_app, url_for(f"twilio_voice.transfer_{name}", transfer=transfer_id))

    return transfers.Twilio(
        client=twilio_client(), from_number=from_number(), webhook=webhook, settings=current_app.config["transfers"]
    )


def _form_id(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise transfers.TransferError("Ogiltigt val.", field=name)
    return int(value)


def _twilio_refused(exc: Exception) -> None:
    db.session.rollback()
    current_app.logger.error("Twilio refused a transfer by %s: %s", current_user.username, exc)
    flash(_("Twilio kunde inte koppla samtalet. Försök igen om en stund."), "error")


@bp.post("/transfer")
@roles_required(*TRANSFER_ROLES)
def transfer():
    """Transfer the agent's live call: to a department queue, a person or an external number, cold or warm."""
    back_on_error(url_for(".page"), 303)
    form = request.form
    wanted = transfers.TransferRequest(
        contact_id=_form_id("contact_id") or 0,
        kind=form.get("kind", ""),
        warm=form.get("warm") == "1",
        queue_id=_form_id("queue_id"),
        staff_member_id=_form_id("staff_member_id"),
        number=form.get("number", ""),
        note=form.get("note", ""),
        confirm_absent=form.get("confirm_absent") == "1",
        instead_of_id=_form_id("instead_of"),
    )
    try:
        made = transfers.start_transfer(db.session, current_user, wanted, _twilio_for_transfers(), now())
    except (TwilioException, TransportError) as exc:
        _twilio_refused(exc)
        return redirect(url_for(".page")), 303
    db.session.commit()
    if made.requeued_contact_id is not None:
        # The caller waits in the department's queue: offered to a free caseworker at once.
        distribution.after_call_queued(db.session, made.requeued_contact_id, now())
    if made.warm:
        flash(_("Mottagaren rings upp. Medborgaren väntar medan du pratar med mottagaren."), "success")
    else:
        flash(_("Samtalet är kopplat vidare."), "success")
    return redirect(url_for(".page")), 303


def _finish_transfer(transfer_id: int, complete: bool):
    back_on_error(url_for(".page"), 303)
    finish = transfers.complete_warm if complete else transfers.cancel_warm
    try:
        finish(db.session, current_user, transfer_id, _twilio_for_transfers(), now())
    except (TwilioException, TransportError) as exc:
        _twilio_refused(exc)
        return redirect(url_for(".page")), 303
    db.session.commit()
    if complete:
        flash(_("Samtalet är överlämnat. Du har lämnat samtalet."), "success")
    else:
        flash(_("Överlämnandet är avbrutet. Du pratar med medborgaren igen."), "success")
    return redirect(url_for(".page")), 303


@bp.post("/transfer/<int:transfer_id>/complete")
@roles_required(*TRANSFER_ROLES)
def complete_transfer(transfer_id: int):
    """The agent has spoken to the receiver of a warm transfer: hand the caller over and leave."""
    return _finish_transfer(transfer_id, complete=True)


@bp.post("/transfer/<int:transfer_id>/cancel")
@roles_required(*TRANSFER_ROLES)
def cancel_transfer(transfer_id: int):
    """Take a warm transfer back: the receiver's leg is hung up and the caller is with the agent again."""
    return _finish_transfer(transfer_id, complete=False)
