"""The administrators' page of API tokens: issue one (shown once), list them, revoke one."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ...auth.decorators import roles_required
from ...database import db
from .models import SCOPES, ApiToken
from .service import create_token, revoke_token

SCOPE_LABELS = {
    "contacts:write": _l("Skapa kontakter (contacts:write)"),
    "tickets:read": _l("Läsa ärendestatus (tickets:read)"),
    "services:read": _l("Läsa tjänstekatalogen (services:read)"),
    "open311": _l("Open311-klient (open311)"),
}

bp = Blueprint("tokens", __name__)


class TokenForm(FlaskForm):
    name = StringField(
        _l("Namn"),
        validators=[
            DataRequired(_l("Skriv vem som ska använda nyckeln.")),
            Length(max=120, message=_l("Namnet får vara högst %(max)d tecken.", max=120)),
        ],
    )
    scope = SelectField(_l("Behörighet"), choices=[SelectChoice(s, SCOPE_LABELS[s]) for s in SCOPES])


class RevokeForm(FlaskForm):
    pass


@bp.route("/admin/api-tokens", methods=["GET", "POST"])
@roles_required("admin")
def tokens():
    form = TokenForm()
    created = None
    status = 200
    if form.validate_on_submit():
        _token, created = create_token(db.session, form.name.data, form.scope.data, current_user)
        db.session.commit()
    elif form.is_submitted():
        status = 400
    listed = db.session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())).all()
    return render_template(
        "channels/tokens.html",
        form=form,
        tokens=listed,
        created=created,
        revoke_form=RevokeForm(),
        scope_labels=SCOPE_LABELS,
    ), status


@bp.post("/admin/api-tokens/<int:token_id>/revoke")
@roles_required("admin")
def revoke(token_id: int):
    form = RevokeForm()
    token = db.session.get(ApiToken, token_id)
    if token is not None and form.validate_on_submit():
        revoke_token(db.session, token)
        db.session.commit()
        flash(_("Nyckeln %(name)s är spärrad.", name=token.name), "success")
    return redirect(url_for(".tokens"))
