"""The scheduler: deterministic fire times, the run-once ledger, two schedulers on one database."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kontaktcenter.app import create_app
from kontaktcenter.database import ENGINE_KEY, Reconnect
from kontaktcenter.scheduling.jobs import JOBS, Job, discover_jobs, register_job, run_once, unregister_job
from kontaktcenter.scheduling.models import JobRun
from kontaktcenter.scheduling.runner import Scheduler, last_fire_time, make_trigger
from tests.fixtures.factories import at


def test_interval_fire_time_is_the_same_whenever_a_process_started():
    job = Job("x", lambda s, n: None, "interval", {"minutes": 5})
    # Two processes, started at different moments, woken a little late by the same trigger.
    a = last_fire_time(make_trigger(job), datetime(2026, 3, 2, 10, 5, 0, 300_000, tzinfo=UTC))
    b = last_fire_time(make_trigger(job), datetime(2026, 3, 2, 10, 9, 59, tzinfo=UTC))
    assert a == b == datetime(2026, 3, 2, 10, 5, tzinfo=UTC)


def test_cron_fire_time_is_read_in_stockholm_time():
    job = Job("x", lambda s, n: None, "cron", {"hour": 2, "minute": 15})
    fired = last_fire_time(make_trigger(job), at("2026-07-01 02:15") + timedelta(seconds=2))
    assert fired == at("2026-07-01 02:15")  # 00:15 UTC in summer time
    assert last_fire_time(make_trigger(job), at("2026-07-01 02:14")) == at("2026-06-30 02:15")


def test_register_job_refuses_an_unknown_trigger():
    with pytest.raises(ValueError, match="trigger must be one of"):
        register_job("bad", lambda s, n: None, trigger="sometimes")


def test_builtin_jobs_are_discovered():
    jobs = discover_jobs()
    assert {"casework.sla_check", "scheduling.prune_ledger"} <= set(jobs)


def test_a_trigger_claimed_twice_runs_once(app, session):
    calls = []
    job = Job(f"test-{uuid.uuid4().hex[:8]}", lambda s, now: calls.append(now), "interval", {"minutes": 1})
    fire = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app.app_context():
        assert run_once(session, job, fire, "worker-a") is True
        assert run_once(session, job, fire, "worker-b") is False
        assert run_once(session, job, fire + timedelta(minutes=1), "worker-b") is True
    assert calls == [fire, fire + timedelta(minutes=1)]
    rows = session.scalars(select(JobRun).where(JobRun.job == job.name).order_by(JobRun.fire_time)).all()
    assert [(r.worker, r.status) for r in rows] == [("worker-a", "done"), ("worker-b", "done")]


def test_a_failing_job_is_recorded_as_failed_and_not_rerun(app, session):
    def boom(s, now):
        raise RuntimeError("boom")

    job = Job(f"test-{uuid.uuid4().hex[:8]}", boom, "interval", {"minutes": 1})
    fire = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app.app_context():
        assert run_once(session, job, fire) is True
        assert run_once(session, job, fire) is False
    assert session.scalar(select(JobRun.status).where(JobRun.job == job.name)) == "failed"


def test_scheduler_command_lists_the_jobs(runner):
    result = runner.invoke(args=["scheduler", "--list"])
    assert result.exit_code == 0, result.output
    assert "casework.sla_check" in result.output
    assert "interval" in result.output


def test_scheduler_command_refuses_an_unknown_job(runner):
    result = runner.invoke(args=["scheduler", "--run", "no-such-job"])
    assert result.exit_code == 1
    assert "no job 'no-such-job'" in result.output


@pytest.mark.postgres
def test_two_schedulers_on_one_database_run_each_trigger_once(app, database_url):
    """Two in-process schedulers (two apps, two connection pools) wake on every trigger."""
    name = f"test-twice-{uuid.uuid4().hex[:8]}"
    calls: list[tuple[str, datetime]] = []
    lock = threading.Lock()

    def tick(session, now):
        with lock:
            calls.append((threading.current_thread().name, now))
        time.sleep(0.05)  # widen the window in which both could run it

    job = Job(name, tick, "interval", {"seconds": 1})
    apps = [create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "TESTING": True}) for _ in range(2)]
    schedulers = [Scheduler(a, worker=f"w{i}", jobs={name: job}) for i, a in enumerate(apps)]
    try:
        for s in schedulers:
            s.start()
        time.sleep(4.2)
    finally:
        for s in schedulers:
            s.shutdown()
    engine = app.extensions[ENGINE_KEY]
    with Session(engine) as s:
        rows = s.execute(
            select(JobRun.fire_time, func.count()).where(JobRun.job == name).group_by(JobRun.fire_time)
        ).all()
        workers = set(s.scalars(select(JobRun.worker).where(JobRun.job == name)))
        s.execute(delete(JobRun).where(JobRun.job == name))
        s.commit()
    for a in apps:
        a.extensions[ENGINE_KEY].dispose()
    assert len(rows) >= 3, rows
    assert all(n == 1 for _, n in rows)  # the ledger: one row per trigger
    fired = [t for _, t in calls]
    assert len(fired) == len(set(fired)) == len(rows)  # each trigger's job ran once, in one process
    ran_here = [t for s in schedulers for _, t in s.runs]
    assert sorted(ran_here) == sorted(fired)
    assert workers <= {"w0", "w1"}


def test_registered_jobs_of_other_parts_keep_their_trigger():
    name = f"test-reg-{uuid.uuid4().hex[:8]}"
    try:
        job = register_job(name, lambda s, n: None, trigger="cron", hour=2, minute=15)
        assert JOBS[name] is job
        assert job.trigger_args == {"hour": 2, "minute": 15}
    finally:
        unregister_job(name)


def _lost() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def test_a_job_that_loses_the_database_hands_its_trigger_back(app, session):
    """Its work was rolled back, so the trigger is not 'failed': the retry may claim it again."""
    calls = []

    def flaky(s, now):
        calls.append(now)
        if len(calls) == 1:
            raise _lost()

    job = Job(f"test-{uuid.uuid4().hex[:8]}", flaky, "interval", {"minutes": 1})
    fire = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app.app_context():
        with pytest.raises(OperationalError):
            run_once(session, job, fire)
        assert session.scalar(select(func.count()).select_from(JobRun).where(JobRun.job == job.name)) == 0
        assert run_once(session, job, fire) is True
    assert calls == [fire, fire]
    assert session.scalar(select(JobRun.status).where(JobRun.job == job.name)) == "done"


def _scheduler_with(app, job: Job) -> Scheduler:
    scheduler = Scheduler(app, worker="w-recovery", jobs={job.name: job})
    scheduler._reconnect = Reconnect("test scheduler", logging.getLogger("test.scheduler"), first=0.01, longest=0.05)
    return scheduler


def _forget(app, name: str) -> None:
    with Session(app.extensions[ENGINE_KEY]) as s:
        s.execute(delete(JobRun).where(JobRun.job == name))
        s.commit()


def test_the_scheduler_tries_a_trigger_again_while_the_database_is_lost(app, caplog):
    calls = []

    def flaky(s, now):
        calls.append(now)
        if len(calls) < 3:
            raise _lost()

    job = Job(f"test-{uuid.uuid4().hex[:8]}", flaky, "interval", {"days": 1})
    scheduler = _scheduler_with(app, job)
    try:
        with caplog.at_level(logging.WARNING):
            scheduler._fire(job.name)
        assert len(calls) == 3
        assert len(set(calls)) == 1
        assert scheduler.runs == [(job.name, calls[0])]
        with Session(app.extensions[ENGINE_KEY]) as s:
            assert s.scalars(select(JobRun.status).where(JobRun.job == job.name)).all() == ["done"]
        messages = [r.getMessage() for r in caplog.records]
        assert sum("lost the database connection" in m for m in messages) == 1
        assert sum("back after" in m for m in messages) == 1
    finally:
        _forget(app, job.name)


def test_shutdown_ends_a_wait_for_the_database(app):
    def never(s, now):
        raise _lost()

    job = Job(f"test-{uuid.uuid4().hex[:8]}", never, "interval", {"days": 1})
    scheduler = _scheduler_with(app, job)
    thread = threading.Thread(target=scheduler._fire, args=(job.name,))
    try:
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive()  # still waiting for the database, not given up
        scheduler.shutdown()
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert scheduler.runs == []
    finally:
        _forget(app, job.name)
