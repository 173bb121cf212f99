"""Keeping a service's contact reasons (orsakskoder): the department's coordinator adds,
renames, retires and restores them (METRICS.md "Service development").

A reason is never deleted: contacts keep the reason they were given, so a retired one
stays on them and in the reports, it only can no longer be picked. The two "other"
reasons every list holds cannot be retired, so an agent can always pick one.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import utcnow
from ..errors import DomainError
from .models import REASON_CATEGORIES, ContactReason, ContactReasonChange, Department, Service, User

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
CODE_LENGTH = ContactReason.__table__.c.code.type.length
NAME_LENGTH = ContactReason.__table__.c.name_sv.type.length


class ReasonError(DomainError):
    """A change to a reason list that cannot be made; the message says why."""


def may_keep(user: User, department: Department) -> bool:
    """The department's coordinator keeps its services' reasons; administrators may help."""
    if user.role == "admin":
        return True
    return user.role == "coordinator" and user.department_id == department.id


def department_services(session: Session, department: Department) -> list[Service]:
    """The department's services, each with its reasons (active first, then by label)."""
    return list(
        session.scalars(
            select(Service)
            .where(Service.department_id == department.id, Service.active.is_(True))
            .order_by(Service.name_sv)
        )
    )


def _record(
    session: Session, reason: ContactReason, user: User, action: str, detail: dict[str, Any] | None = None
) -> None:
    session.add(ContactReasonChange(reason=reason, user_id=user.id, at=utcnow(), action=action, detail=detail or {}))


def _check_keeper(user: User, service: Service) -> None:
    if not may_keep(user, service.department):
        raise ReasonError("Bara förvaltningens samordnare kan ändra tjänstens kontaktorsaker.")


def _labels(name_sv: str, name_en: str) -> tuple[str, str]:
    name_sv, name_en = (name_sv or "").strip(), (name_en or "").strip()
    if not name_sv:
        raise ReasonError("Ange orsakens namn på svenska.", field="name_sv")
    if len(name_sv) > NAME_LENGTH or len(name_en) > NAME_LENGTH:
        raise ReasonError("Namnet får vara högst %(max)s tecken.", field="name_sv", max=NAME_LENGTH)
    return name_sv, name_en


def add_reason(
    session: Session, user: User, service: Service, *, code: str, name_sv: str, name_en: str = "", category: str
) -> ContactReason:
    """A new reason on the service's list."""
    _check_keeper(user, service)
    code = (code or "").strip().lower()
    if not code:
        raise ReasonError("Ange en kod för orsaken.", field="code")
    if len(code) > CODE_LENGTH or not CODE_PATTERN.match(code):
        raise ReasonError(
            "Koden får bara innehålla a–z, siffror, - och _ och vara högst %(max)s tecken.",
            field="code",
            max=CODE_LENGTH,
        )
    if category not in REASON_CATEGORIES:
        raise ReasonError("Välj om orsaken är värdeskapande eller felorsakad.", field="category")
    name_sv, name_en = _labels(name_sv, name_en)
    taken = session.scalar(
        select(ContactReason.id).where(ContactReason.service_id == service.id, ContactReason.code == code)
    )
    if taken is not None:
        raise ReasonError("Tjänsten har redan en orsak med koden %(code)s.", field="code", code=code)
    reason = ContactReason(service=service, code=code, name_sv=name_sv, name_en=name_en, category=category, active=True)
    session.add(reason)
    _record(session, reason, user, "added", {"code": code, "name_sv": name_sv, "category": category})
    return reason


def rename_reason(session: Session, user: User, reason: ContactReason, *, name_sv: str, name_en: str = "") -> None:
    """New labels; the code and the category stay (past contacts keep their meaning)."""
    _check_keeper(user, reason.service)
    name_sv, name_en = _labels(name_sv, name_en)
    changed = {
        key: [old, new]
        for key, old, new in (("name_sv", reason.name_sv, name_sv), ("name_en", reason.name_en, name_en))
        if old != new
    }
    if not changed:
        return
    reason.name_sv, reason.name_en = name_sv, name_en
    _record(session, reason, user, "renamed", changed)


def retire_reason(session: Session, user: User, reason: ContactReason) -> None:
    """No longer offered to agents; contacts that have it keep it."""
    _check_keeper(user, reason.service)
    if reason.is_other:
        raise ReasonError("De två orsakerna ”annat” kan inte tas bort: agenten måste alltid kunna välja en orsak.")
    if not reason.active:
        raise ReasonError("Orsaken är redan borttagen.")
    reason.active = False
    _record(session, reason, user, "retired")


def restore_reason(session: Session, user: User, reason: ContactReason) -> None:
    _check_keeper(user, reason.service)
    if reason.active:
        raise ReasonError("Orsaken används redan.")
    reason.active = True
    _record(session, reason, user, "restored")


def active_reasons(session: Session, service_id: int | None) -> list[ContactReason]:
    """The reasons an agent may pick for a service: its active ones, "other" last."""
    if service_id is None:
        return []
    reasons = session.scalars(
        select(ContactReason).where(ContactReason.service_id == service_id, ContactReason.active.is_(True))
    ).all()
    return sorted(reasons, key=lambda r: (r.is_other, r.category, r.name_sv))
