"""The user administration forms and the set-password form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional

from ..auth.passwords import MAX_LENGTH
from ..channels.fields import MultiCheckboxField, language_choices
from ..directory.models import Department, Location, Queue, Service
from ..vocabulary import LANGUAGES, ROLES
from .service import MAX_CAPACITY, AccountFields

ROLE_LABELS = {
    "agent": _l("Agent på kontaktcenter"),
    "caseworker": _l("Handläggare"),
    "coordinator": _l("Samordnare"),
    "manager": _l("Chef"),
    "admin": _l("Administratör"),
    "location_staff": _l("Personal på plats (bibliotek, servicepunkt)"),
}


class UserForm(FlaskForm):
    """Editing an account (its username stays)."""

    name = StringField(_l("Namn"), validators=[DataRequired(_l("Skriv namnet.")), Length(max=200)])
    email = StringField(_l("E-postadress"), validators=[Optional(), Length(max=200)])
    # .get: a role added to ROLES later (e.g. dataskydd) shows by its code until it has a label here.
    role = SelectField(_l("Roll"), choices=[SelectChoice(r, ROLE_LABELS.get(r, r)) for r in ROLES])
    department = SelectField(_l("Förvaltning"), validators=[Optional()])
    location = SelectField(_l("Plats"), validators=[Optional()])
    queues = MultiCheckboxField(_l("Köer"), validate_choice=True)
    services = MultiCheckboxField(_l("Tjänster (kompetens)"), validate_choice=True)
    languages = MultiCheckboxField(_l("Språk (kompetens)"), validate_choice=True)
    phone_identity = StringField(_l("Telefon för samtal"), validators=[Length(max=100)])
    max_open_tickets = IntegerField(
        _l("Kapacitet (öppna ärenden samtidigt)"),
        validators=[
            InputRequired(_l("Skriv ett heltal.")),
            NumberRange(min=0, max=MAX_CAPACITY, message=_l("Skriv ett heltal från %(min)s till %(max)s.")),
        ],
        default=5,
    )

    def fill_choices(self, session: Session, locale: str) -> None:
        none = [SelectChoice("", _l("Ingen"))]
        self.department.choices = none + [
            SelectChoice(d.code, d.name(locale))
            for d in session.scalars(select(Department).order_by(Department.name_sv))
        ]
        self.location.choices = none + [
            SelectChoice(loc.code, loc.name)
            for loc in session.scalars(select(Location).where(Location.active.is_(True)).order_by(Location.name))
        ]
        self.queues.choices = [
            SelectChoice(q.code, q.name(locale))
            for q in session.scalars(select(Queue).where(Queue.active.is_(True)).order_by(Queue.name_sv))
        ]
        self.services.choices = [
            SelectChoice(s.code, s.name(locale))
            for s in session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name_sv))
        ]
        self.languages.choices = language_choices(LANGUAGES, locale)

    def fields_data(self) -> AccountFields:
        return AccountFields(
            name=self.name.data or "",
            role=self.role.data or "",
            email=self.email.data or "",
            department=self.department.data or None,
            location=self.location.data or None,
            queues=list(self.queues.data or []),
            services=list(self.services.data or []),
            languages=list(self.languages.data or []),
            phone_identity=self.phone_identity.data or "",
            max_open_tickets=self.max_open_tickets.data,
        )


class NewUserForm(UserForm):
    """A new account: its set-password link goes by e-mail, so the address is required."""

    username = StringField(_l("Användarnamn"), validators=[DataRequired(_l("Skriv ett användarnamn.")), Length(max=80)])
    email = StringField(
        _l("E-postadress"),
        validators=[
            DataRequired(_l("Skriv en e-postadress: länken för att välja lösenord skickas dit.")),
            Length(max=200),
        ],
    )


class ActionForm(FlaskForm):
    """The buttons (deactivate, reactivate, send a reset link): only the CSRF token."""


class SetPasswordForm(FlaskForm):
    new = PasswordField(
        _l("Nytt lösenord"), validators=[DataRequired(_l("Skriv ett nytt lösenord.")), Length(max=MAX_LENGTH)]
    )
    repeat = PasswordField(
        _l("Upprepa lösenordet"),
        validators=[DataRequired(_l("Skriv lösenordet en gång till.")), EqualTo("new", _l("Lösenorden är inte lika."))],
    )
