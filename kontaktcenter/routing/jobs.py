"""The routing part's scheduled job (imported by the scheduler's discovery)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..scheduling.jobs import register_job
from .service import escalate_overdue_routes

# A route's timeouts are counted in minutes of working time, so a one-minute tick keeps
# a ticket at most a minute past its target's timeout.
ESCALATE_JOB = "routing.escalate_overdue_routes"


def escalate_job(session: Session, now: datetime) -> None:
    escalate_overdue_routes(session, now)


register_job(ESCALATE_JOB, escalate_job, trigger="interval", minutes=1)
