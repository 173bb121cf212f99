"""The agent console and the ticket page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth.decorators import roles_required
from ..database import db
from ..routing.models import RoutingDecision
from ..tickets.models import Ticket
from ..tickets.service import TicketError
from . import service
from .access import can_read, log_read

bp = Blueprint("casework", __name__)

CASE_ROLES = ("agent", "caseworker", "coordinator", "admin")


def _ticket_or_404(reference: str) -> Ticket:
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    # A ticket the user may not read is reported as missing: its existence is confidential too.
    if ticket is None or not can_read(current_user, ticket):
        abort(404)
    return ticket


@bp.get("/console")
@roles_required(*CASE_ROLES)
def console():
    return render_template(
        "casework/console.html",
        summaries=service.queue_summaries(db.session, current_user),
        tickets=service.visible_queue_tickets(db.session, current_user),
        can_read=can_read,
    )


@bp.get("/tickets/<reference>")
@roles_required(*CASE_ROLES)
def ticket(reference: str):
    ticket = _ticket_or_404(reference)
    log_read(db.session, current_user, ticket)
    db.session.commit()
    decision = db.session.scalar(
        select(RoutingDecision).where(RoutingDecision.ticket_id == ticket.id).order_by(RoutingDecision.id.desc())
    )
    return render_template("casework/ticket.html", ticket=ticket, decision=decision)


@bp.post("/tickets/<reference>/take")
@roles_required(*CASE_ROLES)
def take(reference: str):
    ticket = _ticket_or_404(reference)
    return _act(ticket, lambda: service.take(db.session, ticket, current_user), _("Du har tagit ärendet."))


@bp.post("/tickets/<reference>/reply")
@roles_required(*CASE_ROLES)
def reply(reference: str):
    ticket = _ticket_or_404(reference)
    internal = request.form.get("kind") == "note"
    body = request.form.get("body", "")
    if len(body) > 10000:
        flash(_("Meddelandet får vara högst 10 000 tecken."), "error")
        return redirect(url_for(".ticket", reference=reference))
    return _act(
        ticket,
        lambda: service.reply(db.session, ticket, current_user, body, internal=internal),
        _("Anteckningen är sparad.") if internal else _("Svaret är skickat."),
    )


@bp.post("/tickets/<reference>/resolve")
@roles_required(*CASE_ROLES)
def resolve(reference: str):
    ticket = _ticket_or_404(reference)
    return _act(ticket, lambda: service.resolve_ticket(db.session, ticket, current_user), _("Ärendet är löst."))


def _act(ticket: Ticket, action, done_message: str):
    try:
        action()
    except TicketError as exc:
        db.session.rollback()
        flash(_(str(exc)), "error")
    else:
        db.session.commit()
        flash(done_message, "success")
    return redirect(url_for(".ticket", reference=ticket.reference))
