"""What the phone center records beyond the contact: offers to agents and transfers.

The switchboard report (METRICS.md "Switchboard, transfers and call distribution")
counts `offers` / `offers_missed` from CallOffer and `transfers` / `transfers_completed`
from CallTransfer, grouped like the core report by the call's contact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow
from ..directory.models import _in
from .models import Contact

OFFER_RESULTS = ("answered", "missed", "withdrawn")  # withdrawn: the caller hung up or another path took the call
TRANSFER_KINDS = ("queue", "person", "external")
# Where a transfer stands: connecting (ringing the receiver, or waiting in the department
# queue), answered, unanswered (nobody answered), completed (a warm transfer the agent
# handed over), cancelled (a warm transfer the agent took back).
TRANSFER_STATUSES = ("connecting", "answered", "unanswered", "completed", "cancelled")


class CallOffer(Base):
    """The distribution rang this agent's device for this waiting call."""

    __tablename__ = "call_offers"
    __table_args__ = (
        CheckConstraint(_in("result", OFFER_RESULTS), name="result"),
        Index("ix_call_offers_open", "contact_id", "result"),
        # At most one open offer per call and per agent, however many processes distribute:
        # the database refuses a second one (channels/voice/distribution.py).
        Index(
            "uq_call_offers_open_call",
            "contact_id",
            unique=True,
            postgresql_where=text("result IS NULL"),
            sqlite_where=text("result IS NULL"),
        ),
        Index(
            "uq_call_offers_open_agent",
            "user_id",
            unique=True,
            postgresql_where=text("result IS NULL"),
            sqlite_where=text("result IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Until this moment the call is reserved for the agent; then the offer is missed.
    expires_at: Mapped[datetime] = mapped_column()
    agent_call_sid: Mapped[str | None] = mapped_column(String(64))
    # None while the offer stands.
    result: Mapped[str | None] = mapped_column(String(10))
    ended_at: Mapped[datetime | None] = mapped_column()


class CallTransfer(Base):
    """An agent transferred a live call: to a department queue, a person or an external number."""

    __tablename__ = "call_transfers"
    __table_args__ = (
        CheckConstraint(_in("kind", TRANSFER_KINDS), name="kind"),
        CheckConstraint(_in("status", TRANSFER_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(10))
    warm: Mapped[bool] = mapped_column(default=False)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    # The number dialled (a person's or an external one); masked like any phone number in logs.
    number: Mapped[str] = mapped_column(String(100), default="")
    # When the receiving side answered (None: not answered, or not yet).
    answered_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="connecting", server_default="connecting")
    # The legs a transfer moves: the agent's (a warm transfer takes it into the conference)
    # and the receiver's (dialled through the REST API; a cancelled warm transfer hangs it up).
    agent_call_sid: Mapped[str | None] = mapped_column(String(64))
    receiver_call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    ended_at: Mapped[datetime | None] = mapped_column()
    # A warm transfer the agent left before handing over (hung up, or left the conference):
    # the receiver gets the caller when they answer, else the caller goes back to the queue.
    agent_left_at: Mapped[datetime | None] = mapped_column()
    # The caller's new queue entry (transfers.requeue): in the department's queue of a queue
    # transfer, or back in the line's queue when nobody took them.
    requeued_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))


class AgentLeg(Base):
    """The agent's own call leg that was bridged to a caller (Twilio's DequeingCallSid).

    A warm transfer moves the agent's leg into a conference, so it must be known by its sid.
    """

    __tablename__ = "call_agent_legs"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    call_sid: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CallRequirement(Base):
    """What an agent needs to be offered this waiting call: a language and a service skill.

    Worked out once from the call's routing decision (routing.service.requirements) when
    the call is queued, so the distribution's one query can match calls and agents in SQL.
    """

    __tablename__ = "call_requirements"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    # None: any language (or any service) will do.
    language: Mapped[str | None] = mapped_column(String(8))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))


# Calls still open (waiting in a queue or in a conversation): a handful of rows in a table
# of millions, found by the distribution at every event (distribution.py writes the same
# predicate out so PostgreSQL can use these).
OPEN_CALL = "channel = 'phone' AND outcome IS NULL AND ended_at IS NULL"
Index(
    "ix_contacts_open_calls",
    Contact.queue_id,
    Contact.arrived_at,
    Contact.id,
    postgresql_where=text(OPEN_CALL),
    sqlite_where=text(OPEN_CALL),
)
Index(
    "ix_contacts_live_calls",
    Contact.answered_by_id,
    postgresql_where=text(OPEN_CALL),
    sqlite_where=text(OPEN_CALL),
)
