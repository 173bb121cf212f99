"""The public web form /kontakt: a citizen's written contact becomes a ticket."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ...auth.decorators import public
from ...database import db
from ...directory.models import Service
from ...errors_http import error_page
from ...extensions import LOCALES, current_locale, limiter
from ...intake.incoming import ContactError, IncomingContact, minimised
from ...intake.receive import receive
from ...tickets.models import Ticket
from ...tickets.service import format_receipt_code
from ...vocabulary import INTERPRETER_LANGUAGES
from ..fields import language_choices, language_name
from ..receipts import ReceiptError, send_receipt
from .catalogue import grouped_choices, search_services, web_services
from .forms import FIELD_MESSAGES, NEED_CHOICES, PERSONNUMMER_EXAMPLE, ContactForm
from .receipt import receipt_summary

log = logging.getLogger(__name__)

bp = Blueprint("web", __name__)


def _form_limit() -> str:
    return current_app.config["RATELIMIT_CONTACT_FORM"]


def _switching_language() -> bool:
    """The language buttons submit the form itself (to ?lang=…), so what the citizen typed
    comes along in the body, personnummer included, and never into a URL. Nothing is sent."""
    return request.method == "POST" and request.form.get("switch_lang") in LOCALES


def _incoming(form: ContactForm, locale: str, service: Service | None) -> IncomingContact:
    needs = list(form.needs.data or [])
    incoming = IncomingContact(
        channel="web",
        service_code=form.service.data,
        text=form.text.data,
        language=locale,
        needs=needs,
        interpreter_language=form.interpreter_language.data if "interpreter" in needs else None,
        citizen_name=form.name.data or "",
        email=form.email.data or None,
        phone=form.phone.data or None,
        personnummer=form.personnummer.data or None,
        reply_channel=form.reply_channel.data,
    )
    # Data minimisation: a personnummer is kept only for the services that need one.
    return minimised(incoming, service)


@bp.route("/kontakt", methods=["GET", "POST"])
@public
@limiter.limit(_form_limit, methods=["POST"], exempt_when=_switching_language)
def kontakt():
    locale = current_locale()
    form = ContactForm()
    services = web_services(db.session)
    query = request.args.get("q", "").strip()[:100]
    shown = search_services(services, query, locale) if query else services
    form.service.choices = grouped_choices(shown, locale, _("Välj …"))
    form.interpreter_language.choices = [
        SelectChoice("", _("Välj språk …")),
        *language_choices(INTERPRETER_LANGUAGES, locale),
    ]
    status = 200
    if form.is_submitted() and form.website.data:
        # A bot filled the honeypot: say no in plain words and keep nothing.
        log.info("contact form honeypot filled; nothing stored")
        return error_page(
            400, _("Formuläret kunde inte skickas"), _("Formuläret kunde inte skickas. Inget har sparats.")
        )
    form.known_services = {s.code for s in services}
    if _switching_language():
        pass  # the same form, filled in, in the new language: no errors before the citizen sends it
    elif form.validate_on_submit():
        service = next((s for s in services if s.code == form.service.data), None)
        try:
            received = receive(db.session, _incoming(form, locale, service))
        except ContactError as exc:  # the form again, with what the citizen typed and the problem at its field
            db.session.rollback()
            message = str(FIELD_MESSAGES[exc.field]) if exc.field in FIELD_MESSAGES else exc.message
            getattr(form, exc.field, form.text).errors.append(message)
            status = 400
        else:
            # The contact is committed before any receipt is sent: a failing mail server never loses it.
            db.session.commit()
            session["receipt"] = received.ticket.reference
            session["receipt_sent"] = None
            if form.send_receipt.data:
                session["receipt_sent"] = _send_receipt(received)
            return redirect(url_for("web.receipt", lang=locale))
    elif form.is_submitted():
        status = 400
    pnr_services = sorted(s.name(locale) for s in services if s.requires_personnummer)
    return render_template(
        "channels/kontakt.html",
        form=form,
        query=query,
        personnummer_example=PERSONNUMMER_EXAMPLE,
        contact_address=current_app.config["citizen_pages"]["address"],
        shown=len(shown),
        total=len(services),
        pnr_services=pnr_services,
    ), status


def _send_receipt(received) -> str | None:
    try:
        message = send_receipt(db.session, received.ticket, received.contact)
    except ReceiptError:
        db.session.rollback()
        return "failed"
    db.session.commit()
    return message.channel if message else None


@bp.get("/kontakt/kvitto")
@public
def receipt():
    # Shown once: taken out of the session as it is shown, so a reload, the back button or
    # the next person at a shared library computer finds the empty form, and the cookie
    # holds nothing of it afterwards (the page itself is never cached: headers.py).
    reference = session.pop("receipt", None)
    receipt_sent = session.pop("receipt_sent", None)
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference)) if reference else None
    if ticket is None:
        return redirect(url_for("web.kontakt", lang=current_locale()))
    return render_template(
        "channels/receipt.html",
        ticket=ticket,
        summary=receipt_summary(ticket, ticket.contacts[0], current_locale()),
        receipt_code=format_receipt_code(ticket.receipt_code),
        receipt_sent=receipt_sent,
        need_labels={c.value: c.label for c in NEED_CHOICES},
        language_name=lambda code: language_name(code, current_locale()),
    )
