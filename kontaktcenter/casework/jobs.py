"""The scheduled jobs of casework: the SLA breach check."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..scheduling.jobs import register_job
from .sla import flag_breaches


def sla_check(session: Session, now: datetime) -> None:
    flag_breaches(session, now)


register_job("casework.sla_check", sla_check, trigger="interval", minutes=1)
