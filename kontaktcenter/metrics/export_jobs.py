"""Exports from the dashboard made in the background, with a progress bar.

A year grouped by day, service and location takes a while: the manager starts the
export, watches its progress and downloads the file when it is ready. The job and its
file live in the instance folder (one JSON status file and the export per job), so any
web process on the host can show the progress and serve the file. Files are kept for
KEEP_SECONDS and only to the user who asked for them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from ..database import BIND_KEY
from .engine import REPORT_QUERIES, ReportQuery, query_progress, records
from .exports import export, names_for
from .report import report

log = logging.getLogger(__name__)

KEEP_SECONDS = 24 * 3600
# The report's queries take this share of the bar, writing the rows the rest.
QUERY_SHARE = 80
SUBMIT_KEY = "kontaktcenter.metrics.export_submit"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
# One export at a time per process: a second one waits rather than doubling the load.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kc-export")


@dataclass
class ExportJob:
    token: str
    user_id: int
    fmt: str
    filename: str
    state: str = "queued"  # queued, running, done, failed
    percent: int = 0
    rows: int | None = None
    started: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


def export_dir(app: Flask) -> Path:
    path = Path(app.config["METRICS_EXPORT_DIR"] or Path(app.instance_path) / "exports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _status_path(directory: Path, token: str) -> Path:
    return directory / f"{token}.json"


def data_path(directory: Path, job: ExportJob) -> Path:
    return directory / f"{job.token}.{job.fmt}"


def _save(directory: Path, job: ExportJob) -> None:
    # Written whole and renamed, so a reader never sees half a status.
    tmp = directory / f".{job.token}.json.tmp"
    tmp.write_text(json.dumps(asdict(job)), encoding="utf-8")
    os.replace(tmp, _status_path(directory, job.token))


def load_job(directory: Path, token: str, user_id: int) -> ExportJob | None:
    """The job, if the token is well formed, exists and belongs to this user."""
    if not _TOKEN.match(token):
        return None
    try:
        job = ExportJob(**json.loads(_status_path(directory, token).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return job if job.user_id == user_id else None


def _prune(directory: Path, now: float) -> None:
    for path in directory.iterdir():
        try:
            if now - path.stat().st_mtime > KEEP_SECONDS:
                path.unlink()
        except OSError:
            continue


def start_export(
    app: Flask,
    user_id: int,
    query: ReportQuery,
    fmt: str,
    meta: dict[str, Any],
    calendar,
    short_abandon_seconds: float,
    filename: str,
) -> ExportJob:
    directory = export_dir(app)
    _prune(directory, time.time())
    job = ExportJob(secrets.token_urlsafe(24), user_id, fmt, filename, started=time.time())
    _save(directory, job)
    submit = app.extensions.get(SUBMIT_KEY) or _executor.submit
    submit(run_export, app, directory, job, query, meta, calendar, short_abandon_seconds)
    return job


def run_export(
    app: Flask,
    directory: Path,
    job: ExportJob,
    query: ReportQuery,
    meta: dict[str, Any],
    calendar,
    short_abandon_seconds: float,
) -> None:
    """The background job: the report (its queries tick the bar), then the rows."""
    job.state = "running"
    _save(directory, job)
    queries = 0

    def query_done() -> None:
        nonlocal queries
        queries += 1
        job.percent = min(QUERY_SHARE, QUERY_SHARE * queries // REPORT_QUERIES)
        _save(directory, job)

    try:
        with app.app_context(), Session(bind=app.extensions[BIND_KEY]) as session, query_progress(query_done):
            table = report(session, query, calendar, short_abandon_seconds)
            rows = records(table)
            job.rows, written = len(rows), 0
            step = max(1, len(rows) // 20)

            def row_done(n: int) -> None:
                nonlocal written
                written += n
                if written % step == 0:
                    job.percent = QUERY_SHARE + (100 - QUERY_SHARE) * written // max(len(rows), 1)
                    _save(directory, job)

            data = export(
                job.fmt, list(table.columns), rows, meta, progress=row_done, names=names_for(job.fmt, session)
            )
        data_path(directory, job).write_bytes(data)
        job.state, job.percent = "done", 100
    except Exception:
        log.exception("export %s failed", job.token)
        job.state = "failed"
    _save(directory, job)
