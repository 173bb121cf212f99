"""Tables of routing: the stored decision behind every ticket, and refused rule sets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import Base, utcnow


class RoutingDecision(Base):
    """Why a ticket went where it went: computed once, stored, shown and explained."""

    __tablename__ = "routing_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(120))
    ruleset_version: Mapped[str] = mapped_column(String(64))
    queue_code: Mapped[str] = mapped_column(String(60))
    # The attribute values the rules saw, and for each earlier rule why it did not match.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    trace: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # What the rule asked for, kept with the decision so a later rule change cannot alter
    # a ticket's route halfway: the ordered targets with their timeouts, and the overrides.
    targets: Mapped[list[Any]] = mapped_column(JSON, default=list)
    priority: Mapped[int | None] = mapped_column()
    skills: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sla: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship()  # noqa: F821
    contact: Mapped[Contact | None] = relationship()  # noqa: F821


class RuleSetRefusal(Base):
    """A rule-set change that failed validation and was not put in force."""

    __tablename__ = "ruleset_refusals"
    # Every worker notices the same bad change; the first one records it.
    __table_args__ = (UniqueConstraint("version", name="uq_ruleset_refusals_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[str] = mapped_column(String(64))
    errors: Mapped[str] = mapped_column(Text)
    directory: Mapped[str] = mapped_column(String(500), default="")
