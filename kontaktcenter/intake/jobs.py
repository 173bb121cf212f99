"""The scheduled job of intake: a safety net for queued intake."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..scheduling.jobs import register_job
from .worker import route_all_waiting


def route_waiting_contacts(session: Session, now: datetime) -> None:
    # The intake worker routes within moments; this catches what waits when it is not running.
    route_all_waiting(session)


register_job("intake.route_waiting", route_waiting_contacts, trigger="interval", minutes=1)
