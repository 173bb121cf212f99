"""Daily rollups of the additive metric counts, written by the nightly job."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow


class MetricRollup(Base):
    """The additive counts of one local day for one combination of group codes.

    Only sums and counts live here; the median and the 90th percentile cannot be
    summed and are always computed from the contact rows (engine.FROM_RAW_ROWS).
    """

    __tablename__ = "metric_rollups"
    __table_args__ = (
        UniqueConstraint(
            "day", "service", "department", "channel", "location", "language", name="uq_metric_rollups_group"
        ),
        Index("ix_metric_rollups_day", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column()
    service: Mapped[str] = mapped_column(String(60), default="")
    department: Mapped[str] = mapped_column(String(40), default="")
    channel: Mapped[str] = mapped_column(String(10), default="")
    location: Mapped[str] = mapped_column(String(60), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    phone_queued: Mapped[int] = mapped_column(Integer, default=0)
    phone_short_abandoned: Mapped[int] = mapped_column(Integer, default=0)
    phone_answered: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_requested: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_completed: Mapped[int] = mapped_column(Integer, default=0)
    answered_within_target: Mapped[int] = mapped_column(Integer, default=0)
    answered_wait_sum: Mapped[float] = mapped_column(Float, default=0)
    aht_sum: Mapped[float] = mapped_column(Float, default=0)
    aht_n: Mapped[int] = mapped_column(Integer, default=0)
    written_received: Mapped[int] = mapped_column(Integer, default=0)
    written_due: Mapped[int] = mapped_column(Integer, default=0)
    responded_within_1wd: Mapped[int] = mapped_column(Integer, default=0)
    walkin_visits: Mapped[int] = mapped_column(Integer, default=0)
    walkin_wait_sum: Mapped[float] = mapped_column(Float, default=0)
    walkin_served_n: Mapped[int] = mapped_column(Integer, default=0)
    walkin_left_unserved: Mapped[int] = mapped_column(Integer, default=0)
    tickets: Mapped[int] = mapped_column(Integer, default=0)
    resolved_first_contact: Mapped[int] = mapped_column(Integer, default=0)
    resolved_kontaktcenter: Mapped[int] = mapped_column(Integer, default=0)
    escalated: Mapped[int] = mapped_column(Integer, default=0)


class MetricRollupDay(Base):
    """A local day whose rollup rows are complete, and when they were computed."""

    __tablename__ = "metric_rollup_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportExport(Base):
    """A dashboard export made in the background: its progress, then its file.

    Kept in the database, not on a web host's disk, so any web process shows the
    progress and serves the file. The link's token is stored only as its SHA-256
    hash: a copy of the table does not hand out working download links.
    """

    __tablename__ = "report_exports"
    __table_args__ = (Index("ix_report_exports_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(10))
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued, running, done, failed
    progress: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


class MetricDirtyDay(Base):
    """A past local day whose figures changed after its rollup may have been computed.

    Written in the same transaction as the change (metrics/dirty.py); the report counts
    a dirty day from the rows, and the rollup job recomputes it and deletes the marks it
    handled. The service is kept for the reader (None when unknown); a mark makes the
    whole day dirty.
    """

    __tablename__ = "metric_dirty_days"
    __table_args__ = (Index("ix_metric_dirty_days_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column()
    service_id: Mapped[int | None] = mapped_column()
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
