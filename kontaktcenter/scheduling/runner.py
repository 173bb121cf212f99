"""Running the registered jobs on their triggers: in the web process or standalone."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy.orm import Session

from ..database import ENGINE_KEY, Reconnect, transient_error
from ..worktime.calendar import STOCKHOLM
from .jobs import INTERVAL_ANCHOR, Job, discover_jobs, run_once, worker_name

log = logging.getLogger(__name__)
# A cron job may look back this far for the fire time it was called for.
_LOOKBACKS = (timedelta(days=1), timedelta(days=32), timedelta(days=367))


def make_trigger(job: Job) -> BaseTrigger:
    args = dict(job.trigger_args)
    if job.trigger == "interval":
        args.setdefault("start_date", INTERVAL_ANCHOR)
        args.setdefault("timezone", UTC)
        return IntervalTrigger(**args)
    if job.trigger == "cron":
        args.setdefault("timezone", STOCKHOLM)
        return CronTrigger(**args)
    args.setdefault("timezone", UTC)
    return DateTrigger(**args)


def last_fire_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The latest scheduled fire time at or before `now`: the trigger a run belongs to.

    Every process computes it from the trigger alone, so two processes woken by the same
    trigger name the same fire time and the ledger lets only one of them run it.
    """
    if isinstance(trigger, IntervalTrigger):
        if now < trigger.start_date:
            return None
        steps = (now - trigger.start_date) // trigger.interval
        return (trigger.start_date + steps * trigger.interval).astimezone(UTC)
    if isinstance(trigger, DateTrigger):
        run = trigger.run_date
        return run.astimezone(UTC) if run <= now else None
    for lookback in _LOOKBACKS:
        found = None
        t = trigger.get_next_fire_time(None, now - lookback)
        while t is not None and t <= now:
            found = t
            t = trigger.get_next_fire_time(t, t + timedelta(microseconds=1))
        if found is not None:
            return found.astimezone(UTC)
    return None


class Scheduler:
    """APScheduler as an alarm clock; the JobRun ledger decides who runs each trigger.

    Any number of these (one per web worker, plus `kontaktcenter scheduler`) may run
    against one database: each wakes up on every trigger, and only the one whose
    ledger insert wins runs the job.
    """

    def __init__(self, app: Flask, *, worker: str = "", jobs: dict[str, Job] | None = None):
        self.app = app
        self.worker = worker or worker_name()
        self.jobs = dict(jobs if jobs is not None else discover_jobs())
        self._aps = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
        )
        self.runs: list[tuple[str, datetime]] = []  # what ran here, for logs and tests
        self._reconnect = Reconnect(f"scheduler {self.worker}", log)
        self._stopping = threading.Event()

    def _fire(self, name: str) -> None:
        job = self.jobs[name]
        trigger = make_trigger(job)
        fire_time = last_fire_time(trigger, datetime.now(UTC) + timedelta(milliseconds=5))
        if fire_time is None:
            return
        # A lost database is waited out: the same fire time is tried again (the ledger still
        # lets only one process run it) until it runs or the job's next trigger takes over.
        while not self._stopping.is_set():
            try:
                ran = self._run(job, fire_time)
            except Exception as exc:
                if not transient_error(exc):
                    raise
                pause = self._reconnect.failed(exc)
                next_fire = trigger.get_next_fire_time(fire_time, datetime.now(UTC))
                if next_fire is not None and datetime.now(UTC) + timedelta(seconds=pause) >= next_fire:
                    log.info(
                        "job %s for %s not run: no database; its next trigger runs it", name, fire_time.isoformat()
                    )
                    return
                self._stopping.wait(pause)
                continue
            self._reconnect.succeeded()
            if ran:
                self.runs.append((name, fire_time))
                log.info("job %s ran for %s on %s", name, fire_time.isoformat(), self.worker)
            return

    def _run(self, job: Job, fire_time: datetime) -> bool:
        # The engine, not the app's current bind: a scheduler thread must never share
        # the connection a request (or a test) is using.
        with self.app.app_context(), Session(bind=self.app.extensions[ENGINE_KEY], expire_on_commit=False) as session:
            return run_once(session, job, fire_time, self.worker)

    def start(self) -> None:
        for job in self.jobs.values():
            self._aps.add_job(
                self._fire, make_trigger(job), args=[job.name], id=job.name, name=job.name, replace_existing=True
            )
        self._aps.start()
        log.info("scheduler %s started with %d job(s)", self.worker, len(self.jobs))

    def next_fire_times(self) -> dict[str, datetime | None]:
        now = datetime.now(UTC)
        return {name: make_trigger(job).get_next_fire_time(None, now) for name, job in sorted(self.jobs.items())}

    def shutdown(self, wait: bool = True) -> None:
        self._stopping.set()  # ends any job's wait for the database
        if self._aps.running:
            self._aps.shutdown(wait=wait)


_started_lock = threading.Lock()


def start_in_process(app: Flask) -> Scheduler | None:
    """Start the app's own scheduler once (SCHEDULER_ENABLED); safe to call repeatedly."""
    with _started_lock:
        existing = app.extensions.get("kontaktcenter.scheduler")
        if existing is not None:
            return existing
        scheduler = Scheduler(app)
        scheduler.start()
        app.extensions["kontaktcenter.scheduler"] = scheduler
        return scheduler


def init_app(app: Flask) -> None:
    """With SCHEDULER_ENABLED, the first request starts this worker's scheduler.

    Started on the first request rather than in the factory, so CLI commands that build
    the app (db upgrade, report, …) do not start a scheduler against a database they
    may be about to migrate.
    """
    if not app.config["SCHEDULER_ENABLED"] or app.config["TESTING"]:
        return

    @app.before_request
    def _start_scheduler() -> None:
        if "kontaktcenter.scheduler" not in app.extensions:
            start_in_process(app)
