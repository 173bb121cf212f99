"""Keeping the switchboard directory: the rules an entry must meet, and the coordinators' changes.

The HR import (staff_import.py) and the coordinators' page (views.py) check an entry with
the same functions, so a value one of them refuses the other refuses too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..contacts.citizen import IdentifierError, normalise_email, normalise_phone
from ..directory.models import Department, User
from ..errors import DomainError
from ..worktime.calendar import STOCKHOLM
from .models import StaffMember

# The longest value of each text field (the column's length; the Text columns' limits are ours).
MAX_LENGTHS = {
    "employee_id": 60,
    "name": 200,
    "title": 200,
    "unit": 200,
    "phone": 100,
    "email": 200,
    "keywords": 1000,
    "absence_message": 500,
}
# How the messages name each field (Swedish; the catalogues translate them).
LABELS = {
    "employee_id": _l("Anställningsnummer"),
    "name": _l("Namn"),
    "title": _l("Titel"),
    "unit": _l("Enhet"),
    "phone": _l("Telefon"),
    "email": _l("E-post"),
    "keywords": _l("Sökord"),
    "absence_message": _l("Frånvaromeddelande"),
}
# Fields a coordinator may change on the page (the HR fields besides come from the import).
EDITABLE = ("title", "unit", "phone", "email", "keywords", "absent_until", "absence_message", "alternative")


class StaffError(DomainError, ValueError):
    """An entry of the directory that cannot be stored; `field` names the value at fault."""


def clean_text(field: str, raw: str | None, *, required: bool = False) -> str:
    """The value trimmed; refused when it holds NUL or control characters or is too long."""
    value = (raw or "").strip()
    label = LABELS[field]
    if any(ord(ch) < 32 and ch != "\t" for ch in value):
        # NUL (PostgreSQL refuses it) and other control characters no name or number has.
        raise StaffError("%(label)s innehåller otillåtna tecken.", field=field, label=label)
    if len(value) > MAX_LENGTHS[field]:
        raise StaffError(
            "%(label)s är för långt (högst %(max)d tecken).", field=field, label=label, max=MAX_LENGTHS[field]
        )
    if required and not value:
        raise StaffError("%(label)s saknas.", field=field, label=label)
    return value


def clean_phone(raw: str | None) -> str:
    """E.164, or a SIP address as given; empty when the person has no number."""
    value = clean_text("phone", raw)
    if not value or value.lower().startswith("sip:"):
        return value
    try:
        return normalise_phone(value)
    except IdentifierError:
        raise StaffError("Telefonnumret %(value)s är inte giltigt.", field="phone", value=value) from None


def clean_email(raw: str | None) -> str:
    value = clean_text("email", raw)
    if not value:
        return ""
    try:
        return normalise_email(value)
    except IdentifierError:
        raise StaffError("E-postadressen %(value)s är inte giltig.", field="email", value=value) from None


def clean_absent_until(raw: str | None) -> datetime | None:
    """A date means away through that day (back the next morning); a time, until that moment."""
    value = (raw or "").strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=STOCKHOLM)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise StaffError(
            "Frånvaron gäller till %(value)s, som inte är ett datum (ÅÅÅÅ-MM-DD).", field="absent_until", value=value
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=STOCKHOLM)


def absence_day(until: datetime) -> str:
    """`absent_until` as the form shows it: the last day away, or the moment when not midnight."""
    local = until.astimezone(STOCKHOLM)
    if local.time() == time(0):
        return (local.date() - timedelta(days=1)).isoformat()
    return local.strftime("%Y-%m-%dT%H:%M")


def may_keep(user: User, department: Department | None) -> bool:
    """A department's coordinator keeps its staff's entries; administrators may help."""
    if user.role == "admin":
        return True
    return user.role == "coordinator" and department is not None and user.department_id == department.id


def department_staff(session: Session, department: Department) -> list[StaffMember]:
    """The department's entries, active first, by name."""
    return list(
        session.scalars(
            select(StaffMember)
            .where(StaffMember.department_id == department.id)
            .options(selectinload(StaffMember.alternative))
            .order_by(StaffMember.active.desc(), StaffMember.name, StaffMember.id)
        )
    )


@dataclass(frozen=True)
class EntryForm:
    """What the page's form says about one entry (raw strings, checked by `apply`)."""

    title: str = ""
    unit: str = ""
    phone: str = ""
    email: str = ""
    keywords: str = ""
    absent_until: str = ""
    absence_message: str = ""
    alternative_id: str = ""


def _alternative(session: Session, member: StaffMember | None, raw: str) -> StaffMember | None:
    if not raw.strip():
        return None
    try:
        alternative = session.get(StaffMember, int(raw))
    except ValueError:
        alternative = None
    if alternative is None or not alternative.active:
        raise StaffError("Den som ska svara i stället finns inte i växelns katalog.", field="alternative_id")
    if member is not None and alternative.id == member.id:
        raise StaffError("Hänvisa till någon annan än personen själv.", field="alternative_id")
    return alternative


def apply(session: Session, member: StaffMember, form: EntryForm) -> StaffMember:
    """Check every value first, then change the entry: a refused form changes nothing."""
    values = {
        "title": clean_text("title", form.title),
        "unit": clean_text("unit", form.unit),
        "phone": clean_phone(form.phone),
        "email": clean_email(form.email),
        "keywords": clean_text("keywords", form.keywords),
        "absent_until": clean_absent_until(form.absent_until),
        "absence_message": clean_text("absence_message", form.absence_message),
        "alternative": _alternative(session, member, form.alternative_id),
    }
    if values["absent_until"] is None and values["absence_message"]:
        raise StaffError("Ange till och med vilket datum frånvaron gäller.", field="absent_until")
    for name, value in values.items():
        setattr(member, name, value)
    session.flush()
    return member


def add(session: Session, department: Department, *, employee_id: str, name: str, form: EntryForm) -> StaffMember:
    """A new entry in `department` (someone the HR export does not list yet, e.g. a function address)."""
    employee_id = clean_text("employee_id", employee_id, required=True)
    name = clean_text("name", name, required=True)
    if session.scalar(select(StaffMember.id).where(StaffMember.employee_id == employee_id)) is not None:
        raise StaffError(
            "Anställningsnumret %(value)s finns redan i katalogen.", field="employee_id", value=employee_id
        )
    member = StaffMember(employee_id=employee_id, name=name, department=department, active=True)
    apply(session, member, form)
    session.add(member)
    session.flush()
    return member


def set_active(session: Session, member: StaffMember, active: bool) -> StaffMember:
    """Deactivated entries are kept (requests and transfers name them) but never found."""
    member.active = active
    session.flush()
    return member
