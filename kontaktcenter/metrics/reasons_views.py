"""The coordinator's page for the department's contact reasons (/samordnare/orsaker)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.decorators import roles_required
from ..database import db
from ..directory import reasons
from ..directory.models import ContactReason, Department, Service
from ..directory.service import kept_departments
from ..errors_http import back_on_error

bp = Blueprint("directory", __name__)

KEEPERS = ("coordinator", "admin")


def _page_url(department: Department) -> str:
    return url_for(".reasons_page", department=department.code)


def _service_or_404(service_id: int) -> Service:
    """Another department's service answers exactly as a service that does not exist."""
    service = db.session.get(Service, service_id)
    if service is None or not reasons.may_keep(current_user, service.department):
        abort(404)
    return service


def _reason_or_404(reason_id: int) -> ContactReason:
    reason = db.session.get(ContactReason, reason_id)
    if reason is None or not reasons.may_keep(current_user, reason.service.department):
        abort(404)
    return reason


@bp.get("/samordnare/orsaker")
@roles_required(*KEEPERS)
def reasons_page():
    departments = kept_departments(db.session, current_user)
    code = request.args.get("department", "")
    department = next((d for d in departments if d.code == code), None) if code else None
    if code and department is None:
        abort(404)
    if department is None:
        department = next((d for d in departments if d.id == current_user.department_id), None) or (
            departments[0] if departments else None
        )
    if department is None:
        abort(404)
    return render_template(
        "directory/reasons.html",
        department=department,
        departments=departments,
        services=reasons.department_services(db.session, department),
    )


def _done(department: Department, message: str):
    db.session.commit()
    flash(message, "success")
    return redirect(_page_url(department))


@bp.post("/samordnare/orsaker/tjanst/<int:service_id>")
@roles_required(*KEEPERS)
def add_reason(service_id: int):
    service = _service_or_404(service_id)
    back_on_error(_page_url(service.department) + f"#service-{service.id}")
    form = request.form
    reason = reasons.add_reason(
        db.session,
        current_user,
        service,
        code=form.get("code", ""),
        name_sv=form.get("name_sv", ""),
        name_en=form.get("name_en", ""),
        category=form.get("category", ""),
    )
    return _done(service.department, _("Orsaken %(name)s är tillagd.", name=reason.name_sv))


@bp.post("/samordnare/orsaker/<int:reason_id>/namn")
@roles_required(*KEEPERS)
def rename_reason(reason_id: int):
    reason = _reason_or_404(reason_id)
    back_on_error(_page_url(reason.service.department) + f"#service-{reason.service_id}")
    reasons.rename_reason(
        db.session,
        current_user,
        reason,
        name_sv=request.form.get("name_sv", ""),
        name_en=request.form.get("name_en", ""),
    )
    return _done(reason.service.department, _("Orsaken är omdöpt."))


@bp.post("/samordnare/orsaker/<int:reason_id>/ta-bort")
@roles_required(*KEEPERS)
def retire_reason(reason_id: int):
    reason = _reason_or_404(reason_id)
    back_on_error(_page_url(reason.service.department) + f"#service-{reason.service_id}")
    reasons.retire_reason(db.session, current_user, reason)
    return _done(reason.service.department, _("Orsaken kan inte längre väljas. Kontakter som har den behåller den."))


@bp.post("/samordnare/orsaker/<int:reason_id>/aterstall")
@roles_required(*KEEPERS)
def restore_reason(reason_id: int):
    reason = _reason_or_404(reason_id)
    back_on_error(_page_url(reason.service.department) + f"#service-{reason.service_id}")
    reasons.restore_reason(db.session, current_user, reason)
    return _done(reason.service.department, _("Orsaken kan väljas igen."))
