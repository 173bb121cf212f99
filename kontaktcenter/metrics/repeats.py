"""Repeat contacts (METRICS.md): the same citizen, recognised by any one identifier.

The one place the citizen matching is written as SQL: the service-development report's
repeat contacts and the first-contact resolution's 7-day rule both build on it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, exists, func, or_, select, union
from sqlalchemy.sql.elements import ColumnElement

from ..contacts.models import Contact
from .sqlfuncs import bytewise, seconds_between

REPEAT_WINDOW_SECONDS = 168 * 3600  # 7 days

# The identifiers that tell a citizen: normalised phone (E.164), e-mail (lower-case),
# personnummer (12 digits) and the import's citizen_key; stored normalised, so equal means same.
IDENTIFIERS = ("citizen_phone", "citizen_email", "citizen_personnummer", "citizen_key")


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
