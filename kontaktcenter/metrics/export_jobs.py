"""Exports from the dashboard made in the background, with a progress bar.

A year grouped by day, service and location takes a while: the manager starts the
export, watches its progress and downloads the file when it is ready. The job's
status and its file live in the database (report_exports), so any web process on any
host shows the progress and serves the file. The link carries a random token; the
table keeps only its SHA-256 hash, and an export is shown only to the user who asked
for it. Exports expire after REPORT_EXPORT_DAYS; a nightly job deletes them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..database import BIND_KEY, utcnow
from .engine import REPORT_QUERIES, ReportQuery, query_progress, records
from .exports import MEDIA_TYPES, export, names_for
from .models import ReportExport
from .report import report

log = logging.getLogger(__name__)

# The report's queries take this share of the bar, writing the rows the rest.
QUERY_SHARE = 80
SUBMIT_KEY = "kontaktcenter.metrics.export_submit"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
# One export at a time per process: a second one waits rather than doubling the load.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kc-export")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def load_export(session: Session, token: str, user_id: int, now: datetime | None = None) -> ReportExport | None:
    """The export, if the token is well formed, known, unexpired and this user's.

    Anyone else's token (guessed, copied from a shared screen or a log) gives None,
    exactly as an unknown one does, so a stranger learns nothing.
    """
    if not _TOKEN.match(token):
        return None
    job = session.scalar(select(ReportExport).where(ReportExport.token_hash == token_hash(token)))
    if job is None or job.user_id != user_id or job.expires_at <= (now or utcnow()):
        return None
    return job


def export_data(session: Session, job: ReportExport) -> bytes | None:
    """The file's bytes (kept out of the status reads: the column is deferred)."""
    return session.scalar(select(ReportExport.data).where(ReportExport.id == job.id))


def delete_expired(session: Session, now: datetime) -> int:
    """Delete the exports whose time is up; the number deleted."""
    result = session.execute(delete(ReportExport).where(ReportExport.expires_at <= now))
    return result.rowcount or 0


def prune_exports_job(session: Session, now: datetime) -> None:
    deleted = delete_expired(session, now)
    if deleted:
        log.info("deleted %d expired report exports", deleted)


def start_export(
    app: Flask,
    session: Session,
    user_id: int,
    query: ReportQuery,
    fmt: str,
    meta: dict[str, Any],
    calendar,
    short_abandon_seconds: float,
    filename: str,
) -> str:
    """Record the export (committed, so any process can show it) and queue it; its token."""
    token = secrets.token_urlsafe(24)
    now = utcnow()
    job = ReportExport(
        token_hash=token_hash(token),
        user_id=user_id,
        format=fmt,
        parameters=meta,
        status="queued",
        progress=0,
        filename=filename,
        content_type=MEDIA_TYPES[fmt],
        created_at=now,
        expires_at=now + timedelta(days=app.config["REPORT_EXPORT_DAYS"]),
    )
    session.add(job)
    session.commit()
    submit = app.extensions.get(SUBMIT_KEY) or _executor.submit
    submit(run_export, app, job.id, query, meta, calendar, short_abandon_seconds)
    return token


def _set(app: Flask, export_id: int, **values) -> None:
    """Write the job's status in its own short transaction, so readers see it at once."""
    with Session(bind=app.extensions[BIND_KEY], join_transaction_mode="create_savepoint") as session:
        session.execute(update(ReportExport).where(ReportExport.id == export_id).values(**values))
        session.commit()


def run_export(
    app: Flask,
    export_id: int,
    query: ReportQuery,
    meta: dict[str, Any],
    calendar,
    short_abandon_seconds: float,
    on_status: Callable[[str, int], None] | None = None,
) -> None:
    """The background job: the report (its queries tick the bar), then the rows, then the file."""

    def status(state: str, percent: int, **values) -> None:
        _set(app, export_id, status=state, progress=percent, **values)
        if on_status:
            on_status(state, percent)

    status("running", 0)
    queries = 0

    def query_done() -> None:
        nonlocal queries
        queries += 1
        status("running", min(QUERY_SHARE, QUERY_SHARE * queries // REPORT_QUERIES))

    try:
        with app.app_context():
            with Session(bind=app.extensions[BIND_KEY], join_transaction_mode="create_savepoint") as session:
                fmt = session.scalar(select(ReportExport.format).where(ReportExport.id == export_id))
                with query_progress(query_done):
                    table = report(session, query, calendar, short_abandon_seconds)
                rows = records(table)
                status("running", QUERY_SHARE, rows=len(rows))
                written = 0
                step = max(1, len(rows) // 20)

                def row_done(n: int) -> None:
                    nonlocal written
                    written += n
                    if written % step == 0:
                        status("running", QUERY_SHARE + (100 - QUERY_SHARE) * written // max(len(rows), 1))

                data = export(fmt, list(table.columns), rows, meta, progress=row_done, names=names_for(fmt, session))
                session.commit()
            status("done", 100, data=data, finished_at=utcnow())
    except Exception as exc:
        log.exception("export %s failed", export_id)
        with app.app_context():
            status("failed", 0, error=type(exc).__name__, finished_at=utcnow())
