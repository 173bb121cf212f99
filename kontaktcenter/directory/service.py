"""Loading and looking up the directory."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.service import hash_password
from . import catalogue
from .models import Department, Location, Queue, Service, User


def load_catalogue(session: Session) -> None:
    """Insert the catalogue's departments, queues, services and locations (idempotent)."""
    departments = {d.code: d for d in session.scalars(select(Department))}
    for code, sv, en, is_kc in catalogue.DEPARTMENTS:
        if code not in departments:
            departments[code] = Department(code=code, name_sv=sv, name_en=en, is_contact_center=is_kc)
            session.add(departments[code])
    queues = set(session.scalars(select(Queue.code)))
    for code, sv, en, dept, kind, confidential in catalogue.QUEUES:
        if code not in queues:
            session.add(Queue(code=code, name_sv=sv, name_en=en, department=departments[dept], kind=kind, confidential=confidential))
    services = set(session.scalars(select(Service.code)))
    for code, sv, en, dept, group, flags in catalogue.SERVICES:
        if code not in services:
            session.add(
                Service(
                    code=code,
                    name_sv=sv,
                    name_en=en,
                    department=departments[dept],
                    group=group,
                    confidential="c" in flags,
                    requires_personnummer="p" in flags,
                    walk_in_topic="w" in flags,
                    open311="o" in flags,
                    public_requests="u" in flags,
                    description_sv=f"Frågor om {sv.lower()}.",
                    description_en=f"Questions about {en.lower()}.",
                    retention_period=catalogue.RETENTION.get(code, catalogue.DEFAULT_RETENTION)[0],
                    retention_action=catalogue.RETENTION.get(code, catalogue.DEFAULT_RETENTION)[1],
                )
            )
    locations = set(session.scalars(select(Location.code)))
    for code, name, kind, district, numbers in catalogue.LOCATIONS:
        if code not in locations:
            session.add(Location(code=code, name=name, kind=kind, district=district, queue_numbers=numbers))
    session.flush()


def load_demo_users(session: Session) -> list[tuple[str, str, str]]:
    """Create the demo users; returns (username, role, password) for printing."""
    printed = []
    for username, name, role, dept, loc, languages, queues, password in catalogue.DEMO_USERS:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(
                username=username,
                name=name,
                role=role,
                email=f"{username}@kontaktcenter.example",
                password_hash=hash_password(password),
                department=by_code(session, Department, dept) if dept else None,
                location=by_code(session, Location, loc) if loc else None,
                presence="available" if role in ("agent", "caseworker") else "offline",
                phone_identity=f"client:{username}",
            )
            user.languages = languages
            user.queues = [by_code(session, Queue, q) for q in queues]
            session.add(user)
        printed.append((username, role, password))
    session.flush()
    return printed


def by_code(session: Session, model, code: str):
    item = session.scalar(select(model).where(model.code == code))
    if item is None:
        raise LookupError(f"no {model.__name__.lower()} with code {code!r}")
    return item
