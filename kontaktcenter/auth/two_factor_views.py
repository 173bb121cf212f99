"""The two-factor pages: the code after the password, enrolment, new recovery codes, turning it off."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_login import current_user

from ..database import db
from ..vocabulary import ROLES
from . import sessions, two_factor
from .decorators import public, roles_required
from .forms import CodeForm
from .views import PENDING_KEY, _client, _refused, _safe_next, landing_url, start_session

bp = Blueprint("two_factor", __name__)


def _refusal(check: two_factor.Check) -> str:
    if check.refused == "throttled":
        return _refused(check.wait or 60)
    if check.refused == "replayed":
        return _("Koden har redan använts. Vänta på nästa kod i appen och skriv den.")
    if check.refused == "used":
        return _("Återställningskoden har redan använts. Varje återställningskod fungerar en gång.")
    return _("Fel kod. Skriv den sexsiffriga koden som appen visar nu, eller en återställningskod.")


def _status(check: two_factor.Check) -> tuple[int, dict[str, str]]:
    if check.refused == "throttled":
        return 429, {"Retry-After": str(check.wait)}
    return 401, {}


@bp.route("/login/kod", methods=["GET", "POST"])
@public
def code():
    """The second step. The cookie holds only the half-signed state until the code is right."""
    at = sessions.now()
    user = two_factor.pending_user(db.session, cookie_session.get(PENDING_KEY), at)
    if user is None:
        cookie_session.pop(PENDING_KEY, None)
        flash(_("Inloggningen har gått ut. Logga in igen med lösenord och kod."), "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        client = _client()
        box = two_factor.SecretBox.from_config(current_app.config)
        check = two_factor.check_code(db.session, current_app.config, user, form.code.data, box, at, client)
        if check.ok:
            next_url = _safe_next(cookie_session[PENDING_KEY].get("next"))
            start_session(user, at, client, detail=f"two-factor: {check.method}")
            if check.method == "recovery":
                left = two_factor.recovery_codes_left(db.session, user)
                flash(_("Du loggade in med en återställningskod. Du har %(n)d kvar.", n=left), "info")
            return redirect(landing_url(user, next_url))
        db.session.commit()  # the refusal's log row
        form.code.errors.append(_refusal(check))
        status, headers = _status(check)
    elif form.is_submitted():
        status = 400
    return render_template("auth/code.html", form=form), status, headers


@bp.route("/konto/tvastegsverifiering", methods=["GET", "POST"])
@roles_required(*ROLES, before_two_factor=True)
def account():
    """Enrolment (the QR code, the secret as text, a code to confirm), or the state once enrolled."""
    user, at = current_user._get_current_object(), sessions.now()
    next_url = _safe_next(request.args.get("next"))
    required = two_factor.required(user, current_app.config)
    form = CodeForm()
    if two_factor.enrolled(db.session, user):
        return _enrolled_page(user, required)
    box = two_factor.SecretBox.from_config(current_app.config)
    status = 200
    if form.validate_on_submit():
        codes = two_factor.confirm_enrolment(db.session, user, form.code.data, box, at, _client())
        if codes is not None:
            db.session.commit()
            # Shown in this answer only (no-store, like every page): never again after it.
            return render_template(
                "auth/recovery_codes.html", codes=codes, enrolled_now=True, next_url=landing_url(user, next_url)
            )
        form.code.errors.append(
            _("Koden stämmer inte. Kontrollera att appen har lagt till kontot och skriv koden den visar nu.")
        )
        status = 400
    elif form.is_submitted():
        status = 400
    enrolment = two_factor.begin_enrolment(db.session, user, box, at)
    db.session.commit()
    return render_template(
        "auth/two_factor.html",
        enrolled=False,
        required=required,
        form=form,
        enrolment=enrolment,
        qr=enrolment.qr_svg(_("QR-kod för autentiseringsappen")),
    ), status


def _enrolled_page(user, required: bool, **forms: CodeForm):
    # Two forms on one page, each with its own code field (prefix keeps the ids apart).
    return render_template(
        "auth/two_factor.html",
        enrolled=True,
        required=required,
        renew_form=forms.get("renew") or CodeForm(prefix="renew", formdata=None),
        off_form=forms.get("off") or CodeForm(prefix="off", formdata=None),
        left=two_factor.recovery_codes_left(db.session, user),
    )


def _with_current_code(action: str):
    """Check the current code typed in the account page's `action` form; (user, form, check or None)."""
    user, at = current_user._get_current_object(), sessions.now()
    form = CodeForm(prefix=action)
    if not form.validate_on_submit():
        return user, form, None
    box = two_factor.SecretBox.from_config(current_app.config)
    check = two_factor.check_code(
        db.session, current_app.config, user, form.code.data, box, at, _client(), where=f"account: {action}"
    )
    if not check.ok:
        db.session.commit()
        form.code.errors.append(_refusal(check))
    return user, form, check


def _refused_again(user, form: CodeForm, check: two_factor.Check | None, action: str):
    status, headers = _status(check) if check is not None else (400, {})
    return _enrolled_page(user, two_factor.required(user, current_app.config), **{action: form}), status, headers


@bp.post("/konto/tvastegsverifiering/koder")
@roles_required(*ROLES)
def renew():
    """New recovery codes, shown once; the old ones stop working."""
    user, form, check = _with_current_code("renew")
    if check is None or not check.ok:
        return _refused_again(user, form, check, "renew")
    codes = two_factor.renew_recovery_codes(db.session, user, sessions.now(), _client())
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes, enrolled_now=False, next_url=url_for(".account"))


@bp.post("/konto/tvastegsverifiering/av")
@roles_required(*ROLES)
def turn_off():
    """Only for roles that do not require it, and only with a current code."""
    user = current_user._get_current_object()
    if two_factor.required(user, current_app.config):
        flash(_("Din roll kräver tvåstegsverifiering. Den kan inte stängas av."), "error")
        return redirect(url_for(".account")), 303
    user, form, check = _with_current_code("off")
    if check is None or not check.ok:
        return _refused_again(user, form, check, "off")
    two_factor.turn_off(db.session, user, current_app.config, sessions.now(), _client())
    db.session.commit()
    flash(_("Tvåstegsverifiering är avstängd. Du loggar nu in med bara lösenord."), "info")
    return redirect(url_for(".account")), 303
