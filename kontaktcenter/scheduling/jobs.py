"""The job registry: what runs on a schedule, and running one trigger exactly once.

Other parts register their jobs at import time, in a module the app imports (its
blueprint or command module) or in a `kontaktcenter/<part>/jobs.py`, which the
scheduler imports by itself:

    from ..scheduling.jobs import register_job
    register_job("metrics.rollup", rollup, trigger="cron", hour=2, minute=15)

A job is `func(session, now)`: it adds to the session and the runner commits. `now`
is the trigger's scheduled fire time (aware UTC), identical in every process, so a
job that computes from `now` gives the same answer wherever it runs.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..database import transient_error, utcnow
from .models import JobRun

log = logging.getLogger(__name__)

JobFunc = Callable[[Session, datetime], None]

# Interval triggers count from this fixed instant, not from when a process started,
# so every process computes the same fire times and the ledger can tell them apart.
INTERVAL_ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
TRIGGERS = ("interval", "cron", "date")


@dataclass(frozen=True)
class Job:
    name: str
    func: JobFunc
    trigger: str
    trigger_args: dict[str, Any] = field(default_factory=dict)


JOBS: dict[str, Job] = {}


def register_job(name: str, func: JobFunc, *, trigger: str, **trigger_args: Any) -> Job:
    """Add (or replace, so re-imports are harmless) a scheduled job.

    `trigger` and `trigger_args` are APScheduler's: "interval" (minutes=5, …),
    "cron" (hour=2, minute=15, day_of_week="mon-fri", …) or "date" (run_date=…).
    Cron fields are read in Europe/Stockholm unless `timezone` is given.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"job {name}: trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
    if not name or len(name) > 80:
        raise ValueError("a job name is 1–80 characters")
    job = Job(name, func, trigger, dict(trigger_args))
    JOBS[name] = job
    return job


def unregister_job(name: str) -> None:
    JOBS.pop(name, None)


def discover_jobs() -> dict[str, Job]:
    """Import every `kontaktcenter.<part>.jobs` module so their jobs are registered."""
    import kontaktcenter

    for info in pkgutil.iter_modules(kontaktcenter.__path__):
        if not info.ispkg:
            continue
        name = f"kontaktcenter.{info.name}.jobs"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return JOBS


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_run(session: Session, job: str, fire_time: datetime, worker: str = "") -> int | None:
    """Write the ledger row for (job, fire_time) and commit; None if another process has it.

    The unique constraint on (job, fire_time) is what makes a trigger run once: every
    process tries the insert, exactly one succeeds.
    """
    try:
        run_id = session.execute(
            insert(JobRun)
            .values(job=job, fire_time=fire_time, started_at=utcnow(), worker=worker or worker_name(), status="running")
            .returning(JobRun.id)
        ).scalar_one()
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return run_id


def run_once(session: Session, job: Job, fire_time: datetime, worker: str = "") -> bool:
    """Run `job` for `fire_time` unless some process already did; True if it ran here."""
    run_id = claim_run(session, job.name, fire_time, worker)
    if run_id is None:
        log.debug("job %s at %s already claimed elsewhere", job.name, fire_time.isoformat())
        return False
    try:
        job.func(session, fire_time)
        session.flush()
        session.execute(update(JobRun).where(JobRun.id == run_id).values(status="done", finished_at=utcnow()))
        session.commit()
    except Exception as exc:
        session.rollback()
        if transient_error(exc):
            # Not the job's fault (the database went away): its work was rolled back, so the
            # trigger is handed back for the caller to try again once the database answers.
            _release_claim(session, run_id)
            raise
        log.exception("job %s at %s failed", job.name, fire_time.isoformat())
        # The ledger keeps the failure so the trigger is not retried twice in parallel.
        session.execute(update(JobRun).where(JobRun.id == run_id).values(status="failed", finished_at=utcnow()))
        session.commit()
    return True


def _release_claim(session: Session, run_id: int) -> None:
    try:
        session.execute(delete(JobRun).where(JobRun.id == run_id, JobRun.status == "running"))
        session.commit()
    except Exception:
        # Still no database: the claim stays "running", and the job's next trigger runs it.
        session.rollback()


LEDGER_KEEP_DAYS = 30


def prune_ledger(session: Session, now: datetime) -> None:
    """Forget ledger rows of old triggers; they can no longer fire again."""
    from datetime import timedelta

    session.execute(delete(JobRun).where(JobRun.fire_time < now - timedelta(days=LEDGER_KEEP_DAYS)))


register_job("scheduling.prune_ledger", prune_ledger, trigger="cron", hour=3, minute=40)
