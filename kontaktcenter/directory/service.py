"""Loading and looking up the directory."""

from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from . import catalogue
from .load import LoadReport, load_directory
from .models import Department, OpeningHours, User


def load_catalogue(session: Session) -> LoadReport:
    """Load (or update) the Malmö directory file, the demo's and the tests' directory."""
    return load_directory(session, catalogue.malmo())


def opening_hours_in_directory(session: Session) -> dict[str, dict[str, object]]:
    """The directory's opening hours in the calendar's form (code → {"open": …})."""
    # A database not yet migrated has no directory: the configured hours apply.
    if not inspect(session.connection()).has_table("opening_hours"):
        return {}
    return {row.code: row.as_config() for row in session.scalars(select(OpeningHours))}


def kept_departments(session: Session, user: User) -> list[Department]:
    """The departments whose entries `user` keeps (contact reasons, the switchboard's staff):
    their own (a coordinator), every one (an admin)."""
    stmt = select(Department).order_by(Department.name_sv)
    if user.role != "admin":
        if user.role != "coordinator" or user.department_id is None:
            return []
        stmt = stmt.where(Department.id == user.department_id)
    return list(session.scalars(stmt))
