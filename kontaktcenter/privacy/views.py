"""Dataskydd pages and actions: the retention hold on a ticket, the registerutdrag page,
the access log, and rättelse, radering and begränsning on a ticket."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..auth.decorators import public, roles_required
from ..casework.gate import ticket_for
from ..channels.accessibility import ACCESSIBILITY_PATH, DIGG_REPORT_URL, KNOWN_GAPS, PRIVACY_PATH, compliance
from ..contacts.citizen import mask_citizen_key
from ..database import db, utcnow
from ..errors_http import back_on_error
from ..tickets.access import log_access
from ..tickets.models import Ticket
from . import accesslog, notice, rights
from .documents import as_html, as_json
from .extract import KINDS, ExtractError, person, registerutdrag
from .hold import HOLD_ROLES, release_hold, set_hold

bp = Blueprint("privacy", __name__)


@bp.post("/tickets/<reference>/bevara")
@roles_required(*HOLD_ROLES)
def retention_hold(reference: str):
    """Set (or with release=1 lift) the hold; only on a ticket in the user's own work."""
    ticket = ticket_for(reference, write=True)
    release = request.form.get("release") == "1"
    back_on_error(url_for("casework.ticket", reference=reference))
    (release_hold if release else set_hold)(db.session, ticket, current_user, request.form.get("reason", ""))
    db.session.commit()
    flash(
        _("Ärendet gallras enligt tjänstens regel.") if release else _("Ärendet bevaras och gallras inte."),
        "success",
    )
    return redirect(url_for("casework.ticket", reference=reference))


@bp.route("/admin/registerutdrag", methods=["GET", "POST"])
@roles_required(*accesslog.ACCESS_ROLES)
def registerutdrag_page():
    """The form, and (POST: no personnummer in URLs or server logs) the extract itself."""
    if request.method == "GET":
        return render_template("privacy/request.html")
    try:
        who = person(
            personnummer=request.form.get("personnummer"),
            phone=request.form.get("phone"),
            email=request.form.get("email"),
            citizen_key=request.form.get("citizen_key"),
        )
    except ExtractError:  # the form again, with one message for all three (no identifier in a URL or flash)
        return render_template(
            "privacy/request.html", error=_("Ange minst ett giltigt personnummer, telefonnummer eller e-postadress.")
        ), 400
    data = registerutdrag(db.session, current_user, who)
    db.session.commit()
    if request.form.get("format") == "json":
        return Response(
            as_json(data),
            mimetype="application/json",
            headers={"Content-Disposition": "attachment; filename=registerutdrag.json", "Cache-Control": "no-store"},
        )
    response = Response(as_html(data, get_locale().language if get_locale() else "sv"), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the access log ------------------------------------------------------------------------

PAGE_SIZE = 100
# The access log's `action`: what was done with the personal data.
ACTION_LABELS = {
    "read": _l("läste ärendet"),
    "take": _l("tog ärendet"),
    "reply": _l("skrev ett meddelande"),
    "waiting": _l("ändrade väntan på medborgaren"),
    "resolve": _l("löste ärendet"),
    "escalate": _l("eskalerade (formuläret)"),
    "accept": _l("accepterade eskaleringen"),
    "return_escalation": _l("lämnade tillbaka eskaleringen"),
    "reply_address": _l("ändrade svarsadressen"),
    "link": _l("kopplade en kontakt"),
    "search": _l("sökte på en identitetsuppgift"),
    "reason": _l("angav skäl för att läsa"),
    "registerutdrag": _l("tog fram ett registerutdrag"),
    "api_read": _l("läste ärendet via API"),
    "open311_read": _l("läste ärendet via Open311"),
    "search_access_log": _l("sökte i åtkomstloggen på en person"),
    "export_access_log": _l("exporterade åtkomstloggen"),
    "dataskydd": _l("öppnade ärendets dataskyddssida"),
    "rattelse": _l("rättade en uppgift"),
    "radering": _l("raderade personuppgifterna"),
    "begransning": _l("begränsade behandlingen"),
    "begransning_havd": _l("hävde begränsningen"),
}


# A person's identifiers in the access log's form.
PERSON_FIELDS = KINDS


def _date(raw: str | None, label: str, errors: list[str]) -> date | None:
    if not raw or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors.append(_("%(field)s: ange ett datum som ÅÅÅÅ-MM-DD.", field=label))
        return None


def _log_filter(source) -> tuple[accesslog.LogFilter, list[str]]:
    """The filter from a form (POST) or the query (GET: no person there, it would land in URLs)."""
    errors: list[str] = []
    who = None
    if request.method == "POST" and any((source.get(k) or "").strip() for k in PERSON_FIELDS):
        try:
            who = person(**{k: source.get(k) for k in PERSON_FIELDS})
        except ExtractError:
            errors.append(_("Ange ett giltigt personnummer, telefonnummer eller en giltig e-postadress."))
    start = _date(source.get("from"), _("Från"), errors)
    end = _date(source.get("to"), _("Till"), errors)
    if start and end and end < start:
        errors.append(_("Till-datumet ligger före från-datumet."))
    f = accesslog.LogFilter(
        username=(source.get("user") or "").strip()[:80],
        reference=(source.get("reference") or "").strip()[:30],
        person=who,
        start=start,
        end=end,
    )
    return f, errors


@bp.route("/admin/atkomstlogg", methods=["GET", "POST"])
@roles_required(*accesslog.ACCESS_ROLES)
def access_log_page():
    """The log, newest first, filtered and paged; POST (a person's identifiers stay out of
    URLs) also pages and exports as CSV."""
    source = request.form if request.method == "POST" else request.args
    f, errors = _log_filter(source)
    page = max(source.get("page", 1, type=int) or 1, 1)
    values = {k: (source.get(k) or "") for k in ("user", "reference", "from", "to", *PERSON_FIELDS)}
    if request.method == "GET":
        for k in PERSON_FIELDS:
            values[k] = ""
    if errors:
        return render_template(
            "admin/access_log.html",
            rows=[],
            more=False,
            page=1,
            values=values,
            errors=errors,
            action_labels=ACTION_LABELS,
            actor=accesslog.actor,
        ), 400
    accesslog.note_lookup(db.session, current_user, f)
    if request.method == "POST" and source.get("format") == "csv":
        data = accesslog.export(db.session, current_user, f)
        db.session.commit()
        return Response(
            data,
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="atkomstlogg.csv"', "Cache-Control": "no-store"},
        )
    rows = accesslog.entries(db.session, f, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    db.session.commit()
    return render_template(
        "admin/access_log.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        values=values,
        errors=[],
        action_labels=ACTION_LABELS,
        actor=accesslog.actor,
    )


# -- rättelse, radering, begränsning --------------------------------------------------------

FIELD_LABELS = {
    "name": _l("Namn"),
    "phone": _l("Telefonnummer"),
    "email": _l("E-postadress"),
    "personnummer": _l("Personnummer"),
    "citizen_key": _l("Nyckel från källsystemet"),
}


def _rights_ticket(reference: str) -> Ticket:
    """The ticket for the rights pages: admins and dataskydd reach every ticket (each view is
    logged); a coordinator only one they may work on (the access rule, logged as it says)."""
    if current_user.role == "coordinator":
        return ticket_for(reference, write=True)
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference.strip().upper()[:30]))
    if ticket is None:
        log_access(db.session, current_user, None, "dataskydd", allowed=False, detail=reference[:200])
        db.session.commit()
        abort(404)
    return ticket


@bp.get("/dataskydd")
@roles_required(*accesslog.ACCESS_ROLES)
def rights_start():
    """Find the ticket a request is about (the reference the citizen or the registerutdrag gave)."""
    reference = request.args.get("reference", "").strip()
    if reference:
        return redirect(url_for(".rights_page", reference=reference.upper()[:30]))
    return render_template("privacy/rights_start.html")


@bp.get("/dataskydd/arenden/<reference>")
@roles_required(*rights.CORRECT_ROLES)
def rights_page(reference: str):
    ticket = _rights_ticket(reference)
    if current_user.role != "coordinator":
        log_access(db.session, current_user, ticket, "dataskydd")
        db.session.commit()
    return _rights_render(ticket)


def _rights_render(ticket: Ticket, errors: dict[str, str] | None = None, status: int = 200):
    return render_template(
        "privacy/rights.html",
        ticket=ticket,
        errors=errors or {},
        field_labels=FIELD_LABELS,
        mask_citizen_key=mask_citizen_key,  # never shown whole, here neither
        may_erase=rights.may_erase_or_restrict(current_user),
        refusal=rights.erasable(ticket, utcnow()),
        form=request.form if request.method == "POST" else {},
    ), status


def _rights_action(reference: str, key: str, action, done: str):
    ticket = _rights_ticket(reference)
    try:
        action(ticket)
    except rights.RightsError as exc:  # the page again, the message beside the form it is about
        db.session.rollback()
        ticket = _rights_ticket(reference)
        return _rights_render(ticket, {key: _(str(exc))}, 400)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for(".rights_page", reference=ticket.reference))


@bp.post("/dataskydd/arenden/<reference>/rattelse")
@roles_required(*rights.CORRECT_ROLES)
def correct(reference: str):
    return _rights_action(
        reference,
        "correct",
        lambda t: rights.correct(
            db.session,
            t,
            current_user,
            request.form.get("field", ""),
            request.form.get("value", ""),
            request.form.get("reason", ""),
        ),
        _("Uppgiften är rättad."),
    )


@bp.post("/dataskydd/arenden/<reference>/radering")
@roles_required(*accesslog.ACCESS_ROLES)
def erase(reference: str):
    return _rights_action(
        reference,
        "erase",
        lambda t: rights.erase(db.session, t, current_user, request.form.get("reason", "")),
        _("Ärendets personuppgifter är raderade. Statistiken finns kvar."),
    )


@bp.post("/dataskydd/arenden/<reference>/begransning")
@roles_required(*accesslog.ACCESS_ROLES)
def restrict(reference: str):
    lift = request.form.get("lift") == "1"
    return _rights_action(
        reference,
        "restrict",
        lambda t: (rights.lift_restriction if lift else rights.restrict)(
            db.session, t, current_user, request.form.get("reason", "")
        ),
        _("Begränsningen är hävd.")
        if lift
        else _("Behandlingen är begränsad: ärendet finns kvar men syns inte i listor och sökningar."),
    )


# -- the citizen pages on personal data and accessibility ---------------------------


@bp.get(PRIVACY_PATH)
@public
def privacy_notice():
    """Så behandlar vi dina personuppgifter: the retention part generated from the services' settings."""
    return render_template(
        "privacy/notice.html",
        contact=notice.citizen_page_settings(current_app.config),
        groups=notice.retention_groups(db.session),
        personnummer_services=notice.personnummer_services(db.session),
        retention_in_words=notice.retention_in_words,
        action_in_words=notice.action_in_words,
        unanswered_call_rule=notice.unanswered_call_rule(),
    )


@bp.get(ACCESSIBILITY_PATH)
@public
def accessibility_statement():
    """The tillgänglighetsredogörelse, in DIGG's model."""
    return render_template(
        "privacy/accessibility.html",
        contact=notice.citizen_page_settings(current_app.config),
        status=compliance(),
        gaps=KNOWN_GAPS,
        digg_url=DIGG_REPORT_URL,
    )
