"""The phone's scheduled job: the call distribution's sweep (registered when views.py imports it)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from ...scheduling.jobs import register_job
from . import distribution

SWEEP_JOB = "voice.distribution_sweep"


def distribution_sweep(session: Session, now: datetime) -> None:
    """Expire reservations whose callback never came, then offer any call that matches a free agent.

    Every event that can free a match distributes at once; this catches what an event
    missed (a lost callback, a crashed request) within seconds.
    """
    ringer = distribution.app_ringer()
    if not distribution.enabled(current_app.config):
        distribution.expire_offers(session, ringer, now)
        return
    distribution.sweep(session, ringer, now)


register_job(SWEEP_JOB, distribution_sweep, trigger="interval", seconds=5)
