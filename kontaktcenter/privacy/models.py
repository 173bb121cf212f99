"""The gallring record: what gallring did, under which rule — never the personal data itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow


class GallringRecord(Base):
    __tablename__ = "gallring_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The "now" gallring ran at (the job's fire time or the command's --now).
    at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Codes and counts only: which service, under which rule, how many rows.
    service_code: Mapped[str] = mapped_column(String(60))
    rule: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(10))
    tickets: Mapped[int] = mapped_column(default=0)
    contacts: Mapped[int] = mapped_column(default=0)
