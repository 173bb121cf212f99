"""The switchboard directory: the city's employees, not only the system's users.

Filled from an HR export (`kontaktcenter directory import-staff`), kept by each
department's coordinators. `employee_id` is the HR system's key, so a re-import
updates a person instead of adding them twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import Base, utcnow
from ..directory.models import Department, _in

# Expression indexes the migrations make on PostgreSQL only; the models-vs-migrations
# comparison leaves them out (SQLite cannot have them, SQLAlchemy cannot declare them per dialect).
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_staff_members_search_trgm", "ix_staff_members_name_trgm"})


class StaffMember(Base):
    __tablename__ = "staff_members"
    # The search's trigram indexes are PostgreSQL's own (migration 0029; only where
    # pg_trgm could be created), so they are not declared here: POSTGRESQL_ONLY_INDEXES.
    __table_args__ = (Index("ix_staff_members_department_active", "department_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    unit: Mapped[str] = mapped_column(String(200), default="")
    # E.164 number, `sip:user@host` or `client:id`: what a transfer dials.
    phone: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    # "vem svarar på frågor om …": words a caller or an agent may search by.
    keywords: Mapped[str] = mapped_column(Text, default="")
    # Absence notice (hänvisning): away until, the message, and who to ask instead.
    absent_until: Mapped[datetime | None] = mapped_column()
    absence_message: Mapped[str] = mapped_column(Text, default="")
    alternative_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    department: Mapped[Department | None] = relationship()
    alternative: Mapped[StaffMember | None] = relationship(remote_side=[id], foreign_keys=[alternative_id])

    def is_absent(self, at: datetime) -> bool:
        return self.absent_until is not None and at < self.absent_until

    @property
    def absent(self) -> bool:
        """An absence notice is in force now (search results flag it)."""
        return self.is_absent(utcnow())


REQUEST_VIA = ("speech", "digit", "agent")


class SwitchboardRequest(Base):
    """A call on the general line that asked for a person (METRICS.md `switchboard_calls`)."""

    __tablename__ = "switchboard_requests"
    __table_args__ = (CheckConstraint(_in("via", REQUEST_VIA), name="via"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    via: Mapped[str] = mapped_column(String(10))
    # Who was asked for (None: no confident match) and whom the call was connected to
    # (the person or the alternative their absence notice names; None: not connected).
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    connected_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    connected_at: Mapped[datetime | None] = mapped_column()

    contact: Mapped[Contact] = relationship()  # noqa: F821 - the contacts' model, by its registry name
    staff_member: Mapped[StaffMember | None] = relationship(foreign_keys=[staff_member_id])
    connected_to: Mapped[StaffMember | None] = relationship(foreign_keys=[connected_to_id])
