"""Tables of casework: escalations with their handover, knowledge base, access log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, and_, bindparam, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import Base, utcnow
from ..directory.models import Department, Service, User, _in
from ..tickets.models import Ticket, unrestricted

URGENCIES = ("low", "normal", "high", "urgent")
# What "take next" hands out: unassigned tickets that are waiting for someone to act.
CLAIMABLE_STATUSES = ("new", "open", "escalated")


def claimable():
    """The condition of a ticket "take next" may hand out.

    The statuses are rendered as literals: psycopg prepares a statement after a few runs,
    and PostgreSQL's generic plan for a bound parameter cannot use the partial index below.
    """
    statuses = bindparam("claimable_statuses", list(CLAIMABLE_STATUSES), expanding=True, literal_execute=True)
    return and_(Ticket.assignee_id.is_(None), Ticket.status.in_(statuses), unrestricted())


# The waiting tickets in "take next" order, so a claim reads the head of this index
# instead of sorting the whole backlog (a FOR UPDATE query cannot use a top-N sort).
_CLAIMABLE_SQL = text("assignee_id IS NULL AND status IN ('new', 'open', 'escalated')")
Index(
    "ix_tickets_claimable",
    Ticket.priority.desc(),
    Ticket.first_arrived_at,
    Ticket.id,
    postgresql_where=_CLAIMABLE_SQL,
    sqlite_where=_CLAIMABLE_SQL,
)


class Escalation(Base):
    """A ticket handed from the kontaktcenter to a department, with a structured handover."""

    __tablename__ = "escalations"
    __table_args__ = (CheckConstraint(_in("urgency", URGENCIES), name="urgency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    from_queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    to_queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    citizen_wants: Mapped[str] = mapped_column(Text)
    done_so_far: Mapped[str] = mapped_column(Text, default="")
    how_to_reach: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[str] = mapped_column(String(10), default="normal")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column()
    returned_at: Mapped[datetime | None] = mapped_column()
    return_reason: Mapped[str] = mapped_column(Text, default="")

    department: Mapped[Department] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id])


class KnowledgeArticle(Base):
    """A short answer the contact center may give, kept by the department's coordinator."""

    __tablename__ = "knowledge_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    service: Mapped[Service] = relationship()
