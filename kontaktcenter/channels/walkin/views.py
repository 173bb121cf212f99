"""Walk-in registration screens for location staff and branch agents, and the "now serving" display."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ...auth.decorators import public, roles_required
from ...casework.reasons import parse_reason_id
from ...contacts.models import Contact
from ...database import db
from ...directory.models import Location
from ...directory.reasons import active_reasons
from ...errors_http import back_on_error
from ...extensions import current_locale
from ...vocabulary import LANGUAGES
from ..fields import language_choices
from . import visits
from .forms import VisitActionForm, VisitForm

bp = Blueprint("walkin", __name__)

WALKIN_ROLES = ("location_staff", "agent", "admin")
# The desk this browser serves at, kept for the session: the display calls numbers to it.
DESK_KEY = "walkin_desk"


def _location_or_404(code: str) -> Location:
    location = db.session.scalar(select(Location).where(Location.code == code, Location.kind.in_(visits.WALK_IN_KINDS)))
    if location is None:
        abort(404)
    return location


def _desk_or_403(code: str) -> Location:
    """Library staff work at their own place; kontaktcenter agents and administrators at any."""
    location = _location_or_404(code)
    if current_user.role == "location_staff" and current_user.location_id not in (None, location.id):
        abort(403)
    return location


def _service_choices(locale: str) -> list[SelectChoice]:
    common, others = visits.visit_services(db.session)
    first, rest = _("Vanliga ämnen"), _("Alla tjänster")
    return (
        [SelectChoice("", _("Välj …"))]
        + [SelectChoice(s.code, s.name(locale), optgroup=first) for s in common]
        + [SelectChoice(s.code, s.name(locale), optgroup=rest) for s in others]
    )


@bp.get("/besok")
@roles_required(*WALKIN_ROLES)
def choose_location():
    own = current_user.location
    if own is not None and own.kind in visits.WALK_IN_KINDS:
        return redirect(url_for(".desk", code=own.code))
    return render_template("walkin/locations.html", locations=visits.walk_in_locations(db.session))


@bp.route("/besok/<code>", methods=["GET", "POST"])
@roles_required(*WALKIN_ROLES)
def desk(code: str):
    location = _desk_or_403(code)
    locale = current_locale()
    form = VisitForm()
    form.service.choices = _service_choices(locale)
    form.language.choices = language_choices(LANGUAGES, locale)
    status = 200
    if form.validate_on_submit():
        try:
            received = visits.register_visit(
                db.session,
                user=current_user,
                location=location,
                service_code=form.service.data,
                language=form.language.data,
                needs=form.needs.data or [],
                note=form.note.data or "",
            )
        except (visits.VisitError, ValueError) as exc:  # the form again, the problem under the service
            db.session.rollback()
            form.service.errors.append(_("Välj ett ärende i listan.") if "service" in str(exc) else str(exc))
            status = 400
        else:
            db.session.commit()
            number = received.contact.queue_number
            flash(
                _("Besöket är registrerat med könummer %(number)s.", number=number)
                if number
                else _("Besöket är registrerat."),
                "success",
            )
            return redirect(url_for(".desk", code=code))
    elif form.is_submitted():
        status = 400
    lists = visits.visit_lists(visits.todays_visits(db.session, location))
    return render_template(
        "walkin/desk.html",
        location=location,
        form=form,
        lists=lists,
        action_form=VisitActionForm(),
        reasons_for=lambda service_id: active_reasons(db.session, service_id),
        my_desk=session.get(DESK_KEY, ""),
    ), status


@bp.post("/besok/<code>/disk")
@roles_required(*WALKIN_ROLES)
def set_desk(code: str):
    _desk_or_403(code)
    if not VisitActionForm().validate_on_submit():
        abort(400)
    back_on_error(url_for(".desk", code=code))
    desk = visits.desk_name(request.form.get("desk", ""))
    session[DESK_KEY] = desk
    flash(_("Du tar emot vid disk %(desk)s. Skärmen i väntrummet visar den med numret.", desk=desk), "success")
    return redirect(url_for(".desk", code=code))


def _reason_id() -> int | None:
    return parse_reason_id(request.form.get("reason"))


ACTIONS = {
    "serve": (lambda c, u: visits.serve(db.session, c, u, desk=session.get(DESK_KEY)), _l("Besökaren får hjälp nu.")),
    "resolved": (
        lambda c, u: visits.end(db.session, c, u, resolved=True, reason_id=_reason_id()),
        _l("Besöket är avslutat och ärendet löst."),
    ),
    "follow-up": (
        lambda c, u: visits.end(db.session, c, u, resolved=False, reason_id=_reason_id()),
        _l("Besöket är avslutat. Ärendet följs upp."),
    ),
    "left": (
        lambda c, u: visits.left_unserved(db.session, c, u),
        _l("Besöket är registrerat som att besökaren gick utan hjälp."),
    ),
}


@bp.post("/besok/<code>/<int:contact_id>/<action>")
@roles_required(*WALKIN_ROLES)
def act(code: str, contact_id: int, action: str):
    location = _desk_or_403(code)
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.location_id != location.id or contact.channel != "walk_in" or action not in ACTIONS:
        abort(404)
    if not VisitActionForm().validate_on_submit():
        abort(400)
    do, done = ACTIONS[action]
    back_on_error(url_for(".desk", code=code))
    do(contact, current_user)
    db.session.commit()
    flash(str(done), "success")
    return redirect(url_for(".desk", code=code))


@bp.get("/besok/<code>/skarm")
@public
def display(code: str):
    # A screen in the waiting room: queue numbers only, never names or errands.
    location = _location_or_404(code)
    serving, waiting = visits.now_serving(db.session, location)
    seconds = current_app.config["workspace"]["display_refresh_seconds"]
    # A screen nobody touches reloads itself, without JavaScript: the Refresh header (a meta
    # refresh would be a time limit on a page someone reads, WCAG 2.2.1; this page has no inputs).
    return render_template(
        "walkin/display.html", location=location, serving=serving, waiting=waiting, refresh_seconds=seconds
    ), {"Refresh": str(seconds)}
