"""METRICS.md's figures as pure functions of contacts, tickets and events.

Walking-skeleton version: ticket resolution figures per service. The reports issue
extends this module to every figure and grouping.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ..directory.models import Service
from ..tickets.models import Ticket

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def rate(numerator: int, denominator: int) -> float | None:
    """A fraction with 4 decimals; empty (None), never 0, when the denominator is 0."""
    if not denominator:
        return None
    return round(numerator / denominator, 4)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Local dates, both ends included → [start 00:00, day after end 00:00) in Stockholm time."""
    return (
        datetime.combine(start, time(0), STOCKHOLM),
        datetime.combine(end + timedelta(days=1), time(0), STOCKHOLM),
    )


@dataclass
class ResolutionRow:
    service: str
    tickets: int
    resolved_first_contact: int
    resolved_kontaktcenter: int
    escalated: int

    @property
    def fcr_rate(self) -> float | None:
        return rate(self.resolved_first_contact, self.tickets)

    @property
    def kc_resolution_rate(self) -> float | None:
        return rate(self.resolved_kontaktcenter, self.tickets)

    @property
    def escalation_rate(self) -> float | None:
        return rate(self.escalated, self.tickets)


def resolution_by_service(session: Session, start: date, end: date) -> list[ResolutionRow]:
    lo, hi = period_bounds(start, end)
    by_kc = and_(Ticket.resolution.in_(("first_contact", "kontaktcenter")), Ticket.escalated.is_(False))
    fcr = and_(Ticket.resolution == "first_contact", Ticket.escalated.is_(False))
    rows = session.execute(
        select(
            func.coalesce(Service.code, ""),
            func.count(Ticket.id),
            func.sum(case((fcr, 1), else_=0)),
            func.sum(case((by_kc, 1), else_=0)),
            func.sum(case((Ticket.escalated, 1), else_=0)),
        )
        .select_from(Ticket)
        .outerjoin(Service, Service.id == Ticket.service_id)
        .where(Ticket.first_arrived_at >= lo, Ticket.first_arrived_at < hi)
        .group_by(Service.code)
        .order_by(Service.code)
    ).all()
    return [ResolutionRow(code, n, int(f or 0), int(k or 0), int(e or 0)) for code, n, f, k, e in rows]
