"""Flask extensions, created here and initialised in the application factory."""

from __future__ import annotations

from flask import g, request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

LOCALES = ("sv", "en", "ar")
RTL_LOCALES = ("ar",)

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def select_locale() -> str:
    """?lang= wins and is remembered; then the staff user's choice; Swedish first."""
    lang = request.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang
        return lang
    if session.get("lang") in LOCALES:
        return session["lang"]
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.ui_language if current_user.ui_language in LOCALES else "sv"
    return "sv"


def current_locale() -> str:
    if "locale" not in g:
        g.locale = select_locale()
    return g.locale
