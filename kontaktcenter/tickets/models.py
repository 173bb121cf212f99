"""Tables of tickets (ärenden), their messages and their event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String, Text, event, true
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, relationship

from ..contacts.models import Contact
from ..database import Base, utcnow
from ..directory.models import Queue, Service, User, _in
from ..vocabulary import OPEN_STATUSES, REPLY_CHANNELS, RESOLUTIONS, STATUSES

KINDS = ("errand", "callback")
MESSAGE_KINDS = ("reply", "inbound", "note")
REFERENCE_PATTERN = r"^KC-\d{4}-\d{6,}$"


class ReferenceCounter(Base):
    """The last reference number handed out per year (KC-<year>-<n>)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("resolution", RESOLUTIONS), name="resolution"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint("priority BETWEEN 0 AND 9", name="priority"),
        CheckConstraint(_in("reply_channel", REPLY_CHANNELS), name="reply_channel"),
        CheckConstraint("(status = 'resolved') = (resolved_at IS NOT NULL)", name="resolved_at_iff_resolved"),
        Index("ix_tickets_queue_status", "queue_id", "status", "assignee_id"),
        Index("ix_tickets_first_arrived", "first_arrived_at"),
        # The console's list: a queue's tickets, most urgent and oldest first (casework/workspace.py).
        Index("ix_tickets_queue_priority_arrived", "queue_id", "priority", "first_arrived_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="errand")
    status: Mapped[str] = mapped_column(String(20), default="new")
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"), index=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The agent who took the first contact may read a confidential ticket (OSL).
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # 0 = lowest … 9 = most urgent.
    priority: Mapped[int] = mapped_column(default=3)
    # Copied from the service when created, so lists can mask without a join.
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    subject: Mapped[str] = mapped_column(String(300), default="")
    # A ticket belongs to the period of its first contact's arrived_at (METRICS.md).
    first_arrived_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str] = mapped_column(String(20), default="unresolved")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    reopened_count: Mapped[int] = mapped_column(default=0)
    # Routing: current step of an ordered route_to list, and when it times out.
    route_step: Mapped[int] = mapped_column(default=0)
    route_step_due_at: Mapped[datetime | None] = mapped_column()
    # SLA clocks (working time). Paused while waiting for the citizen.
    first_response_due_at: Mapped[datetime | None] = mapped_column()
    accept_due_at: Mapped[datetime | None] = mapped_column()
    resolve_due_at: Mapped[datetime | None] = mapped_column()
    sla_paused_at: Mapped[datetime | None] = mapped_column()
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where replies go: the citizen's own choice when the ticket was opened (or when a
    # contact joined by proof gave the first one); changed only by a logged staff action.
    reply_channel: Mapped[str] = mapped_column(String(10), default="none", server_default="none")
    reply_to: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Given to the citizen on the receipt: with the reference it shows the ticket's status.
    receipt_code: Mapped[str | None] = mapped_column(String(12))
    # Gallring: a staff hold (the reason; empty = none) keeps the ticket's personal data
    # past its retention period; gallrad_at says when gallring emptied it.
    retention_hold: Mapped[str] = mapped_column(String(300), default="", server_default="")
    gallrad_at: Mapped[datetime | None] = mapped_column()
    # Begränsning (GDPR art. 18, privacy/rights.py): the reason processing is restricted
    # (empty = not restricted). A restricted ticket is kept but left out of search, lists,
    # queues and drill-downs; only a direct read by its readers remains, and is logged.
    restriction: Mapped[str] = mapped_column(String(300), default="", server_default="")

    service: Mapped[Service | None] = relationship()
    queue: Mapped[Queue] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    taken_by: Mapped[User | None] = relationship(foreign_keys=[taken_by_id])
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="ticket", order_by=Contact.arrived_at, foreign_keys=[Contact.ticket_id]
    )
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.created_at", cascade="all, delete-orphan"
    )
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def restricted(self) -> bool:
        return bool(self.restriction)


def unrestricted():
    """The condition every list, search, queue and drill-down of tickets carries (begränsning)."""
    return Ticket.restriction == ""


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (CheckConstraint(_in("kind", MESSAGE_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    # reply: to the citizen; inbound: from the citizen; note: internal, never sent.
    kind: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(10), default="")
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # An automatic receipt is not a first response (METRICS.md).
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient: Mapped[str] = mapped_column(String(200), default="")
    provider_sid: Mapped[str | None] = mapped_column(String(200), unique=True)
    delivery_status: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()


class TicketEvent(Base):
    """Every change of a ticket: who, when, what, from → to."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    from_value: Mapped[str | None] = mapped_column(String(200))
    to_value: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class AccessLog(Base):
    """Access to personal data (tickets/access.py): reads of confidential or restricted
    tickets, reads outside one's own work (with the reason), identifier searches, API reads,
    exports, dataskydd actions and denied attempts. Append-only (privacy/accesslog.py):
    the application never updates or deletes a row, except the log's own retention job.
    Kept when the ticket goes (gallring): the row then names no ticket."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Who: a staff user, or an API token (API and Open311 reads); neither for an
    # anonymous Open311 read.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(40), default="read")
    allowed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # What was searched for (masked), or the reference a denied attempt asked for.
    detail: Mapped[str] = mapped_column(String(200), default="", server_default="")

    user: Mapped[User | None] = relationship()


# -- the access log is append-only ------------------------------------------------------
# Execution options that let through the two changes the application itself makes: the
# log's own retention job deleting rows past ACCESS_LOG_RETENTION (privacy/accesslog.py),
# and moving rows to the ticket a linked contact joined (intake/placement.py). On
# PostgreSQL a trigger (migration 0021_dataskydd) refuses everything else, raw SQL too.
RETENTION_OPTION = "access_log_retention"
RELINK_OPTION = "access_log_relink"


class AppendOnlyError(RuntimeError):
    """Something tried to change or remove an access-log row."""


@event.listens_for(Session, "before_flush")
def _access_log_rows_stay(session: Session, _context, _instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, AccessLog):
            raise AppendOnlyError("the access log is append-only: a row cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AccessLog) and session.is_modified(obj):
            raise AppendOnlyError("the access log is append-only: a row cannot be changed")


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_change(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) != AccessLog.__tablename__:
        return
    allowed = RETENTION_OPTION if state.is_delete else RELINK_OPTION
    if not state.execution_options.get(allowed):
        raise AppendOnlyError(f"the access log is append-only: {'DELETE' if state.is_delete else 'UPDATE'} refused")
