"""The public web form /kontakt: a citizen's written contact becomes a ticket."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..auth.decorators import public
from ..contacts.service import ContactError, IncomingContact, receive
from ..database import db
from ..directory.models import Service
from ..extensions import current_locale
from ..tickets.models import Ticket
from .forms import ContactForm

bp = Blueprint("web", __name__)

# Domain messages (English, for logs and the API) → the form's words for citizens.
FIELD_MESSAGES = {
    "service": lambda: _("Välj en tjänst i listan."),
    "email": lambda: _("Skriv en giltig e-postadress, till exempel namn@exempel.se."),
    "phone": lambda: _("Skriv ett giltigt telefonnummer, till exempel 070-123 45 67."),
    "personnummer": lambda: _("Skriv ett giltigt personnummer eller samordningsnummer (ÅÅÅÅMMDD-NNNN)."),
}


def _service_choices(locale: str) -> list[SelectChoice]:
    services = db.session.scalars(
        select(Service).where(Service.active.is_(True), Service.walk_in_topic.is_(False)).order_by(Service.name_sv)
    )
    return [SelectChoice("", _("Välj …"))] + [SelectChoice(s.code, s.name(locale)) for s in services]


@bp.route("/kontakt", methods=["GET", "POST"])
@public
def kontakt():
    locale = current_locale()
    form = ContactForm()
    form.service.choices = _service_choices(locale)
    status = 200
    if form.validate_on_submit():
        incoming = IncomingContact(
            channel="web",
            service_code=form.service.data,
            text=form.text.data,
            language=locale,
            citizen_name=form.name.data or "",
            email=form.email.data or None,
            phone=form.phone.data or None,
            reply_channel=form.reply_channel.data,
        )
        try:
            received = receive(db.session, incoming)
        except ContactError as exc:
            db.session.rollback()
            message = FIELD_MESSAGES[exc.field]() if exc.field in FIELD_MESSAGES else exc.message
            getattr(form, exc.field, form.text).errors.append(message)
            status = 400
        else:
            db.session.commit()
            session["receipt"] = received.ticket.reference
            return redirect(url_for("web.receipt", lang=locale))
    elif form.is_submitted():
        status = 400
    return render_template("channels/kontakt.html", form=form), status


@bp.get("/kontakt/kvitto")
@public
def receipt():
    reference = session.get("receipt")
    if not reference:
        return redirect(url_for("web.kontakt"))
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    return render_template("channels/receipt.html", ticket=ticket)
