"""The sign-in and password forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from .service import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    username = StringField(
        _l("Användarnamn"), validators=[DataRequired(_l("Skriv ditt användarnamn.")), Length(max=80)]
    )
    password = PasswordField(_l("Lösenord"), validators=[DataRequired(_l("Skriv ditt lösenord.")), Length(max=200)])


class PasswordForm(FlaskForm):
    current = PasswordField(
        _l("Nuvarande lösenord"), validators=[DataRequired(_l("Skriv ditt nuvarande lösenord.")), Length(max=200)]
    )
    new = PasswordField(
        _l("Nytt lösenord"),
        validators=[
            DataRequired(_l("Skriv ett nytt lösenord.")),
            Length(min=MIN_PASSWORD_LENGTH, max=200, message=_l("Lösenordet ska ha minst %(min)d tecken.")),
        ],
    )
    repeat = PasswordField(
        _l("Upprepa det nya lösenordet"),
        validators=[
            DataRequired(_l("Skriv det nya lösenordet en gång till.")),
            EqualTo("new", _l("Lösenorden är inte lika.")),
        ],
    )


class CodeForm(FlaskForm):
    """A code from the authenticator app or, at sign-in, a recovery code."""

    code = StringField(_l("Kod"), validators=[DataRequired(_l("Skriv koden.")), Length(max=40)])
