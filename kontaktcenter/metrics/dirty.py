"""Dirty days: a write that changes a past day's figures marks that day, in its own transaction.

The report takes a day from the rollups only when it is settled and not dirty
(rollups.usable_days); the rollup job recomputes the dirty days and deletes exactly the
marks it read (rollups.rollup_job). What marks:

* every ORM flush that inserts, deletes or changes a contact or a ticket in a column
  the engine reads: a `before_flush` hook marks the rows as they were (what the
  rollups may hold), an `after_flush` hook as they are now. `register()` installs both
  on every Session; the app factory calls it, so the web app, the CLI, the scheduler
  and the workers (all made by create_app) have it;
* the bulk and Core paths, which bypass the ORM, call `mark_contacts` / `mark_tickets`
  themselves: the history import, gallring and erasure, merging a ticket away.

A contact's figures belong to its own arrival day; a ticket's to its first contact's
arrival day, and a contact changes its ticket's figures and those of the earlier
tickets it is a repeat contact of (repeats.py). Marks are set-based INSERT … SELECT, so
a bulk path marks a batch in one statement. Only days before today (Stockholm) are
marked: today has no rollup yet.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Date, and_, bindparam, event, insert, inspect, or_, select, type_coerce, union
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..database import UTCDateTime, utcnow
from ..tickets.models import Ticket
from ..worktime.calendar import STOCKHOLM
from .models import MetricDirtyDay
from .repeats import IDENTIFIERS, repeated_tickets
from .sqlfuncs import local_date

# The columns (and relationships that set them) the engine reads: a change elsewhere
# (a subject, an assignee) leaves every figure as it was.
CONTACT_COLUMNS = (
    "channel",
    "ticket_id",
    "ticket",
    "service_id",
    "service",
    "location_id",
    "location",
    "language",
    "need_interpreter",
    "need_hearing",
    "need_vision",
    "need_easy_read",
    "arrived_at",
    "answered_at",
    "ended_at",
    "outcome",
    "wait_seconds",
    "callback_completed_at",
    "first_response_at",
    *IDENTIFIERS,
)
TICKET_COLUMNS = ("service_id", "service", "first_arrived_at", "resolved_at", "resolution", "escalated")


def _today() -> date:
    return utcnow().astimezone(STOCKHOLM).date()


def _day(moment) -> object:
    return type_coerce(local_date(moment), Date)


def _insert_marks(session_or_connection, selects: list) -> None:
    session_or_connection.execute(_marks_statement(selects), _clock())


def _marks_statement(selects: list):
    today = bindparam("kc_dirty_today", type_=Date)
    marked_at = bindparam("kc_dirty_marked_at", type_=UTCDateTime())
    rows = union(*selects).subquery()
    return insert(MetricDirtyDay.__table__).from_select(
        ["day", "service_id", "marked_at"],
        select(rows.c.day, rows.c.service_id, marked_at).where(rows.c.day < today),
    )


def _clock() -> dict:
    return {"kc_dirty_today": _today(), "kc_dirty_marked_at": utcnow()}


IDS = "kc_dirty_ids"


@cache
def _marks_by_id(model: type) -> Any:
    """The marks of rows given by id, built once: the statement is large (the repeat rule's
    four probes), and building it anew took more CPU than an intake's other work together."""
    ids = bindparam(IDS, expanding=True)
    if model is Contact:
        return _marks_statement(contact_marks(Contact.id.in_(ids)))
    return _marks_statement(ticket_marks(Ticket.id.in_(ids)))


def mark_contact_ids(session_or_connection, ids: list[int]) -> None:
    """mark_contacts of the contacts with these ids, by one prepared statement."""
    if ids:
        session_or_connection.execute(_marks_by_id(Contact), {IDS: list(ids), **_clock()})


def mark_ticket_ids(session_or_connection, ids: list[int]) -> None:
    """mark_tickets of the tickets with these ids, by one prepared statement."""
    if ids:
        session_or_connection.execute(_marks_by_id(Ticket), {IDS: list(ids), **_clock()})


def _with_identifier():
    return or_(*(getattr(Contact, name).isnot(None) for name in IDENTIFIERS))


def contact_marks(condition) -> list:
    """SELECTs of (day, service_id) whose figures the contacts meeting `condition` are in:
    their own day, their ticket's day, and the days of the tickets they repeat."""
    repeated = repeated_tickets(and_(condition, _with_identifier())).subquery()
    return [
        select(_day(Contact.arrived_at).label("day"), Contact.service_id.label("service_id")).where(condition),
        select(_day(Ticket.first_arrived_at).label("day"), Ticket.service_id.label("service_id"))
        .join(Contact, Contact.ticket_id == Ticket.id)
        .where(condition),
        select(_day(repeated.c.first_arrived_at).label("day"), repeated.c.service_id.label("service_id")),
    ]


def ticket_marks(condition) -> list:
    """SELECTs of (day, service_id) of the tickets meeting `condition`."""
    return [select(_day(Ticket.first_arrived_at).label("day"), Ticket.service_id.label("service_id")).where(condition)]


def mark_contacts(session_or_connection, condition, *, identifiers_only: bool = False) -> None:
    """Mark the days the contacts meeting `condition` (on Contact) count in, as the rows are now.

    Call it after inserting contacts and before deleting them or changing what the engine
    reads. identifiers_only: only the citizen identifiers change (gallring), which only
    matters for contacts that have one.
    """
    if identifiers_only:
        condition = and_(condition, _with_identifier())
    _insert_marks(session_or_connection, contact_marks(condition))


def mark_tickets(session_or_connection, condition, *, with_contacts: bool = False) -> None:
    """Mark the days of the tickets meeting `condition` (on Ticket); with_contacts: and of their
    contacts (before deleting the tickets, whose contacts go with them)."""
    selects = ticket_marks(condition)
    if with_contacts:
        selects += contact_marks(Contact.ticket_id.in_(select(Ticket.id).where(condition).scalar_subquery()))
    _insert_marks(session_or_connection, selects)


# -- the ORM hook -------------------------------------------------------------------------


def _changed(obj, columns: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in columns if name in state.attrs)


def _ids(objects, model, columns) -> list[int]:
    return [o.id for o in objects if isinstance(o, model) and o.id is not None and _changed(o, columns)]


def _before_flush(session: Session, _context, _instances) -> None:
    # As the rows are before this flush: the figures the rollups may hold.
    contacts = _ids(session.dirty, Contact, CONTACT_COLUMNS)
    contacts += [o.id for o in session.deleted if isinstance(o, Contact) and o.id is not None]
    tickets = _ids(session.dirty, Ticket, TICKET_COLUMNS)
    deleted_tickets = [o.id for o in session.deleted if isinstance(o, Ticket) and o.id is not None]
    _mark(session, contacts, tickets, deleted_tickets)


def _after_flush(session: Session, _context) -> None:
    # As the rows are now (the lists still show what this flush wrote).
    contacts = [o.id for o in session.new if isinstance(o, Contact)]
    contacts += _ids(session.dirty, Contact, CONTACT_COLUMNS)
    tickets = [o.id for o in session.new if isinstance(o, Ticket)]
    tickets += _ids(session.dirty, Ticket, TICKET_COLUMNS)
    _mark(session, contacts, tickets)


def _mark(session: Session, contacts: list[int], tickets: list[int], deleted_tickets: list[int] = ()) -> None:
    """Mark the days of these rows; the connection is touched only when something changed."""
    if not (contacts or tickets or deleted_tickets):
        return
    connection = session.connection()
    mark_contact_ids(connection, contacts)
    mark_ticket_ids(connection, tickets)
    if deleted_tickets:
        mark_tickets(connection, Ticket.id.in_(deleted_tickets), with_contacts=True)


def register() -> None:
    """Install the hooks on every Session (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)


def dirty_days(session: Session, start: date, end: date) -> set[date]:
    """The marked days between start and end (both included)."""
    days = session.scalars(
        select(MetricDirtyDay.day).where(MetricDirtyDay.day >= start, MetricDirtyDay.day <= end).distinct()
    )
    return {d if isinstance(d, date) else date.fromisoformat(str(d)) for d in days}
