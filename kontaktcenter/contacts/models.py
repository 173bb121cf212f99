"""The contact table: every call, SMS, form, e-mail, Open311 request and visit."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    UniqueConstraint,
    false,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import Base, utcnow
from ..directory.models import ContactReason, Location, Queue, Service, User, _in
from ..vocabulary import CHANNELS, NEEDS, OUTCOMES, REPLY_CHANNELS, WRITTEN_CHANNELS

# How a contact came to its ticket (intake/placement.py): it opened it, joined it by a
# reference or a thread its channel proves, reopened it, or staff linked it; "joined":
# joined before proof was required (not trusted as the citizen's).
PLACEMENTS = ("new", "reference", "thread", "reopen", "linked", "joined")


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', OUTCOMES)}", name="outcome"),
        CheckConstraint(_in("reply_channel", REPLY_CHANNELS), name="reply_channel"),
        CheckConstraint("answered_at IS NULL OR answered_at >= arrived_at", name="answered_after_arrival"),
        CheckConstraint("ended_at IS NULL OR ended_at >= arrived_at", name="ended_after_arrival"),
        CheckConstraint("callback_attempts >= 0", name="callback_attempts"),
        CheckConstraint(f"placement IS NULL OR {_in('placement', PLACEMENTS)}", name="placement"),
        UniqueConstraint("location_id", "queue_day", "queue_number", name="uq_contacts_queue_number"),
        Index("ix_contacts_arrived_channel", "arrived_at", "channel"),
        # The hold loop's expected wait: a queue's recently answered calls (phone.call_on_hold).
        Index("ix_contacts_queue_answered", "queue_id", "answered_at"),
        # A citizen's contacts on a service in time order: the repeat-contact rule
        # (metrics/repeats.py) and finding a citizen's earlier tickets.
        Index("ix_contacts_repeat_citizen_phone", "citizen_phone", "service_id", "arrived_at"),
        Index("ix_contacts_repeat_citizen_email", "citizen_email", "service_id", "arrived_at"),
        Index("ix_contacts_repeat_citizen_personnummer", "citizen_personnummer", "service_id", "arrived_at"),
        Index("ix_contacts_repeat_citizen_key", "citizen_key", "service_id", "arrived_at"),
        Index(
            "ix_contacts_awaiting_routing",
            "id",
            postgresql_where=text("awaiting_routing"),
            sqlite_where=text("awaiting_routing"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    # Idempotency keys: the import's external_id, and the provider's id (CallSid,
    # MessageSid, Message-ID, API Idempotency-Key). Unique in the database so a retry
    # meets an IntegrityError, never a second contact.
    external_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    provider_sid: Mapped[str | None] = mapped_column(String(200), unique=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"), index=True)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    # A walk-in visitor is called to this desk (shown on the waiting-room display with the number).
    desk: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8), default="sv")
    need_interpreter: Mapped[bool] = mapped_column(Boolean, default=False)
    need_hearing: Mapped[bool] = mapped_column(Boolean, default=False)
    need_vision: Mapped[bool] = mapped_column(Boolean, default=False)
    need_easy_read: Mapped[bool] = mapped_column(Boolean, default=False)
    interpreter_language: Mapped[str | None] = mapped_column(String(8))

    citizen_name: Mapped[str] = mapped_column(String(200), default="")
    citizen_phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    citizen_email: Mapped[str | None] = mapped_column(String(200))  # lower-case
    citizen_personnummer: Mapped[str | None] = mapped_column(String(12))  # 12 digits, validated
    # The source system's pseudonymous id of the citizen (the import's citizen_key): personal
    # data like the identifiers above, for repeat contacts only, never shown.
    citizen_key: Mapped[str | None] = mapped_column(String(128))
    reply_channel: Mapped[str] = mapped_column(String(10), default="none")
    subject: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")

    # Timestamps METRICS.md needs. arrived_at: reached a queue (phone), received
    # (written), checked in (walk-in); for an IVR drop, the start of the call.
    started_at: Mapped[datetime | None] = mapped_column()
    arrived_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(20))
    wait_seconds: Mapped[float | None] = mapped_column(Float)  # Twilio's QueueTime
    callback_completed_at: Mapped[datetime | None] = mapped_column()
    callback_attempts: Mapped[int] = mapped_column(default=0)
    first_response_at: Mapped[datetime | None] = mapped_column()
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Walk-in queue numbers, per location and local day.
    queue_day: Mapped[date | None] = mapped_column()
    queue_number: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Acknowledged by the API in queued intake; the intake worker gives it its ticket.
    awaiting_routing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    placement: Mapped[str | None] = mapped_column(String(10))  # None while awaiting routing
    # An e-mail citing a ticket it could not join: the cited ticket, shown to staff who may read both.
    mentions_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    # The contact reason (METRICS.md "Service development"), one of its service's.
    reason_id: Mapped[int | None] = mapped_column(ForeignKey("contact_reasons.id"))

    service: Mapped[Service | None] = relationship()
    queue: Mapped[Queue | None] = relationship()
    location: Mapped[Location | None] = relationship()
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    ticket: Mapped[Ticket | None] = relationship(back_populates="contacts", foreign_keys=[ticket_id])  # noqa: F821
    mentions_ticket: Mapped[Ticket | None] = relationship(foreign_keys=[mentions_ticket_id])  # noqa: F821
    reason: Mapped[ContactReason | None] = relationship()

    @property
    def needs(self) -> list[str]:
        return [n for n in NEEDS if getattr(self, f"need_{n}")]

    @needs.setter
    def needs(self, values: list[str]) -> None:
        unknown = set(values) - set(NEEDS)
        if unknown:
            raise ValueError(f"unknown need(s): {', '.join(sorted(unknown))}")
        for n in NEEDS:
            setattr(self, f"need_{n}", n in values)

    @property
    def is_written(self) -> bool:
        return self.channel in WRITTEN_CHANNELS


def same_citizen(*contacts: Contact) -> list:
    """Conditions matching contacts from the same citizen: any one of phone, e-mail or personnummer."""
    return [
        column == value
        for contact in contacts
        for column, value in (
            (Contact.citizen_phone, contact.citizen_phone),
            (Contact.citizen_email, contact.citizen_email),
            (Contact.citizen_personnummer, contact.citizen_personnummer),
        )
        if value
    ]


def citizens_ticket_ids(contact: Contact) -> Select | None:
    """The ids of the tickets of the contact's citizen (a subquery), or None for an anonymous contact.

    Queries about a citizen's tickets start here: the contacts' citizen indexes find a
    handful of rows, where starting from the tickets would read a whole service's.
    """
    citizen = same_citizen(contact)
    if not citizen:
        return None
    return select(Contact.ticket_id).where(or_(*citizen), Contact.ticket_id.is_not(None))
