"""The switchboard's pages: agents search the directory (/vaxel), coordinators keep their
department's entries (/vaxel/katalog). (Its figures are a report: metrics/views.py.)"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth.decorators import roles_required
from ..database import db
from ..directory.models import Department
from ..directory.service import kept_departments
from . import staff
from .directory import MAX_QUERY, search
from .models import StaffMember

bp = Blueprint("switchboard", __name__)

# Who answers calls or helps citizens and so needs to find a colleague.
SEARCHERS = ("agent", "caseworker", "coordinator", "admin", "location_staff", "manager")
KEEPERS = ("coordinator", "admin")
RESULTS = 25

bp.add_app_template_global(staff.absence_day, "absence_day")


@bp.get("/vaxel")
@roles_required(*SEARCHERS)
def search_page():
    text = request.args.get("q", "")
    departments = db.session.scalars(select(Department).order_by(Department.name_sv)).all()
    code = request.args.get("department", "")
    department = next((d for d in departments if d.code == code), None)
    error = None
    results: list[StaffMember] = []
    if len(text) > MAX_QUERY:
        error = _("Sökningen är för lång (högst %(max)d tecken).", max=MAX_QUERY)
    elif "\x00" in text:
        error = _("Sökningen innehåller otillåtna tecken.")
    elif code and department is None:
        error = _("Okänd förvaltning.")
    elif text.strip():
        results = search(db.session, text, department_id=department.id if department else None, limit=RESULTS)
    status = 400 if error else 200
    return render_template(
        "switchboard/search.html",
        q=text if not error else "",
        results=results,
        departments=departments,
        department=department,
        error=error,
        keeps=bool(kept_departments(db.session, current_user)),
    ), status


def _kept_department_or_404(code: str | None) -> Department:
    departments = kept_departments(db.session, current_user)
    if code:
        department = next((d for d in departments if d.code == code), None)
    else:
        department = next((d for d in departments if d.id == current_user.department_id), None) or (
            departments[0] if departments else None
        )
    if department is None:
        abort(404)  # another department's directory answers as if it did not exist
    return department


def _member_or_404(member_id: int) -> StaffMember:
    member = db.session.get(StaffMember, member_id)
    if member is None or not staff.may_keep(current_user, member.department):
        abort(404)
    return member


@bp.get("/vaxel/katalog")
@roles_required(*KEEPERS)
def department_page():
    department = _kept_department_or_404(request.args.get("department"))
    return render_template(
        "switchboard/department.html",
        department=department,
        departments=kept_departments(db.session, current_user),
        members=staff.department_staff(db.session, department),
    )


def _form() -> staff.EntryForm:
    f = request.form
    return staff.EntryForm(**{name: f.get(name, "") for name in staff.EntryForm.__dataclass_fields__})


def _alternatives(department: Department, member: StaffMember | None) -> list[StaffMember]:
    """Who may be named instead: the department's other active staff."""
    return [
        m for m in staff.department_staff(db.session, department) if m.active and (member is None or m.id != member.id)
    ]


def _entry_page(department: Department, member: StaffMember | None, values: dict, error=None):
    return render_template(
        "switchboard/entry.html",
        department=department,
        member=member,
        values=values,
        error=error,
        alternatives=_alternatives(department, member),
    ), (400 if error else 200)


def _values(member: StaffMember) -> dict:
    until = member.absent_until
    return {
        "title": member.title,
        "unit": member.unit,
        "phone": member.phone,
        "email": member.email,
        "keywords": member.keywords,
        "absent_until": staff.absence_day(until) if until else "",
        "absence_message": member.absence_message,
        "alternative_id": str(member.alternative_id or ""),
    }


@bp.route("/vaxel/katalog/<int:member_id>", methods=["GET", "POST"])
@roles_required(*KEEPERS)
def edit_entry(member_id: int):
    member = _member_or_404(member_id)
    if request.method == "GET":
        return _entry_page(member.department, member, _values(member))
    form = _form()
    try:
        staff.apply(db.session, member, form)
    except staff.StaffError as exc:
        db.session.rollback()
        return _entry_page(member.department, member, asdict(form), exc)
    db.session.commit()
    flash(_("Uppgifterna för %(name)s är sparade.", name=member.name), "success")
    return redirect(url_for(".department_page", department=member.department.code))


@bp.route("/vaxel/katalog/ny", methods=["GET", "POST"])
@roles_required(*KEEPERS)
def add_entry():
    department = _kept_department_or_404(request.values.get("department"))
    if request.method == "GET":
        return _entry_page(department, None, {})
    form = _form()
    try:
        member = staff.add(
            db.session,
            department,
            employee_id=request.form.get("employee_id", ""),
            name=request.form.get("name", ""),
            form=form,
        )
    except staff.StaffError as exc:
        db.session.rollback()
        values = {
            **asdict(form),
            "employee_id": request.form.get("employee_id", ""),
            "name": request.form.get("name", ""),
        }
        return _entry_page(department, None, values, exc)
    db.session.commit()
    flash(_("%(name)s är tillagd i växelns katalog.", name=member.name), "success")
    return redirect(url_for(".department_page", department=department.code))


@bp.post("/vaxel/katalog/<int:member_id>/aktiv")
@roles_required(*KEEPERS)
def set_active(member_id: int):
    member = _member_or_404(member_id)
    active = request.form.get("active") == "1"
    staff.set_active(db.session, member, active)
    db.session.commit()
    if active:
        flash(_("%(name)s finns i växelns katalog igen.", name=member.name), "success")
    else:
        flash(_("%(name)s är borttagen ur sökningen. Uppgifterna finns kvar.", name=member.name), "success")
    return redirect(url_for(".department_page", department=member.department.code))
