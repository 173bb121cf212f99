"""User administration pages (admins only), the admin audit log, and the public
set-password page a one-time link leads to. Thin: the work is in service.py and links.py."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..auth import audit
from ..auth.decorators import public, roles_required
from ..auth.passwords import MIN_LENGTH, password_problems
from ..database import db
from ..directory.models import Department, User
from ..errors_http import back_on_error
from ..extensions import current_locale
from ..notify.email import EmailError
from ..vocabulary import ROLES
from . import changes, links
from .forms import ROLE_LABELS, ActionForm, NewUserForm, SetPasswordForm, UserForm
from .models import CHANGE_ACTIONS
from .service import (
    AccountError,
    AccountFields,
    create_user,
    deactivate_user,
    email_link,
    now,
    reactivate_user,
    reset_two_factor,
    update_user,
    users,
)

bp = Blueprint("accounts", __name__)

ACTION_LABELS = {
    "created": _l("Kontot skapat"),
    "updated": _l("Ändrat"),
    "deactivated": _l("Kontot avstängt"),
    "reactivated": _l("Kontot återaktiverat"),
    "link_issued": _l("Engångslänk för lösenord skapad"),
    "password_set": _l("Lösenord satt från kommandoraden"),
    "two_factor_reset": _l("Tvåstegsverifiering återställd"),
}
FIELD_LABELS = {
    "username": _l("Användarnamn"),
    "name": _l("Namn"),
    "email": _l("E-postadress"),
    "role": _l("Roll"),
    "department": _l("Förvaltning"),
    "location": _l("Plats"),
    "queues": _l("Köer"),
    "services": _l("Tjänster"),
    "languages": _l("Språk"),
    "phone_identity": _l("Telefon för samtal"),
    "max_open_tickets": _l("Kapacitet"),
    "active": _l("Aktiv"),
    "link": _l("Länk"),
}
PAGE_SIZE = 100


def _actor() -> changes.Actor:
    user = current_user._get_current_object()
    return changes.Actor(
        name=user.username,
        user_id=user.id,
        client=audit.Client(ip=request.remote_addr or "", user_agent=request.user_agent.string[:200]),
    )


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _show(form: UserForm, err: AccountError) -> None:
    """The service's problems under their fields (the rest above the form)."""
    for name, message in err.problems.items():
        target = getattr(form, name, None) if name else None
        if target is not None and hasattr(target, "errors"):
            target.errors = [*list(target.errors), message]
        else:
            flash(str(message), "error")


@bp.get("/admin/anvandare")
@roles_required("admin")
def user_list():
    role = request.args.get("role", "")
    role = role if role in ROLES else ""
    department = request.args.get("department", "")[:40]
    active_arg = request.args.get("active", "")
    active = {"1": True, "0": False}.get(active_arg)
    rows = users(db.session, role=role, department=department, active=active)
    departments = list(db.session.scalars(select(Department).order_by(Department.name_sv)))
    return render_template(
        "admin/users.html",
        rows=rows,
        role=role,
        department=department,
        active=active_arg,
        departments=departments,
        roles=ROLES,
        role_labels=ROLE_LABELS,
        locale=current_locale(),
    )


@bp.route("/admin/anvandare/ny", methods=["GET", "POST"])
@roles_required("admin")
def user_new():
    form = NewUserForm()
    form.fill_choices(db.session, current_locale())
    status = 200
    if form.validate_on_submit():
        try:
            at = now()
            user = create_user(db.session, form.username.data, form.fields_data(), _actor(), at)
            sent_to = email_link(db.session, user, "welcome", _actor(), at, current_app.config)
        except AccountError as err:  # the form again, with what was typed and each problem under its field
            db.session.rollback()
            _show(form, err)
            status = 400
        except EmailError:
            db.session.rollback()
            flash(_("E-postmeddelandet kunde inte skickas. Kontot har inte skapats. Försök igen senare."), "error")
            status = 502
        else:
            db.session.commit()
            flash(
                _(
                    "Kontot %(username)s är skapat. En länk för att välja lösenord har skickats till %(email)s.",
                    username=user.username,
                    email=sent_to,
                ),
                "info",
            )
            return redirect(url_for(".user_edit", user_id=user.id), 303)
    elif form.is_submitted():
        status = 400
    return render_template(
        "admin/user_form.html", form=form, user=None, action_form=None, min_length=MIN_LENGTH
    ), status


@bp.route("/admin/anvandare/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user_edit(user_id: int):
    user = _user_or_404(user_id)
    form = UserForm(data=vars(AccountFields.of(user)))
    form.fill_choices(db.session, current_locale())
    status = 200
    if form.validate_on_submit():
        try:
            changed = update_user(db.session, user, form.fields_data(), _actor(), now())
        except AccountError as err:  # as in user_new: the form again, problems under their fields
            db.session.rollback()
            _show(form, err)
            status = 400
        else:
            db.session.commit()
            flash(_("Ändringarna är sparade.") if changed else _("Inget ändrades."), "info")
            return redirect(url_for(".user_edit", user_id=user.id), 303)
    elif form.is_submitted():
        status = 400
    return render_template(
        "admin/user_form.html", form=form, user=user, action_form=ActionForm(), min_length=MIN_LENGTH
    ), status


def _action(user_id: int, do) -> object:
    """A button on the user's page: run `do(user)`, then back to the page with what happened."""
    user = _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    back_on_error(url_for(".user_edit", user_id=user.id), 303)
    try:
        message = do(user)
    except EmailError:
        db.session.rollback()
        flash(_("E-postmeddelandet kunde inte skickas. Försök igen senare."), "error")
    else:
        db.session.commit()
        flash(message, "info")
    return redirect(url_for(".user_edit", user_id=user.id), 303)


@bp.post("/admin/anvandare/<int:user_id>/inaktivera")
@roles_required("admin")
def user_deactivate(user_id: int):
    def do(user: User) -> str:
        ended = deactivate_user(db.session, user, _actor(), now())
        return _("%(username)s är avstängd. Avslutade sessioner: %(n)d.", username=user.username, n=ended)

    return _action(user_id, do)


@bp.post("/admin/anvandare/<int:user_id>/aktivera")
@roles_required("admin")
def user_reactivate(user_id: int):
    def do(user: User) -> str:
        reactivate_user(db.session, user, _actor(), now())
        return _("%(username)s är aktiv igen.", username=user.username)

    return _action(user_id, do)


@bp.post("/admin/anvandare/<int:user_id>/losenordslank")
@roles_required("admin")
def user_send_reset(user_id: int):
    def do(user: User) -> str:
        sent_to = email_link(db.session, user, "reset", _actor(), now(), current_app.config)
        return _("En länk för att välja nytt lösenord har skickats till %(email)s.", email=sent_to)

    return _action(user_id, do)


@bp.post("/admin/anvandare/<int:user_id>/tvastegsverifiering")
@roles_required("admin")
def user_reset_two_factor(user_id: int):
    def do(user: User) -> str:
        if reset_two_factor(db.session, user, _actor(), now()):
            return _(
                "Tvåstegsverifieringen för %(username)s är borttagen. Nästa inloggning kräver bara lösenordet, sedan en ny registrering om rollen kräver det.",
                username=user.username,
            )
        return _("%(username)s hade ingen tvåstegsverifiering.", username=user.username)

    return _action(user_id, do)


def _value(value) -> str:
    """One side of a before → after, as an administrator reads it."""
    if value is None or value == []:
        return "–"
    if isinstance(value, bool):
        return _("ja") if value else _("nej")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _history(user: User | None):
    page = max(request.args.get("page", 1, type=int), 1)
    action = request.args.get("action", "")
    action = action if action in CHANGE_ACTIONS else ""
    actor = request.args.get("actor", "").strip()[:80]
    rows = changes.history(
        db.session,
        user_id=user.id if user else None,
        actor=actor,
        action=action,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render_template(
        "admin/user_changes.html",
        user=user,
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        action=action,
        actor=actor,
        labels=ACTION_LABELS,
        field_labels=FIELD_LABELS,
        changed_fields=changes.changed_fields,
        value=_value,
    )


@bp.get("/admin/anvandare/<int:user_id>/historik")
@roles_required("admin")
def user_history(user_id: int):
    return _history(_user_or_404(user_id))


@bp.get("/admin/andringslogg")
@roles_required("admin")
def change_log():
    return _history(None)


INVALID_LINK = _l(
    "Länken fungerar inte. Den kan ha använts redan, ha gått ut eller ha ersatts av en nyare länk. "
    "Be din administratör om en ny länk."
)


@bp.route("/konto/satt-losenord/<token>", methods=["GET", "POST"])
@public
def set_password(token: str):
    """The page a one-time link leads to. An unknown, used, replaced or expired link gets the
    same answer, so it tells a stranger nothing about accounts."""
    # The token is in the address: no-store, and the app-wide Referrer-Policy same-origin keeps
    # it from other sites (no-referrer would fail the CSRF check's Referer test over HTTPS).
    headers = {"Cache-Control": "no-store"}
    at = now()
    found = links.find(db.session, token, at)
    if found is None:
        return (
            render_template("auth/set_password.html", form=None, invalid=INVALID_LINK, min_length=MIN_LENGTH),
            404,
            headers,
        )
    _link, user = found
    form = SetPasswordForm()
    status = 200
    if form.validate_on_submit():
        if problems := password_problems(form.new.data, user.username):
            form.new.errors = [*list(form.new.errors), *problems]
            status = 400
        else:
            client = audit.Client(ip=request.remote_addr or "", user_agent=request.user_agent.string[:200])
            if links.redeem(db.session, token, form.new.data, at, client) is None:  # used by another request meanwhile
                db.session.rollback()
                return (
                    render_template("auth/set_password.html", form=None, invalid=INVALID_LINK, min_length=MIN_LENGTH),
                    404,
                    headers,
                )
            db.session.commit()
            # To the sign-in page: the new password is proved there, and any second step of sign-in applies.
            flash(_("Ditt lösenord är sparat. Logga in med det nya lösenordet."), "info")
            return redirect(url_for("auth.login"), 303)
    elif form.is_submitted():
        status = 400
    return (
        render_template("auth/set_password.html", form=form, invalid=None, user=user, min_length=MIN_LENGTH),
        status,
        headers,
    )
