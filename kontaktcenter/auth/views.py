"""Sign-in and sign-out pages."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from flask_wtf.csrf import CSRFError

from ..database import db
from ..directory.models import User
from ..extensions import login_manager
from .decorators import STAFF_ROLES, public, roles_required
from .forms import LoginForm
from .service import authenticate

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = None


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def _safe_next(target: str | None) -> str | None:
    # Only same-site relative paths: never redirect to another host after sign-in.
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(db.session, form.username.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("casework.console"))
        form.password.errors.append(_("Fel användarnamn eller lösenord."))
        status = 401
    elif form.is_submitted():
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@roles_required(*STAFF_ROLES)
def logout():
    logout_user()
    flash(_("Du är utloggad."), "info")
    return redirect(url_for("auth.login"))


@bp.app_errorhandler(CSRFError)
def csrf_error(err: CSRFError):
    return render_template(
        "error.html",
        code=400,
        title=_("Formuläret kunde inte skickas"),
        message=_(
            "Säkerhetstoken saknas eller har gått ut. Ladda om sidan och försök igen. "
            "Inget har sparats."
        ),
    ), 400


@bp.app_errorhandler(403)
def forbidden(_err):
    return render_template(
        "error.html", code=403, title=_("Åtkomst nekad"), message=_("Din roll har inte behörighet till den här sidan.")
    ), 403


@bp.app_errorhandler(404)
def not_found(_err):
    return render_template("error.html", code=404, title=_("Sidan finns inte"), message=_("Kontrollera adressen.")), 404


@bp.app_errorhandler(429)
def too_many(_err):
    return render_template(
        "error.html",
        code=429,
        title=_("För många försök"),
        message=_("Du har skickat för många förfrågningar. Vänta en stund och försök igen."),
    ), 429
