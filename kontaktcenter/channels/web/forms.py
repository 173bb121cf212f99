"""The citizen contact form of /kontakt."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ...contacts.citizen import IdentifierError, normalise_email, normalise_personnummer, normalise_phone
from ...intake.incoming import TEXT_MAX
from ...vocabulary import INTERPRETER_LANGUAGES
from ..fields import MultiCheckboxField

# The form's words for the identifiers the domain refuses (the domain's own messages are
# English, for logs and the API). The examples are valid: the personnummer is Skatteverket's
# well-known test number, checked against the personnummer library in the tests.
PERSONNUMMER_EXAMPLE = "19121212-1212"
FIELD_MESSAGES = {
    "service": _l("Välj en tjänst i listan."),
    "email": _l("Skriv en giltig e-postadress, till exempel namn@exempel.se."),
    "phone": _l("Skriv ett giltigt telefonnummer, till exempel 070-123 45 67."),
    "personnummer": _l(
        "Skriv ett giltigt personnummer eller samordningsnummer med 12 siffror, till exempel %(example)s.",
        example=PERSONNUMMER_EXAMPLE,
    ),
}


def _identifier(normalise):
    """A field check with the domain's own normaliser, so the form shows every problem at once."""

    def check(form, field):
        try:
            normalise(field.data)
        except IdentifierError:
            raise ValidationError(FIELD_MESSAGES[field.name]) from None

    return check


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
        _l("E-postadress"),
        validators=[
            Optional(),
            Length(max=200, message=_l("E-postadressen är för lång.")),
            _identifier(normalise_email),
        ],
    )
    phone = TelField(
        _l("Telefonnummer"),
        validators=[
            Optional(),
            Length(max=30, message=_l("Telefonnumret är för långt.")),
            _identifier(normalise_phone),
        ],
    )
    personnummer = StringField(
        _l("Personnummer eller samordningsnummer (frivilligt)"),
        validators=[
            Optional(),
            Length(max=13, message=FIELD_MESSAGES["personnummer"]),
            _identifier(normalise_personnummer),
        ],
    )
    needs = MultiCheckboxField(_l("Behöver du stöd för att kontakta oss?"), choices=NEED_CHOICES, validate_choice=True)
    # No Optional(): it would stop the chain before validate_interpreter_language sees the needs.
    interpreter_language = SelectField(_l("Språk för tolk"), validate_choice=False)
    send_receipt = BooleanField(_l("Skicka en bekräftelse med ärendenumret till min e-post eller mobil"))
    # The honeypot: hidden from people (and screen readers); bots that fill every field reveal themselves.
    website = StringField(_l("Lämna det här fältet tomt"), validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        # Every field's own checks, then those that need two fields: all problems in one round.
        valid = super().validate(extra_validators)
        if self.reply_channel.data == "email" and not self.email.data and not self.email.errors:
            self.email.errors.append(_l("Skriv din e-postadress, så att vi kan svara dig med e-post."))
            valid = False
        if self.reply_channel.data in ("sms", "phone") and not self.phone.data and not self.phone.errors:
            self.phone.errors.append(_l("Skriv ditt telefonnummer, så att vi kan svara dig med SMS eller telefon."))
            valid = False
        return valid

    # The catalogue's codes, set by the view: an unknown service is named with the other errors.
    known_services: set[str] | None = None

    def validate_service(self, field):
        if self.known_services is not None and field.data not in self.known_services:
            raise ValidationError(FIELD_MESSAGES["service"])

    def validate_interpreter_language(self, field):
        if "interpreter" in (self.needs.data or []):
            if not field.data:
                raise ValidationError(_l("Välj vilket språk du behöver tolk på."))
            if field.data not in INTERPRETER_LANGUAGES:
                raise ValidationError(_l("Välj ett språk i listan."))

    def validate_send_receipt(self, field):
        if field.data and not (self.email.data or self.phone.data):
            raise ValidationError(_l("Skriv din e-postadress eller ditt mobilnummer för att få en bekräftelse."))
