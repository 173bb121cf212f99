"""Sign-in and sign-out pages, the password page, the sign-in log; the session check of every request."""

from __future__ import annotations

import math
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import HTTPException

from ..database import db
from ..directory.models import User
from ..extensions import login_manager
from ..vocabulary import ROLES
from . import audit, sessions, throttle, two_factor
from .decorators import public, roles_required
from .forms import LoginForm, PasswordForm
from .models import EVENT_KINDS
from .passwords import password_problems
from .service import MIN_PASSWORD_LENGTH, authenticate, change_password, find_user, sign_in, sign_out

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = None

# The cookie's key for the server-side session's token (flask-login keeps "_user_id" beside it).
SESSION_KEY = "kc_session"
# The half-signed state between a right password and the two-factor code (two_factor.pending).
PENDING_KEY = "kc_pending"
FLASK_LOGIN_KEYS = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds")

EVENT_LABELS = {
    "login": _l("Inloggning"),
    "login_failed": _l("Misslyckad inloggning"),
    "login_throttled": _l("Spärrad inloggning (för många försök)"),
    "logout": _l("Utloggning"),
    "password_changed": _l("Nytt lösenord"),
    "deactivated": _l("Kontot avstängt"),
    "sessions_revoked": _l("Sessioner avslutade av administratör"),
    "sso_refused": _l("Nekad inloggning via stadens konto"),
    "sso_account": _l("Konto skapat eller uppdaterat via stadens konto"),
    "code_failed": _l("Fel kod (tvåstegsverifiering)"),
    "recovery_code_used": _l("Inloggning med återställningskod"),
    "two_factor_enrolled": _l("Tvåstegsverifiering påslagen"),
    "recovery_codes_new": _l("Nya återställningskoder"),
    "two_factor_off": _l("Tvåstegsverifiering avslagen"),
    "two_factor_reset": _l("Tvåstegsverifiering återställd av administratör"),
}
PAGE_SIZE = 100


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of this request's session, if the server still knows it as live.

    Without the token in the cookie (a remember-me cookie, a cookie from before
    server-side sessions, a forged one) nobody is signed in.
    """
    token = cookie_session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        return None
    found = sessions.find(db.session, token)
    if found is None or str(found[1].id) != user_id:
        return None
    row, user = found
    at = sessions.now()
    ended = sessions.end_reason(row, user, at, sessions.Limits.from_config(current_app.config))
    if ended is not None:
        g.session_ended = ended
        return None
    if sessions.touch_due(row, at):
        g.session_touch = (row.id, at)
    return user


@bp.before_app_request
def _check_session() -> None:
    # Checked before the view, so the session's once-a-minute write commits alone, never
    # together with half of a view's work.
    if "_user_id" not in cookie_session or request.endpoint == "static":
        return
    current_user._get_current_object()  # flask-login calls load_user once per request
    ended = g.pop("session_ended", None)
    if not current_user.is_authenticated:
        for key in (*FLASK_LOGIN_KEYS, SESSION_KEY):  # so the browser stops sending a dead session
            cookie_session.pop(key, None)
        if ended in ("idle", "lifetime"):
            flash(_("Din inloggning har gått ut. Logga in igen."), "info")
        elif ended is not None:
            flash(_("Du har loggats ut. Logga in igen."), "info")
        return
    touch = g.pop("session_touch", None)
    # A request the browser makes by itself (a live page's event stream or region refresh,
    # marked by live/install.py) is not the user's activity: it must not keep an idle
    # session alive.
    if touch is not None and not g.get("passive_request"):
        sessions.touch(db.session, *touch)
        db.session.commit()


def _client() -> audit.Client:
    return audit.Client(ip=request.remote_addr or "", user_agent=request.user_agent.string[:200])


# Where each role starts after signing in: the page its work begins on, never one it may not open.
HOME_PAGES = {
    "agent": "casework.console",
    "caseworker": "casework.inbox",
    "coordinator": "metrics.coordinator_page",
    "manager": "metrics.reports",
    "admin": "accounts.user_list",  # administration: the users, then the menu's other registers
    "location_staff": "walkin.choose_location",
    "dataskydd": "privacy.access_log_page",
}


def home_url(user: User) -> str:
    return url_for(HOME_PAGES.get(user.role, "casework.console"))


def landing_url(user: User, target: str | None) -> str:
    """Where a sign-in ends: the `next` page when it is safe and the user's role may open it,
    else their own start page (never an "Åtkomst nekad" right after signing in)."""
    target = _safe_next(target)
    return target if target and _role_may_open(user, target) else home_url(user)


def _role_may_open(user: User, target: str) -> bool:
    try:
        endpoint, _args = current_app.create_url_adapter(request).match(urlsplit(target).path, method="GET")
    except HTTPException:  # no such page (or not one to GET): the start page instead
        return False
    roles = getattr(current_app.view_functions.get(endpoint), "allowed_roles", None)
    return roles is None or user.role in roles


def _safe_next(target: str | None) -> str | None:
    # Only same-site relative paths: never redirect to another host after sign-in.
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _refused(wait: int) -> str:
    return _(
        "För många misslyckade inloggningsförsök. Vänta %(minutes)s min och försök igen.", minutes=math.ceil(wait / 60)
    )


def _user_id(username: str) -> int | None:
    user = find_user(db.session, username)
    return user.id if user else None


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    status, headers = 200, {}
    if request.method == "POST" and not current_app.config["PASSWORD_LOGIN"]:
        # This deployment signs staff in through the identity provider only.
        audit.record(
            db.session,
            "login_failed",
            sessions.now(),
            client=_client(),
            username=(form.username.data or "")[:80],
            detail="password sign-in is switched off",
        )
        db.session.commit()
        flash(_("Inloggning med lösenord är avstängd. Logga in med ditt konto i Malmö stad."), "error")
        return render_template("auth/login.html", form=LoginForm(formdata=None)), 403
    if form.validate_on_submit():
        username, client, at = form.username.data, _client(), sessions.now()
        wait = throttle.seconds_refused(current_app.config, username, client.ip)
        if wait is not None:
            # Refused before the password is looked at: the right one gets no further.
            audit.record(
                db.session,
                "login_throttled",
                at,
                client=client,
                user_id=_user_id(username),
                username=username,
                detail=f"retry after {wait} s",
            )
            db.session.commit()
            form.password.errors.append(_refused(wait))
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(wait)}
        user = authenticate(db.session, username, form.password.data)
        if user is None:
            throttle.count_failure(current_app.config, username, client.ip)
            audit.record(db.session, "login_failed", at, client=client, user_id=_user_id(username), username=username)
            db.session.commit()
            form.password.errors.append(_("Fel användarnamn eller lösenord."))
            status = 401
        else:
            next_url = _safe_next(request.args.get("next"))
            if two_factor.enrolled(db.session, user):
                # The password was right; nobody is signed in until the code is (two_factor_views.code).
                cookie_session[PENDING_KEY] = two_factor.pending(user, at, next_url)
                return redirect(url_for("two_factor.code"))
            start_session(user, at, client)
            if two_factor.enrolment_due(db.session, user, current_app.config):
                return redirect(url_for("two_factor.account", next=next_url))
            return redirect(landing_url(user, next_url))
    elif form.is_submitted():
        status = 400
    return render_template("auth/login.html", form=form), status, headers


def start_session(user: User, at: datetime, client: audit.Client, detail: str = "") -> None:
    """Sign `user` in on this browser: a server-side session, its token in the cookie."""
    token = sign_in(db.session, user, at, client, detail)
    db.session.commit()
    cookie_session.pop(PENDING_KEY, None)
    login_user(user)
    cookie_session[SESSION_KEY] = token


@bp.post("/logout")
@roles_required(*ROLES, before_two_factor=True)
def logout():
    sign_out(db.session, current_user._get_current_object(), sessions.now(), _client())
    db.session.commit()
    logout_user()
    cookie_session.pop(SESSION_KEY, None)
    flash(_("Du är utloggad."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/konto/losenord", methods=["GET", "POST"])
@roles_required(*ROLES)
def password():
    form = PasswordForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        user, client, at = current_user._get_current_object(), _client(), sessions.now()
        # The current password is guessed no faster here than on the sign-in page.
        wait = throttle.seconds_refused(current_app.config, user.username, client.ip)
        if wait is not None:
            audit.record(
                db.session,
                "login_throttled",
                at,
                client=client,
                user_id=user.id,
                username=user.username,
                detail="password page",
            )
            db.session.commit()
            form.current.errors.append(_refused(wait))
            status, headers = 429, {"Retry-After": str(wait)}
        elif authenticate(db.session, user.username, form.current.data) is None:
            throttle.count_failure(current_app.config, user.username, client.ip)
            audit.record(
                db.session,
                "login_failed",
                at,
                client=client,
                user_id=user.id,
                username=user.username,
                detail="password page",
            )
            db.session.commit()
            form.current.errors.append(_("Fel lösenord."))
            status = 400
        elif problems := password_problems(form.new.data, user.username):
            form.new.errors.extend(problems)
            status = 400
        else:
            change_password(db.session, user, form.new.data, at, client)
            # Every other browser is signed out; this one goes on with a new session.
            token = sessions.start(db.session, user, at)
            db.session.commit()
            cookie_session[SESSION_KEY] = token
            flash(_("Lösenordet är bytt. Du är utloggad överallt utom här."), "info")
            return redirect(url_for(".password"))
    elif form.is_submitted():
        status = 400
    return render_template("auth/password.html", form=form, min_length=MIN_PASSWORD_LENGTH), status, headers


@bp.get("/admin/inloggningar")
@roles_required("admin")
def auth_log_page():
    page = max(request.args.get("page", 1, type=int), 1)
    username = request.args.get("user", "").strip()[:80]
    kind = request.args.get("kind", "")
    kind = kind if kind in EVENT_KINDS else ""
    rows = audit.events(db.session, username=username, kind=kind, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render_template(
        "admin/auth_log.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        username=username,
        kind=kind,
        labels=EVENT_LABELS,
    )
