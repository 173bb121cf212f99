"""The sign-in form."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField(_l("Användarnamn"), validators=[DataRequired(_l("Skriv ditt användarnamn.")), Length(max=80)])
    password = PasswordField(_l("Lösenord"), validators=[DataRequired(_l("Skriv ditt lösenord.")), Length(max=200)])
