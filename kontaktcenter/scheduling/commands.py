"""`kontaktcenter scheduler`: run the scheduled jobs in this process."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime

import click
from flask import Flask, current_app
from sqlalchemy.orm import Session

from ..database import ENGINE_KEY
from ..templating import localtime
from .jobs import JOBS, discover_jobs, run_once
from .runner import Scheduler


def register(app: Flask) -> None:
    @app.cli.command("scheduler")
    @click.option("--list", "list_only", is_flag=True, help="list the jobs and their next run, then exit")
    @click.option("--run", "run_now", metavar="JOB", help="run one job now (once, recorded in the ledger), then exit")
    @click.option(
        "--seconds", type=float, default=None, help="stop after this many seconds (default: until Ctrl-C / SIGTERM)"
    )
    def scheduler_command(list_only: bool, run_now: str | None, seconds: float | None) -> None:
        """Run the scheduled jobs (SLA checks, rollups, retention) in this process.

        Safe beside in-process schedulers and other `kontaktcenter scheduler`
        processes on the same database: each trigger runs exactly once.
        """
        discover_jobs()
        if list_only or run_now:
            if run_now:
                _run_now(run_now)
                return
            sched = Scheduler(current_app._get_current_object())
            for name, nxt in sched.next_fire_times().items():
                job = JOBS[name]
                click.echo(f"{name:<32} {job.trigger:<9} next {localtime(nxt) if nxt else '–'}")
            return
        sched = Scheduler(current_app._get_current_object())
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        sched.start()
        click.echo(f"scheduler {sched.worker}: {len(sched.jobs)} job(s): {', '.join(sorted(sched.jobs))}")
        stop.wait(timeout=seconds)
        sched.shutdown()
        click.echo(f"scheduler {sched.worker} stopped after {len(sched.runs)} run(s)")


def _run_now(name: str) -> None:
    job = JOBS.get(name)
    if job is None:
        raise click.ClickException(f"no job {name!r}; known jobs: {', '.join(sorted(JOBS)) or 'none'}")
    fire_time = datetime.now(UTC).replace(microsecond=0)
    with Session(bind=current_app.extensions[ENGINE_KEY], expire_on_commit=False) as session:
        ran = run_once(session, job, fire_time)
    click.echo(f"{name}: {'ran' if ran else 'already run'} for {fire_time.isoformat()}")
