"""Dataskydd pages and actions: the retention hold on a ticket."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.decorators import roles_required
from ..casework.gate import ticket_for
from ..database import db
from ..tickets.service import TicketError
from .hold import HOLD_ROLES, release_hold, set_hold

bp = Blueprint("privacy", __name__)


@bp.post("/tickets/<reference>/bevara")
@roles_required(*HOLD_ROLES)
def retention_hold(reference: str):
    """Set (or with release=1 lift) the hold; only on a ticket in the user's own work."""
    ticket = ticket_for(reference, write=True)
    release = request.form.get("release") == "1"
    try:
        (release_hold if release else set_hold)(db.session, ticket, current_user, request.form.get("reason", ""))
    except TicketError as exc:
        db.session.rollback()
        flash(_(str(exc)), "error")
    else:
        db.session.commit()
        flash(_("Ärendet gallras enligt tjänstens regel.") if release else _("Ärendet bevaras och gallras inte."), "success")
    return redirect(url_for("casework.ticket", reference=reference))
