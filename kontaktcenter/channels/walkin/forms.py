"""The walk-in registration form and the buttons on a visit."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..fields import MultiCheckboxField

WALKIN_NEED_CHOICES = [
    SelectChoice("interpreter", _l("Tolk")),
    SelectChoice("hearing", _l("Hörsel")),
    SelectChoice("vision", _l("Syn")),
    SelectChoice("easy_read", _l("Lätt svenska")),
]


class VisitForm(FlaskForm):
    """Registering a walk-in visit: as few fields as possible, all reachable by keyboard."""

    service = SelectField(
        _l("Ärende eller ämne"), validate_choice=False, validators=[DataRequired(_l("Välj vad besöket gäller."))]
    )
    language = SelectField(
        _l("Språk"), validate_choice=False, default="sv", validators=[DataRequired(_l("Välj språk."))]
    )
    needs = MultiCheckboxField(_l("Behov"), choices=WALKIN_NEED_CHOICES, validate_choice=True)
    note = TextAreaField(
        _l("Anteckning (frivilligt)"),
        validators=[Optional(), Length(max=2000, message=_l("Anteckningen får vara högst %(max)d tecken.", max=2000))],
    )


class VisitActionForm(FlaskForm):
    """The buttons on a visit: served, ended (resolved or to follow up), left unserved."""
