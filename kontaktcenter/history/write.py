"""Writing historical contacts in bulk: the demo's generated history and the CSV import.

Historical contacts were routed by another system, so they are not routed again: a
ticket escalated to a department lands in that department's queue (if it has one), a
visit in local service, everything else in the first line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..directory.models import ContactReason, Department, Location, Queue, Service
from ..metrics.dirty import mark_contacts
from ..tickets.models import Ticket, TicketEvent
from ..tickets.references import format_reference, next_reference_numbers
from ..tickets.service import event_values
from ..vocabulary import NEEDS
from .bulk import insert_rows

MARK_CHUNK = 5000  # ticket ids per statement that marks dirty days


@dataclass
class HistoryRow:
    """One validated row of METRICS.md's import format, codes resolved to values."""

    external_id: str
    channel: str
    service_code: str
    arrived_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    callback_completed_at: datetime | None = None
    first_response_at: datetime | None = None
    resolution: str = "unresolved"
    resolved_at: datetime | None = None
    escalated_to: str | None = None
    language: str = "sv"
    needs: list[str] = field(default_factory=list)
    location_code: str | None = None
    citizen_key: str | None = None
    reason_code: str | None = None


class Directory:
    """Codes → ids, looked up once per bulk write."""

    def __init__(self, session: Session):
        self.services = {s.code: s for s in session.scalars(select(Service))}
        self.locations = {code: id_ for code, id_ in session.execute(select(Location.code, Location.id))}
        self.departments = {code: id_ for code, id_ in session.execute(select(Department.code, Department.id))}
        # service code → {reason code → id}, retired reasons too (history may name them).
        self.reasons: dict[str, dict[str, int]] = {}
        for service_code, reason_code, reason_id in session.execute(
            select(Service.code, ContactReason.code, ContactReason.id)
            .join(ContactReason.service)
            .order_by(ContactReason.id)
        ):
            self.reasons.setdefault(service_code, {})[reason_code] = reason_id
        queues = session.scalars(select(Queue).order_by(Queue.id)).all()
        self.queue_ids = {q.code: q.id for q in queues}
        self.department_queue: dict[int, int] = {}
        for q in queues:
            if q.kind == "department":
                self.department_queue.setdefault(q.department_id, q.id)

    def queue_for(self, row: HistoryRow) -> int:
        # A department without a queue of its own leaves the ticket where the kontaktcenter keeps it.
        queue = self.department_queue.get(self.departments[row.escalated_to]) if row.escalated_to else None
        if queue is not None:
            return queue
        if row.channel == "walk_in":
            return self.queue_ids["kc-lokal-service"]
        return self.queue_ids["kc-forsta-linjen"]


def _reason_id(directory: Directory, row: HistoryRow) -> int | None:
    return directory.reasons[row.service_code][row.reason_code] if row.reason_code else None


def write_history(session: Session, rows: Iterable[HistoryRow], directory: Directory | None = None) -> int:
    """Insert contacts, tickets and their events in bulk; returns the number written."""
    rows = list(rows)
    if not rows:
        return 0
    directory = directory or Directory(session)
    references: dict[int, Iterator[int]] = {}
    for year in sorted({r.arrived_at.year for r in rows}):
        count = sum(1 for r in rows if r.arrived_at.year == year)
        references[year] = iter(next_reference_numbers(session, year, count))
    ticket_values = []
    for row in rows:
        service = directory.services[row.service_code]
        resolved = row.resolved_at is not None
        ticket_values.append(
            {
                "reference": format_reference(row.arrived_at.year, next(references[row.arrived_at.year])),
                "kind": "errand",
                "status": "resolved" if resolved else ("escalated" if row.escalated_to else "open"),
                "service_id": service.id,
                "queue_id": directory.queue_for(row),
                "priority": 3,
                "confidential": service.confidential,
                "first_arrived_at": row.arrived_at,
                "created_at": row.arrived_at,
                "updated_at": row.resolved_at or row.arrived_at,
                "resolved_at": row.resolved_at,
                "resolution": row.resolution if resolved else "unresolved",
                "escalated": row.escalated_to is not None,
                "reopened_count": 0,
                "route_step": 0,
                "sla_breached": False,
            }
        )
    ticket_ids = insert_rows(session, Ticket.__table__, ticket_values, return_ids=True)
    contact_values = []
    events = []
    for row, ticket_id, tv in zip(rows, ticket_ids, ticket_values, strict=True):
        wait = None
        if row.channel == "phone" and row.outcome not in (None, "ivr_dropped"):
            end = row.answered_at if row.outcome == "answered" else row.ended_at
            wait = (end - row.arrived_at).total_seconds() if end else None
        contact_values.append(
            {
                "channel": row.channel,
                "ticket_id": ticket_id,
                "external_id": row.external_id,
                "service_id": directory.services[row.service_code].id,
                "queue_id": tv["queue_id"],
                "location_id": directory.locations.get(row.location_code) if row.location_code else None,
                "language": row.language,
                **{f"need_{n}": n in row.needs for n in NEEDS},
                "reply_channel": "none",
                "placement": "new",  # one imported row, one ticket
                "arrived_at": row.arrived_at,
                "answered_at": row.answered_at,
                "ended_at": row.ended_at,
                "outcome": row.outcome,
                "wait_seconds": wait,
                "callback_completed_at": row.callback_completed_at,
                "callback_attempts": 1 if row.callback_completed_at else 0,
                "first_response_at": row.first_response_at,
                "created_at": row.arrived_at,
                "citizen_name": "",
                "citizen_key": row.citizen_key,
                "reason_id": _reason_id(directory, row),
                "subject": "",
                "text": "",
            }
        )
        events.append({"ticket_id": ticket_id, **event_values("imported", at=row.arrived_at, to_value=row.external_id)})
        if row.escalated_to:
            at = row.first_response_at or row.arrived_at
            events.append({"ticket_id": ticket_id, **event_values("escalated", at=at, to_value=row.escalated_to)})
        if row.resolved_at:
            events.append(
                {"ticket_id": ticket_id, **event_values("resolution", at=row.resolved_at, to_value=tv["resolution"])}
            )
    insert_rows(session, Contact.__table__, contact_values)
    insert_rows(session, TicketEvent.__table__, events)
    # Past days' figures changed (their rollups may be computed already), and the new
    # contacts may be repeat contacts of earlier tickets: marked in this transaction.
    for at in range(0, len(ticket_ids), MARK_CHUNK):
        mark_contacts(session, Contact.ticket_id.in_(ticket_ids[at : at + MARK_CHUNK]))
    return len(rows)
