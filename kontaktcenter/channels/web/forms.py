"""The citizen contact form of /kontakt."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ...intake.incoming import TEXT_MAX
from ...vocabulary import INTERPRETER_LANGUAGES
from ..fields import MultiCheckboxField


class ChoiceRadioField(RadioField):
    def pre_validate(self, form):
        if self.data not in {c.value for c in self._choices_from_input(self.choices)}:
            raise ValidationError(_l("Välj ett av alternativen."))


NEED_CHOICES = [
    SelectChoice("interpreter", _l("Jag behöver tolk")),
    SelectChoice("hearing", _l("Jag hör dåligt")),
    SelectChoice("vision", _l("Jag ser dåligt")),
    SelectChoice("easy_read", _l("Jag vill ha svar på lätt svenska")),
]


class ContactForm(FlaskForm):
    # The domain checks the code (and says so in the citizen's language), not WTForms.
    service = SelectField(
        _l("Vad gäller ditt ärende?"),
        validate_choice=False,
        validators=[DataRequired(_l("Välj vad ditt ärende gäller."))],
    )
    text = TextAreaField(
        _l("Beskriv ditt ärende"),
        validators=[
            DataRequired(_l("Beskriv ditt ärende.")),
            Length(max=TEXT_MAX, message=_l("Beskrivningen får vara högst %(max)d tecken.", max=TEXT_MAX)),
        ],
    )
    reply_channel = ChoiceRadioField(
        _l("Hur vill du få svar?"),
        choices=[
            SelectChoice("email", _l("E-post")),
            SelectChoice("sms", _l("SMS")),
            SelectChoice("phone", _l("Telefon")),
            SelectChoice("none", _l("Jag behöver inget svar")),
        ],
        default="email",
        validators=[DataRequired(_l("Välj hur du vill få svar."))],
    )
    name = StringField(
        _l("Namn (frivilligt)"),
        validators=[Optional(), Length(max=200, message=_l("Namnet får vara högst %(max)d tecken.", max=200))],
    )
    email = EmailField(
        _l("E-postadress"), validators=[Optional(), Length(max=200, message=_l("E-postadressen är för lång."))]
    )
    phone = TelField(
        _l("Telefonnummer"), validators=[Optional(), Length(max=30, message=_l("Telefonnumret är för långt."))]
    )
    personnummer = StringField(
        _l("Personnummer eller samordningsnummer (frivilligt)"),
        validators=[
            Optional(),
            Length(max=13, message=_l("Skriv ett giltigt personnummer eller samordningsnummer (ÅÅÅÅMMDD-NNNN).")),
        ],
    )
    needs = MultiCheckboxField(_l("Behöver du stöd för att kontakta oss?"), choices=NEED_CHOICES, validate_choice=True)
    # No Optional(): it would stop the chain before validate_interpreter_language sees the needs.
    interpreter_language = SelectField(_l("Språk för tolk"), validate_choice=False)
    send_receipt = BooleanField(_l("Skicka en bekräftelse med ärendenumret till min e-post eller mobil"))
    # The honeypot: hidden from people (and screen readers); bots that fill every field reveal themselves.
    website = StringField(_l("Lämna det här fältet tomt"), validators=[Optional()])

    def validate_interpreter_language(self, field):
        if "interpreter" in (self.needs.data or []):
            if not field.data:
                raise ValidationError(_l("Välj vilket språk du behöver tolk på."))
            if field.data not in INTERPRETER_LANGUAGES:
                raise ValidationError(_l("Välj ett språk i listan."))

    def validate_send_receipt(self, field):
        if field.data and not (self.email.data or self.phone.data):
            raise ValidationError(_l("Skriv din e-postadress eller ditt mobilnummer för att få en bekräftelse."))
