"""Loading and looking up the directory."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from ..auth.service import hash_password
from . import catalogue
from .load import LoadReport, load_directory
from .models import Department, Location, OpeningHours, Queue, User


def load_catalogue(session: Session) -> LoadReport:
    """Load (or update) the Malmö directory file, the demo's and the tests' directory."""
    return load_directory(session, catalogue.malmo())


def opening_hours_in_directory(session: Session) -> dict[str, dict[str, object]]:
    """The directory's opening hours in the calendar's form (code → {"open": …})."""
    # A database not yet migrated has no directory: the configured hours apply.
    if not inspect(session.connection()).has_table("opening_hours"):
        return {}
    return {row.code: row.as_config() for row in session.scalars(select(OpeningHours))}


def load_demo_users(session: Session, passwords: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """Create the demo users (marked as the demo's) with `passwords` (username → password).

    A demo user whose stored password is not the given one gets it, so the printed
    passwords always work (a database from before per-installation passwords).
    Returns (username, role, password) for printing.
    """
    printed = []
    for username, name, role, dept, loc, languages, queues in catalogue.DEMO_USERS:
        password = passwords[username]
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
                demo=True,
            )
            user.languages = languages
            user.queues = [by_code(session, Queue, q) for q in queues]
            session.add(user)
        else:
            user.demo = True  # the demo's refusal check has recognised it as its own
            if not check_password_hash(user.password_hash, password):
                user.password_hash = hash_password(password)
        printed.append((username, role, password))
    session.flush()
    return printed


def by_code(session: Session, model, code: str):
    item = session.scalar(select(model).where(model.code == code))
    if item is None:
        raise LookupError(f"no {model.__name__.lower()} with code {code!r}")
    return item
