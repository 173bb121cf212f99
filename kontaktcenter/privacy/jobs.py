"""Gallring runs nightly, once across processes (scheduling/jobs.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..scheduling.jobs import register_job
from . import gallring


def gallring_job(session: Session, now: datetime) -> None:
    # `now` is the trigger's fire time, so every process would gallra the same rows.
    gallring.run(session, now)


register_job("privacy.gallring", gallring_job, trigger="cron", hour=3, minute=25)
