"""What every benchmark needs: its own PostgreSQL database, free ports, the project's programs, gunicorn started
and stopped."""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kontaktcenter_bench"


def bench_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def _admin(url: str):
    return create_engine(re.sub(r"/[^/]+$", "/postgres", url), isolation_level="AUTOCOMMIT")


def _name(url: str) -> str:
    name = url.rsplit("/", 1)[1]
    if not re.fullmatch(r"\w+", name):
        raise SystemExit(f"refusing to recreate a database named {name!r}")
    return name


def recreate_database(url: str) -> None:
    """Drop and create the benchmark's database (never one whose name is not a plain word)."""
    admin = _admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{_name(url)}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    admin = _admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)'))
    admin.dispose()


def executable(name: str) -> str:
    """The project's program `name` (kontaktcenter, gunicorn) of the environment running this script.

    Found beside the interpreter, not in the checkout: whichever environment runs a benchmark
    (a virtualenv anywhere, CI's) starts its own programs, and a checkout needs no `.venv/`.
    """
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        raise SystemExit(
            f"no {name} beside {sys.executable}: install the project into this environment (pip install -e .)"
        )
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    app_spec: str, port: int, env: dict[str, str], workers: int = 2, config: str = "gunicorn.conf.py"
) -> subprocess.Popen:
    """gunicorn with config/`config` on 127.0.0.1:port in its own process group; returns once /healthz answers."""
    process = subprocess.Popen(
        [
            executable("gunicorn"),
            "--config",
            str(ROOT / "config" / config),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--pythonpath",
            f"{ROOT},{BENCH}",
            app_spec,
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn {app_spec} exited with {process.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    stop(process)
    raise SystemExit(f"gunicorn {app_spec} did not become healthy within 60 s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def write_history_csv(path: Path, rows: int) -> None:
    """`rows` rows of realistic history ending yesterday, in METRICS.md's column order."""
    from kontaktcenter.demo import WEEKDAY_VOLUME, generate_history
    from kontaktcenter.history.importer import COLUMNS

    per_day = sum(WEEKDAY_VOLUME) / 7
    days = int(rows / per_day * 1.2) + 2
    iso = lambda t: t.isoformat() if t else ""  # noqa: E731
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        written = 0
        for row in generate_history(date.today() - timedelta(days=1), days, seed=5):
            out.writerow(
                [
                    row.external_id,
                    row.channel,
                    row.service_code,
                    iso(row.arrived_at),
                    iso(row.answered_at),
                    iso(row.ended_at),
                    row.outcome or "",
                    iso(row.callback_completed_at),
                    iso(row.first_response_at),
                    row.resolution if row.resolved_at else "",
                    iso(row.resolved_at),
                    row.escalated_to or "",
                    row.language,
                    ";".join(row.needs),
                    row.location_code or "",
                    row.citizen_key or "",
                    row.reason_code or "",
                ]
            )
            written += 1
            if written >= rows:
                return
    raise SystemExit(f"the generator made only {written} rows")


def import_history(path: Path, env: dict[str, str]) -> tuple[float, str]:
    """`kontaktcenter import contacts path` in a subprocess: (seconds, its summary line)."""
    start = time.perf_counter()
    done = subprocess.run(
        [executable("kontaktcenter"), "import", "contacts", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    return seconds, done.stdout.strip().splitlines()[-1]
