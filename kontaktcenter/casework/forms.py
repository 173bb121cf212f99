"""Forms of casework: escalation handover, return, knowledge-base articles."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

URGENCY_CHOICES = [
    SelectChoice("low", _l("Låg")),
    SelectChoice("normal", _l("Normal")),
    SelectChoice("high", _l("Hög")),
    SelectChoice("urgent", _l("Akut")),
]


class EscalationForm(FlaskForm):
    queue = SelectField(_l("Till förvaltningens kö"), coerce=int, validators=[DataRequired(_l("Välj en kö."))])
    citizen_wants = TextAreaField(
        _l("Vad medborgaren vill"), validators=[DataRequired(_l("Beskriv vad medborgaren vill.")), Length(max=4000)]
    )
    done_so_far = TextAreaField(_l("Vad som redan är gjort"), validators=[Length(max=4000)])
    how_to_reach = StringField(_l("Hur medborgaren nås"), validators=[Length(max=500)])
    urgency = RadioField(_l("Brådska"), choices=URGENCY_CHOICES, default="normal")
    notify = BooleanField(_l("Meddela medborgaren att ärendet har lämnats över"))
    # The ticket's service's reasons (casework/reasons.py checks the choice and when it is required).
    reason = SelectField(_l("Kontaktorsak"), validate_choice=False, default="")


class ReturnForm(FlaskForm):
    reason = TextAreaField(
        _l("Varför ärendet lämnas tillbaka"),
        validators=[DataRequired(_l("Ange varför ärendet lämnas tillbaka.")), Length(max=2000)],
    )
    notify = BooleanField(_l("Meddela medborgaren att kontaktcenter tar ärendet igen"))


class ArticleForm(FlaskForm):
    service = SelectField(_l("Tjänst"), coerce=int, validators=[DataRequired(_l("Välj en tjänst."))])
    title = StringField(_l("Rubrik"), validators=[DataRequired(_l("Ange en rubrik.")), Length(max=200)])
    body = TextAreaField(_l("Svar"), validators=[DataRequired(_l("Skriv svaret.")), Length(max=4000)])
    active = BooleanField(_l("Aktiv (visas för kontaktcenter)"), default=True)


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Varför du behöver läsa ärendet"),
        validators=[
            DataRequired(_l("Ange varför du behöver läsa ärendet.")),
            Length(min=10, max=300, message=_l("Skriv 10–300 tecken.")),
        ],
    )
