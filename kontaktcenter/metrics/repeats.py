"""Repeat contacts (METRICS.md): the same citizen, recognised by any one identifier
(normalised phone, e-mail, personnummer or the import's citizen_key), on the same service.

The one place the rule is written as SQL, for its two uses:
- the first-contact resolution's 7-day rule (METRICS.md "Resolution"): a later contact of
  the ticket's citizen (its first contact's) arriving after the resolution and at most
  168 h after it takes the ticket out of resolved_first_contact (`has_repeat`); a new
  contact marks the earlier ticket's day dirty (`repeated_tickets`);
- the service-development report's repeat contacts (METRICS.md "Service development"): a
  contact arriving at most 168 h after an earlier contact of the same citizen (`is_repeat`,
  and `repeat_ids`, the same rule by sorting for a whole report).
Contacts without any identifier never repeat. The indexes (identifier, service_id,
arrived_at) make each identifier one index probe or one ordered scan.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, union
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ..contacts.models import Contact
from ..tickets.models import Ticket
from .sqlfuncs import bytewise, plus_seconds, seconds_between

# Stored normalised (E.164, lower-case e-mail, 12-digit personnummer), so equal means same.
IDENTIFIERS = ("citizen_phone", "citizen_email", "citizen_personnummer", "citizen_key")
REPEAT_WINDOW_SECONDS = 168 * 3600  # 7 days


def _later(ticket, first, later, identifier: str) -> Any:
    """`later` is a repeat contact of `ticket`, whose first contact is `first`, by `identifier`."""
    return and_(
        getattr(later, identifier) == getattr(first, identifier),
        later.service_id == ticket.service_id,
        later.arrived_at > ticket.resolved_at,
        later.arrived_at <= plus_seconds(ticket.resolved_at, REPEAT_WINDOW_SECONDS),
    )


def _first(ticket, first) -> Any:
    """`first` is the first contact of `ticket` (whose citizen it is)."""
    return and_(first.ticket_id == ticket.id, first.arrived_at == ticket.first_arrived_at)


def repeat_of(ticket, first, later, identifier: str) -> Any:
    """`later` (a Contact alias) is a repeat contact of `ticket`, whose first contact is
    `first`, by `identifier` (a NULL identifier never matches). The four identifiers are
    asked one at a time, each with its own index; a contact repeats if any one matches."""
    return and_(_first(ticket, first), _later(ticket, first, later, identifier))


def has_repeat(ticket) -> Any:
    """SQL: `ticket` (Ticket or an alias) has a repeat contact.

    The first contact is found once (by ticket id); then one index probe per identifier
    it has.
    """
    first = aliased(Contact, name="repeat_first")
    later = aliased(Contact, name="repeat_later")
    probes = [
        and_(
            getattr(first, name).isnot(None),
            exists(select(1).select_from(later).where(_later(ticket, first, later, name)).correlate(ticket, first)),
        )
        for name in IDENTIFIERS
    ]
    return exists(select(1).select_from(first).where(_first(ticket, first), or_(*probes)).correlate(ticket))


def repeated_tickets(contact_condition, *, before: Any = None) -> Any:
    """SELECT of the tickets (id, first_arrived_at, service_id) that the contacts meeting
    `contact_condition` (on Contact) are repeat contacts of: from each contact through its
    citizen's other contacts (the identifier's index) to their tickets; with `before`, only
    tickets whose first contact arrived before it (the citizen's later contacts are not walked)."""
    first = aliased(Contact, name="repeat_first")
    ticket = aliased(Ticket, name="repeated")
    return union(
        *(
            select(ticket.id, ticket.first_arrived_at, ticket.service_id)
            .select_from(Contact)
            .join(first, and_(getattr(first, name) == getattr(Contact, name), *_before(first, before)))
            .join(ticket, repeat_of(ticket, first, Contact, name))
            .where(contact_condition)
            for name in IDENTIFIERS
        )
    )


def _before(first, moment: Any) -> list:
    return [] if moment is None else [first.arrived_at < moment]


# -- the service-development report's repeat contacts --


def identified(c) -> ColumnElement[bool]:
    """The contact carries at least one identifier (contacts without one never repeat)."""
    return or_(*(getattr(c, name).is_not(None) for name in IDENTIFIERS))


def same_citizen(a, b) -> ColumnElement[bool]:
    """Contacts `a` and `b` (two aliases of Contact) come from the same citizen: they share
    any one identifier. A missing identifier matches nothing (NULL = NULL is not true)."""
    return or_(*(getattr(a, name) == getattr(b, name) for name in IDENTIFIERS))


def earlier(a, b) -> ColumnElement[bool]:
    """`b` came before `a`: arrived earlier, or at the same moment with a lower id (so of two
    contacts at one instant exactly one is the earlier)."""
    return or_(b.arrived_at < a.arrived_at, and_(b.arrived_at == a.arrived_at, b.id < a.id))


def is_repeat(c, *, not_before=None) -> ColumnElement[bool]:
    """`c` (an alias of Contact) arrived within 168 h after an earlier contact of the same
    citizen on the same service. `not_before` (a time) lets the database skip older rows:
    the report passes its period's start minus the window."""
    earlier_contact = Contact.__table__.alias("earlier_contact")
    e = earlier_contact.c
    conditions = [
        e.service_id == c.service_id,
        same_citizen(c, e),
        earlier(c, e),
        seconds_between(c.arrived_at, e.arrived_at) <= REPEAT_WINDOW_SECONDS,
    ]
    if not_before is not None:
        conditions.append(e.arrived_at >= not_before)
    return and_(c.service_id.is_not(None), identified(c), exists(select(1).where(*conditions)))


def repeat_ids(lo, hi, services=None):
    """The ids of the contacts arriving in [lo, hi) that are repeats, as one subquery: the
    same rule as is_repeat, computed by sorting instead of a lookup per contact.

    For each identifier, the contacts sharing it on one service are ordered by arrival
    (ties by id, as in `earlier`); a contact repeats when its predecessor in any of those
    orders arrived at most 168 h before it. That is same_citizen's "any one identifier",
    one identifier at a time: the predecessor is the latest earlier contact sharing it.
    `services` (a subquery of service ids) narrows the sorting to a report's services:
    exact, since a repeat is always on the same service.
    """
    c = Contact.__table__
    selects = []
    for name in IDENTIFIERS:
        column = c.c[name]
        previous = func.lag(c.c.arrived_at).over(
            partition_by=(c.c.service_id, bytewise(column)), order_by=(c.c.arrived_at, c.c.id)
        )
        ordered = (
            select(c.c.id, c.c.arrived_at, previous.label("previous_at"))
            .where(
                column.is_not(None),
                c.c.service_id.is_not(None),
                c.c.arrived_at >= lo - timedelta(seconds=REPEAT_WINDOW_SECONDS),
                c.c.arrived_at < hi,
                *([c.c.service_id.in_(services)] if services is not None else []),
            )
            .subquery(f"by_{name}")
        )
        selects.append(
            select(ordered.c.id).where(
                ordered.c.arrived_at >= lo,
                ordered.c.previous_at.is_not(None),
                seconds_between(ordered.c.arrived_at, ordered.c.previous_at) <= REPEAT_WINDOW_SECONDS,
            )
        )
    return union(*selects).subquery("repeats")
