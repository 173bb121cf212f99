"""Staff placing a contact by hand: linking a new ticket's contact to the citizen's earlier ticket."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.decorators import roles_required
from ..casework.gate import ticket_for
from ..database import db
from ..errors_http import back_on_error
from ..tickets.access import CASE_ROLES
from .placement import link_contact

bp = Blueprint("intake", __name__)


@bp.post("/tickets/<reference>/link")
@roles_required(*CASE_ROLES)
def link(reference: str):
    """The caller confirms that this call is about their earlier errand `to`."""
    # Both tickets are changed: the user must be able to work on both (gate.py logs and refuses).
    source = ticket_for(reference, write=True)
    target = ticket_for(request.form.get("to", ""), write=True)
    back_on_error(url_for("casework.ticket", reference=source.reference))
    link_contact(db.session, source, target, current_user)
    db.session.commit()
    flash(_("Kontakten är kopplad till ärende %(reference)s.", reference=target.reference), "success")
    return redirect(url_for("casework.ticket", reference=target.reference))
