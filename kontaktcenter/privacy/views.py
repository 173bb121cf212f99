"""Dataskydd pages and actions: the retention hold on a ticket, the registerutdrag page."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.decorators import roles_required
from ..casework.gate import ticket_for
from ..database import db
from ..tickets.service import TicketError
from .documents import as_html, as_json
from .extract import ExtractError, person, registerutdrag
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


@bp.route("/admin/registerutdrag", methods=["GET", "POST"])
@roles_required("admin")
def registerutdrag_page():
    """The form, and (POST: no personnummer in URLs or server logs) the extract itself."""
    if request.method == "GET":
        return render_template("privacy/request.html")
    try:
        who = person(personnummer=request.form.get("personnummer"), phone=request.form.get("phone"), email=request.form.get("email"))
    except ExtractError:
        return render_template(
            "privacy/request.html", error=_("Ange minst ett giltigt personnummer, telefonnummer eller e-postadress.")
        ), 400
    data = registerutdrag(db.session, current_user, who)
    db.session.commit()
    if request.form.get("format") == "json":
        return Response(as_json(data), mimetype="application/json",
                        headers={"Content-Disposition": "attachment; filename=registerutdrag.json", "Cache-Control": "no-store"})
    response = Response(as_html(data, get_locale().language if get_locale() else "sv"), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
