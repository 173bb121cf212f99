"""Drill-down: the tickets behind a figure. Confidential tickets are counted, never listed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.orm import Session, aliased

from ..contacts.models import Contact
from ..directory.models import Department, Location, Service
from ..tickets.models import Ticket, unrestricted
from .engine import (
    TICKET_COUNTS,
    ReportQuery,
    _filter_conditions,
    contact_conditions,
    deadline_join,
    deadline_table,
    period_bounds,
    ticket_conditions,
)

CONTACT_FIGURES = (
    "phone_queued",
    "phone_short_abandoned",
    "phone_abandoned",
    "phone_answered",
    "callbacks_requested",
    "callbacks_completed",
    "written_received",
    "written_due",
    "responded_within_1wd",
    "written_late",
    "walkin_visits",
    "walkin_left_unserved",
)
DRILLABLE = CONTACT_FIGURES + TICKET_COUNTS
LIST_LIMIT = 200


@dataclass
class Drill:
    figure: str
    total: int
    confidential: int
    tickets: list[Ticket]


def _ticket_ids(query: ReportQuery, figure: str, calendar, short_abandon_seconds: float):
    s, d, loc = Service, Department, Location
    lo, hi = period_bounds(query.start, query.end)
    if figure in CONTACT_FIGURES:
        c = Contact
        wd = deadline_table(calendar, query.start, query.end)
        cond = contact_conditions(c, s, wd, query.as_of, short_abandon_seconds)
        stmt = (
            select(c.ticket_id)
            .select_from(c)
            .outerjoin(s, s.id == c.service_id)
            .outerjoin(d, d.id == s.department_id)
            .outerjoin(loc, loc.id == c.location_id)
            .outerjoin(wd, deadline_join(calendar, wd, c, d, cond["written_received"]))
            .where(
                c.arrived_at >= lo,
                c.arrived_at < hi,
                cond[figure],
                c.ticket_id.isnot(None),
                *_filter_conditions(query.filters, c, s, d, loc),
            )
        )
        return stmt
    t = Ticket
    c = aliased(Contact)
    return (
        select(t.id)
        .select_from(t)
        .outerjoin(s, s.id == t.service_id)
        .outerjoin(d, d.id == s.department_id)
        .outerjoin(c, and_(c.ticket_id == t.id, c.arrived_at == t.first_arrived_at))
        .outerjoin(loc, loc.id == c.location_id)
        .where(
            t.first_arrived_at >= lo,
            t.first_arrived_at < hi,
            ticket_conditions(t)[figure],
            *_filter_conditions(query.filters, c, s, d, loc),
        )
    )


def drill(session: Session, query: ReportQuery, figure: str, calendar, short_abandon_seconds: float) -> Drill:
    if figure not in DRILLABLE:
        raise ValueError(f"no drill-down for {figure!r}")
    query = query.with_as_of()
    ids = _ticket_ids(query, figure, calendar, short_abandon_seconds).subquery()
    in_figure = Ticket.id.in_(select(ids.c[0]))
    total, confidential = session.execute(
        select(
            func.count(distinct(Ticket.id)), func.count(distinct(Ticket.id)).filter(Ticket.confidential.is_(True))
        ).where(in_figure)
    ).one()
    tickets = session.scalars(
        # Restricted tickets (begränsning) are counted like confidential ones, never listed.
        select(Ticket)
        .where(in_figure, Ticket.confidential.is_(False), unrestricted())
        .order_by(Ticket.first_arrived_at, Ticket.id)
        .limit(LIST_LIMIT)
    ).all()
    return Drill(figure, total, confidential, list(tickets))
