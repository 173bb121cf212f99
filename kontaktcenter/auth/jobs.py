"""The scheduled job of auth: forgetting sessions that ended long ago."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from ..scheduling.jobs import register_job
from . import sessions


def prune_sessions(session: Session, now: datetime) -> None:
    sessions.prune(session, now, sessions.Limits.from_config(current_app.config).lifetime)


register_job("auth.prune_sessions", prune_sessions, trigger="cron", hour=3, minute=50)
