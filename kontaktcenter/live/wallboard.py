"""The wallboard's figures per queue: who waits now, who is free, and today's answered calls
and service level, counted by METRICS.md's definitions (metrics/engine.contact_conditions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Date, and_, case, column, func, select, table
from sqlalchemy.orm import Session

from ..channels.voice.calls import _pending_callback, _waiting
from ..contacts.models import Contact
from ..directory.models import Queue, Service, User, user_queues
from ..metrics.engine import contact_conditions, period_bounds, rate
from ..tickets.models import Ticket
from ..vocabulary import OPEN_STATUSES
from ..worktime.calendar import STOCKHOLM

# Agents as the wallboard shows them; "offline" staff are not counted at all.
SHOWN_PRESENCE = ("available", "busy", "away")
# contact_conditions also defines the written channels' figures, which join the day's
# deadline table; the wallboard counts calls only, so the columns are named, never read.
_NO_DEADLINES = table("deadlines", column("deadline_day", Date), column("midnight", Boolean))


@dataclass(frozen=True)
class QueueFigures:
    queue: Queue
    waiting: int
    longest_wait_seconds: int | None
    callbacks_pending: int
    agents_free: int
    agents_busy: int
    agents_away: int
    answered_today: int
    offered_today: int
    answered_within_target_today: int
    service_level_today: float | None  # None: no call offered yet today (never shown as 0 %)
    service_level_target: float

    @property
    def below_target(self) -> bool:
        return self.service_level_today is not None and self.service_level_today < self.service_level_target


def _count(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def figures(
    session: Session,
    queues: list[Queue],
    at: datetime,
    *,
    max_callback_attempts: int,
    short_abandon_seconds: float,
    service_level_target: float,
) -> list[QueueFigures]:
    """One row per queue, in the order given."""
    ids = [q.id for q in queues]
    if not ids:
        return []
    waiting = {
        q: (n, oldest)
        for q, n, oldest in session.execute(
            select(Contact.queue_id, func.count(Contact.id), func.min(Contact.arrived_at))
            .where(Contact.queue_id.in_(ids), _waiting())
            .group_by(Contact.queue_id)
        )
    }
    callbacks = dict(
        session.execute(
            select(Ticket.queue_id, func.count(Contact.id))
            .join(Contact, Contact.ticket_id == Ticket.id)
            .where(_pending_callback(max_callback_attempts), Ticket.status.in_(OPEN_STATUSES), Ticket.queue_id.in_(ids))
            .group_by(Ticket.queue_id)
        ).all()
    )
    agents: dict[tuple[int, str], int] = {
        (q, p): n
        for q, p, n in session.execute(
            select(user_queues.c.queue_id, User.presence, func.count(User.id))
            .join(User, User.id == user_queues.c.user_id)
            .where(user_queues.c.queue_id.in_(ids), User.active.is_(True), User.presence.in_(SHOWN_PRESENCE))
            .group_by(user_queues.c.queue_id, User.presence)
        )
    }
    # "Today": the local (Stockholm) day of `at`, by arrival, as every report period.
    today = at.astimezone(STOCKHOLM).date()
    lo, hi = period_bounds(today, today)
    cond = contact_conditions(Contact, Service, _NO_DEADLINES, at, short_abandon_seconds)
    today_rows = {
        row.queue_id: row
        for row in session.execute(
            select(
                Contact.queue_id,
                _count(cond["phone_queued"]).label("queued"),
                _count(cond["phone_short_abandoned"]).label("short"),
                _count(cond["phone_answered"]).label("answered"),
                _count(cond["answered_within_target"]).label("within"),
            )
            .select_from(Contact)
            .outerjoin(Service, Service.id == Contact.service_id)
            .where(and_(Contact.queue_id.in_(ids), Contact.arrived_at >= lo, Contact.arrived_at < hi))
            .group_by(Contact.queue_id)
        )
    }
    out = []
    for q in queues:
        n, oldest = waiting.get(q.id, (0, None))
        row = today_rows.get(q.id)
        offered = int(row.queued - row.short) if row else 0
        within = int(row.within) if row else 0
        out.append(
            QueueFigures(
                queue=q,
                waiting=int(n),
                longest_wait_seconds=max(0, int((at - oldest).total_seconds())) if oldest else None,
                callbacks_pending=int(callbacks.get(q.id, 0)),
                agents_free=agents.get((q.id, "available"), 0),
                agents_busy=agents.get((q.id, "busy"), 0),
                agents_away=agents.get((q.id, "away"), 0),
                answered_today=int(row.answered) if row else 0,
                offered_today=offered,
                answered_within_target_today=within,
                service_level_today=rate(within, offered),
                service_level_target=service_level_target,
            )
        )
    return out


def minutes_seconds(seconds: int | None) -> str:
    """A wait as the wall shows it: 4:05 (minutes:seconds), 1:02:03 past an hour, – for none."""
    if seconds is None:
        return "–"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
