"""The history import at scale: N generated rows through `kontaktcenter import contacts` on PostgreSQL.

Makes its own database (BENCH_DATABASE_URL, default …/kontaktcenter_bench), writes
a CSV in METRICS.md's import format from the demo's history generator, runs the real
command in a subprocess and times it, then imports the same file again (idempotency:
nothing new) and counts the rows in the database. The bar: 1,000,000 rows in under 5 minutes.
Prints a summary and, last, one line of JSON.

    .venv/bin/python bench/import.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kontaktcenter.contacts.models import Contact  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_url, executable, import_history, recreate_database, write_history_csv  # noqa: E402

BAR_SECONDS = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    url = bench_url()
    recreate_database(url)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-import"}
    subprocess.run([executable("kontaktcenter"), "db", "upgrade"], env=env, check=True, capture_output=True)
    # The directory the rows refer to (services, queues, locations).
    from kontaktcenter.app import create_app
    from kontaktcenter.database import ENGINE_KEY, db
    from kontaktcenter.directory.service import load_catalogue

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-import"})
    with app.app_context():
        load_catalogue(db.session)
        db.session.commit()
        db.session.remove()
    app.extensions[ENGINE_KEY].dispose()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.csv"
        t0 = time.perf_counter()
        write_history_csv(path, args.rows)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        seconds, summary = import_history(path, env)
        print(f"first import:  {seconds:.1f} s — {summary}")
        again_seconds, again = import_history(path, env)
        print(f"second import: {again_seconds:.1f} s — {again}")

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count(Contact.id)))
        distinct = conn.scalar(select(func.count(func.distinct(Contact.external_id))))
    engine.dispose()
    rate = args.rows / seconds
    print(
        f"\n{args.rows:,} rows in {seconds:.1f} s = {rate:,.0f} rows/s "
        f"({'within' if seconds < BAR_SECONDS * args.rows / 1_000_000 else 'OVER'} the bar of 1,000,000 rows in {BAR_SECONDS} s)"
    )
    print(
        f"in the database: {stored:,} contacts, {distinct:,} distinct external ids; re-import added {stored - args.rows:,}"
    )
    print(
        json.dumps(
            {
                "rows": args.rows,
                "seconds": round(seconds, 2),
                "rows_per_s": round(rate, 1),
                "reimport_seconds": round(again_seconds, 2),
                "stored": stored,
                "duplicates": stored - distinct,
                "bar_seconds_per_million": BAR_SECONDS,
            }
        )
    )


if __name__ == "__main__":
    main()
