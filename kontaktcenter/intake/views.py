"""Staff placing a contact by hand: linking a new ticket's contact to the citizen's earlier ticket."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth.decorators import roles_required
from ..casework.access import CASE_ROLES, can_read, log_read
from ..database import db
from ..tickets.models import Ticket
from ..tickets.service import TicketError
from .placement import link_contact

bp = Blueprint("intake", __name__)


def _readable_or_404(reference: str) -> Ticket:
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    if ticket is None or not can_read(current_user, ticket):
        abort(404)  # a ticket the user may not read is reported as missing
    log_read(db.session, current_user, ticket, action="link")
    return ticket


@bp.post("/tickets/<reference>/link")
@roles_required(*CASE_ROLES)
def link(reference: str):
    """The caller confirms that this call is about their earlier errand `to`."""
    source = _readable_or_404(reference)
    target = _readable_or_404(request.form.get("to", "").strip().upper())
    db.session.commit()  # the access log stands even if the link is refused
    try:
        link_contact(db.session, source, target, current_user)
    except TicketError as exc:
        db.session.rollback()
        flash(_(str(exc)), "error")
        return redirect(url_for("casework.ticket", reference=source.reference))
    db.session.commit()
    flash(_("Kontakten är kopplad till ärende %(reference)s.", reference=target.reference), "success")
    return redirect(url_for("casework.ticket", reference=target.reference))
