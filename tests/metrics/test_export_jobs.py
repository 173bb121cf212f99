"""Dashboard exports kept in the database: any process serves them, only their owner
sees them, and they expire (issue 19 part 5). Runs on SQLite and, with
KC_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kontaktcenter.database import BIND_KEY, utcnow
from kontaktcenter.metrics.export_jobs import SUBMIT_KEY, delete_expired, export_data, load_export, prune_exports_job
from kontaktcenter.metrics.models import ReportExport
from tests.conftest import csrf_token

PERIOD = {"start": "2026-03-02", "end": "2026-03-06"}


@pytest.fixture
def history(session, phone_call, written, visit):
    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200, service="bygglov")
    phone_call("2026-03-02 09:20", "abandoned", wait=40, service="bygglov")
    written("2026-03-02 15:00", "2026-03-03 14:59")
    visit("2026-03-03 10:00", "served", wait=300)
    session.commit()


@pytest.fixture
def queued(app):
    """Exports are recorded but not run: the test runs them itself, step by step."""
    started = []
    app.extensions[SUBMIT_KEY] = lambda fn, *args: started.append((fn, args))
    yield started
    app.extensions.pop(SUBMIT_KEY, None)


def _start(client, fmt: str = "csv", by: str = "service,period:day") -> str:
    form = {**PERIOD, "format": fmt, "by": by, "csrf_token": csrf_token(client, "/reports")}
    started = client.post("/reports/exports", data=form)
    assert started.status_code == 303
    return started.headers["Location"].rsplit("/", 1)[1]


def test_export_runs_from_the_database_and_can_be_read_while_it_runs(app, client, auth, session, history, queued):
    auth.login("chef")
    token = _start(client)
    ((fn, args),) = queued
    progress_url = f"/reports/exports/{token}"
    assert client.get(progress_url, query_string={"format": "json"}).get_json() == {
        "state": "queued",
        "percent": 0,
        "rows": None,
    }

    seen, read_midway = [], []

    def on_status(state: str, percent: int) -> None:
        seen.append((state, percent))
        if state == "running" and 0 < percent < 100 and not read_midway:
            # Another process looks at the job while it runs: its own session, the stored row.
            with Session(bind=app.extensions[BIND_KEY], join_transaction_mode="create_savepoint") as other:
                job = load_export(other, token, _user_id(other, "chef"))
                read_midway.append((job.status, job.progress))

    fn(*args, on_status=on_status)

    assert read_midway
    assert read_midway[0][0] == "running"
    assert read_midway[0][1] > 0
    percents = [p for _state, p in seen]
    assert percents == sorted(percents)  # never goes backwards
    assert seen[0] == ("running", 0)
    assert seen[-1] == ("done", 100)
    assert any(0 < p <= 80 for p in percents)  # the report's queries move the bar
    status = client.get(progress_url, query_string={"format": "json"}).get_json()
    assert (status["state"], status["percent"]) == ("done", 100)
    assert status["rows"] >= 1
    downloaded = client.get(progress_url + "/file")
    assert downloaded.status_code == 200
    direct = client.get("/reports/export", query_string={**PERIOD, "format": "csv", "by": "service,period:day"})
    assert downloaded.data == direct.data
    # The file is the row's, nothing on the web host's disk.
    session.expire_all()
    job = session.scalar(select(ReportExport))
    assert export_data(session, job) == direct.data
    assert job.finished_at is not None


def test_only_a_hash_of_the_token_is_stored(client, auth, session, history, queued):
    auth.login("chef")
    token = _start(client)
    job = session.scalar(select(ReportExport))
    assert job.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr([getattr(job, c.key) for c in ReportExport.__table__.columns if c.key != "data"])


def test_a_copied_token_gives_a_stranger_nothing(client, auth, session, history, queued):
    """The attack: a coordinator who got hold of a manager's export link (a shared screen,
    a forwarded mail, a proxy log) tries the progress page, its JSON and the file."""
    auth.login("chef")
    token = _start(client, fmt="csv-sv", by="service")
    ((fn, args),) = queued
    fn(*args)
    assert client.get(f"/reports/exports/{token}/file").status_code == 200
    auth.logout()
    auth.login("samordnare")
    for path in (f"/reports/exports/{token}", f"/reports/exports/{token}/file"):
        assert client.get(path).status_code == 404
    assert client.get(f"/reports/exports/{token}", query_string={"format": "json"}).status_code == 404
    # A guessed token, or the stored hash used as a token, is unknown too.
    hashed = session.scalar(select(ReportExport.token_hash))
    for guess in (token[:-1] + ("A" if token[-1] != "A" else "B"), hashed):
        assert client.get(f"/reports/exports/{guess}/file").status_code == 404


def test_expired_exports_are_gone_and_the_nightly_job_deletes_them(app, client, auth, session, history, queued):
    auth.login("chef")
    old, fresh = _start(client, by="service"), _start(client, by="channel")
    for fn, args in queued:
        fn(*args)
    assert app.config["REPORT_EXPORT_DAYS"] == 7
    job = load_export(session, old, _user_id(session, "chef"))
    assert job.expires_at - job.created_at == timedelta(days=7)
    session.execute(
        update(ReportExport).where(ReportExport.id == job.id).values(expires_at=utcnow() - timedelta(minutes=1))
    )
    session.commit()
    # Expired: not served even before the job has run.
    assert client.get(f"/reports/exports/{old}/file").status_code == 404
    assert client.get(f"/reports/exports/{fresh}/file").status_code == 200

    with app.app_context():
        prune_exports_job(session, utcnow())
    session.commit()
    assert session.scalar(select(func.count()).select_from(ReportExport)) == 1
    assert load_export(session, fresh, _user_id(session, "chef")) is not None
    # A week on, the other one goes too.
    assert delete_expired(session, utcnow() + timedelta(days=7, minutes=1)) == 1


def test_the_prune_job_is_scheduled():
    from kontaktcenter.scheduling.jobs import discover_jobs

    assert discover_jobs()["metrics.prune_exports"].trigger == "cron"


def test_a_failed_export_says_so(app, client, auth, session, history, queued, monkeypatch):
    import kontaktcenter.metrics.export_jobs as export_jobs

    def broken(*_args, **_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_jobs, "report", broken)
    auth.login("chef")
    token = _start(client)
    ((fn, args),) = queued
    fn(*args)
    page = client.get(f"/reports/exports/{token}").get_data(as_text=True)
    assert "Exporten misslyckades." in page
    assert client.get(f"/reports/exports/{token}/file").status_code == 404
    assert session.scalar(select(ReportExport.error)) == "RuntimeError"


def _user_id(session, username: str) -> int:
    from kontaktcenter.directory.models import User

    return session.scalar(select(User.id).where(User.username == username))
