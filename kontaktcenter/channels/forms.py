"""The citizen contact form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

TEXT_MAX = 5000


class ContactForm(FlaskForm):
    # The domain checks the code (and says so in the citizen's language), not WTForms.
    service = SelectField(_l("Vad gäller ditt ärende?"), validate_choice=False, validators=[DataRequired(_l("Välj vad ditt ärende gäller."))])
    text = TextAreaField(
        _l("Beskriv ditt ärende"),
        validators=[
            DataRequired(_l("Beskriv ditt ärende.")),
            Length(max=TEXT_MAX, message=_l("Beskrivningen får vara högst %(max)d tecken.", max=TEXT_MAX)),
        ],
    )
    reply_channel = RadioField(
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
    name = StringField(_l("Namn (frivilligt)"), validators=[Optional(), Length(max=200, message=_l("Namnet får vara högst %(max)d tecken.", max=200))])
    email = EmailField(_l("E-postadress"), validators=[Optional(), Length(max=200, message=_l("E-postadressen är för lång."))])
    phone = TelField(_l("Telefonnummer"), validators=[Optional(), Length(max=30, message=_l("Telefonnumret är för långt."))])
