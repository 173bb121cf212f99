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

from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any

from sqlalchemy import Date, and_, bindparam, event, insert, inspect, or_, select, type_coerce, union
from sqlalchemy.engine import Connection
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


def _params() -> dict:
    """The values every marking statement is run with: today (Stockholm), its first moment, now."""
    today = _today()
    return {
        "kc_dirty_today": today,
        "kc_dirty_today_starts": datetime.combine(today, time(0), tzinfo=STOCKHOLM).astimezone(UTC),
        "kc_dirty_marked_at": utcnow(),
    }


def _marks_insert(selects: list) -> Any:
    """INSERT … SELECT of the (day, service_id) rows of `selects` that lie before today."""
    rows = (union(*selects) if len(selects) > 1 else selects[0]).subquery()
    return insert(MetricDirtyDay).from_select(
        ["day", "service_id", "marked_at"],
        select(rows.c.day, rows.c.service_id, bindparam("kc_dirty_marked_at", type_=UTCDateTime())).where(
            rows.c.day < bindparam("kc_dirty_today", type_=Date)
        ),
    )


def _connection(session_or_connection) -> Connection:
    # Statements with parameters go to the Session's connection: a Session would take an ORM
    # insert with parameters for a bulk insert.
    if isinstance(session_or_connection, Connection):
        return session_or_connection
    return session_or_connection.connection()


def _insert_marks(session_or_connection, selects: list) -> None:
    _connection(session_or_connection).execute(_marks_insert(selects), _params())


def _with_identifier():
    return or_(*(getattr(Contact, name).isnot(None) for name in IDENTIFIERS))


def contact_marks(condition, *, repeats: bool = True) -> list:
    """SELECTs of (day, service_id) whose figures the contacts meeting `condition` are in:
    their own day, their ticket's day, and (`repeats`) the days of the tickets they repeat."""
    selects = [
        select(_day(Contact.arrived_at).label("day"), Contact.service_id.label("service_id")).where(condition),
        select(_day(Ticket.first_arrived_at).label("day"), Ticket.service_id.label("service_id"))
        .join(Contact, Contact.ticket_id == Ticket.id)
        .where(condition),
    ]
    return selects + repeat_marks(condition) if repeats else selects


def repeat_marks(condition) -> list:
    """The SELECT of (day, service_id) of the earlier days' tickets that the contacts meeting
    `condition` repeat (today's are never marked, so they are not looked for)."""
    repeated = repeated_tickets(
        and_(condition, _with_identifier()), before=bindparam("kc_dirty_today_starts", type_=UTCDateTime())
    ).subquery()
    return [select(_day(repeated.c.first_arrived_at).label("day"), repeated.c.service_id.label("service_id"))]


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

# What decides which earlier tickets a contact repeats (repeats.py): a change of an outcome
# or a time of answer leaves them as they were, so a live call's webhooks skip that search.
REPEAT_COLUMNS = ("service_id", "service", "arrived_at", *IDENTIFIERS)


def _changed(obj, columns: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in columns if name in state.attrs)


def _ids(objects, model, columns) -> list[int]:
    return [o.id for o in objects if isinstance(o, model) and o.id is not None and _changed(o, columns)]


def _before_flush(session: Session, _context, _instances) -> None:
    # As the rows are before this flush: the figures the rollups may hold.
    deleted = [o.id for o in session.deleted if isinstance(o, Contact) and o.id is not None]
    contacts = _ids(session.dirty, Contact, CONTACT_COLUMNS) + deleted
    repeating = _ids(session.dirty, Contact, REPEAT_COLUMNS) + deleted
    tickets = _ids(session.dirty, Ticket, TICKET_COLUMNS)
    deleted_tickets = [o.id for o in session.deleted if isinstance(o, Ticket) and o.id is not None]
    _mark(session, contacts, repeating, tickets, deleted_tickets)


def _after_flush(session: Session, _context) -> None:
    # As the rows are now (the lists still show what this flush wrote).
    new = [o.id for o in session.new if isinstance(o, Contact)]
    contacts = new + _ids(session.dirty, Contact, CONTACT_COLUMNS)
    repeating = new + _ids(session.dirty, Contact, REPEAT_COLUMNS)
    tickets = [o.id for o in session.new if isinstance(o, Ticket)]
    tickets += _ids(session.dirty, Ticket, TICKET_COLUMNS)
    _mark(session, contacts, repeating, tickets)


@cache
def _hook_insert(kind: str) -> Any:
    """The hook's marking statements, built once per process (building one costs more than
    running it, and every webhook's flush runs one): the rows are an expanding parameter."""
    ids = bindparam("kc_dirty_ids", expanding=True)
    if kind == "contacts":
        return _marks_insert(contact_marks(Contact.id.in_(ids), repeats=False))
    if kind == "repeats":
        return _marks_insert(repeat_marks(Contact.id.in_(ids)))
    return _marks_insert(ticket_marks(Ticket.id.in_(ids)))


def mark_new_contacts(session_or_connection, contacts: list[Contact], citizens_known: list[bool]) -> None:
    """Mark the days of contacts the intake just placed on new tickets (bulk-written, no flush
    saw them), by the hook's statements, and only where a mark can follow: a contact's own
    day and its new ticket's (the same day) when it lies before today, and the tickets it
    repeats when its citizen has an earlier ticket (`citizens_known`, routing's citizen
    history: a repeat is such a ticket) or it carries an import's citizen_key. A contact
    arriving now from a citizen new to the city marks nothing, and costs no statement."""
    today = _today()
    past = [c.id for c in contacts if c.arrived_at.astimezone(STOCKHOLM).date() < today]
    repeating = [c.id for c, known in zip(contacts, citizens_known, strict=True) if known or c.citizen_key]
    if past or repeating:
        connection = _connection(session_or_connection)
        params = _params()
        for kind, ids in (("contacts", past), ("repeats", repeating)):
            if ids:
                connection.execute(_hook_insert(kind), {**params, "kc_dirty_ids": ids})


def _mark(
    session: Session,
    contacts: list[int],
    repeating: list[int],
    tickets: list[int],
    deleted_tickets: list[int] = (),
) -> None:
    """Mark the days of these rows (`repeating`: contacts whose repeats may have changed too);
    the connection is touched only when something changed."""
    if not (contacts or tickets or deleted_tickets):
        return
    connection = session.connection()
    params = _params()
    for kind, ids in (("contacts", contacts), ("repeats", repeating), ("tickets", tickets)):
        if ids:
            connection.execute(_hook_insert(kind), {**params, "kc_dirty_ids": ids})
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
