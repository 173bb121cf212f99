"""Gallring and the access log's own retention run nightly, once across processes (scheduling/jobs.py)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from ..scheduling.jobs import register_job
from ..worktime.periods import parse_period
from . import accesslog, gallring


def gallring_job(session: Session, now: datetime) -> None:
    # `now` is the trigger's fire time, so every process would gallra the same rows.
    gallring.run(session, now)


register_job("privacy.gallring", gallring_job, trigger="cron", hour=3, minute=25)


def access_log_retention_job(session: Session, now: datetime) -> None:
    # The period was checked when the configuration was read (config.py).
    accesslog.prune(session, now, parse_period(current_app.config["ACCESS_LOG_RETENTION"]))


register_job("privacy.access_log_retention", access_log_retention_job, trigger="cron", hour=3, minute=45)
