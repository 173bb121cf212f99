#!/usr/bin/env python3
"""Benchmark: the agent console's filtered, paged list with its total, counted in PostgreSQL.

Makes its own PostgreSQL database (BENCH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/kontaktcenter_bench_workspace), migrates it,
loads the catalogue and puts --tickets open tickets (with their opening contacts: a mix of
channels and languages) in one first-line queue. In the same run it measures, --repeat
times each (the median counts):

  * the baseline: what a console without the database's help must do for the same answer,
    load every open ticket of the queue with its contacts and filter, count and page in Python;
  * the workspace: casework.workspace.console_page, one COUNT and one page of --page-size rows.

for three views: everything (page 1), SMS only (page 2), Arabic at risk (page 1). Both must
agree on the total and the rows. Prints a summary and, last, one line of JSON.

    .venv/bin/python bench/console.py [--tickets 20000] [--page-size 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import drop_database, recreate_database  # noqa: E402

from kontaktcenter.app import create_app  # noqa: E402
from kontaktcenter.casework import workspace  # noqa: E402
from kontaktcenter.commands import upgrade_database  # noqa: E402
from kontaktcenter.contacts.models import Contact  # noqa: E402
from kontaktcenter.database import ENGINE_KEY  # noqa: E402
from kontaktcenter.directory.models import Department, Queue, User  # noqa: E402
from kontaktcenter.directory.service import load_catalogue  # noqa: E402
from kontaktcenter.tickets.models import Ticket  # noqa: E402
from kontaktcenter.tickets.references import format_reference, next_reference_numbers  # noqa: E402
from kontaktcenter.vocabulary import OPEN_STATUSES  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kontaktcenter_bench_workspace"
CHANNELS = ("phone", "web", "sms", "email", "web", "phone")
LANGUAGES = ("sv", "sv", "sv", "ar", "en", "so")
AT_RISK = timedelta(hours=4)


def setup(app, tickets: int, now: datetime) -> int:
    engine = app.extensions[ENGINE_KEY]
    with app.app_context(), Session(engine) as s:
        load_catalogue(s)
        dept = s.scalar(select(Department).where(Department.code == "serviceforvaltningen"))
        queue = Queue(code="bench-console", name_sv="Bänk", name_en="Bench", kind="first_line", department=dept)
        agent = User(username="bench-agent", name="Agent", role="agent", password_hash="!", department=dept)  # noqa: S106 - never signs in
        agent.queues = [queue]
        s.add_all([queue, agent])
        s.flush()
        numbers = next_reference_numbers(s, 2026, tickets)
        start = now - timedelta(days=30)
        rows = [
            {
                "reference": format_reference(2026, n),
                "kind": "errand",
                "status": ("new", "open", "waiting_citizen", "escalated")[i % 4],
                "queue_id": queue.id,
                "priority": 3 + (i % 3),
                "confidential": False,
                "first_arrived_at": start + timedelta(seconds=100 * i),
                "created_at": start,
                "updated_at": start,
                "resolution": "unresolved",
                "escalated": False,
                "reopened_count": 0,
                "route_step": 0,
                "sla_breached": i % 17 == 0,
                "resolve_due_at": now + timedelta(hours=(i % 48) - 6),
            }
            for i, n in enumerate(numbers)
        ]
        ids = s.scalars(insert(Ticket).returning(Ticket.id), rows).all()
        s.execute(
            insert(Contact),
            [
                {
                    "channel": CHANNELS[i % len(CHANNELS)],
                    "ticket_id": ticket_id,
                    "language": LANGUAGES[i % len(LANGUAGES)],
                    "placement": "new",
                    "arrived_at": rows[i]["first_arrived_at"],
                    "reply_channel": "none",
                }
                for i, ticket_id in enumerate(ids)
            ],
        )
        s.commit()
        return agent.id


def baseline(s: Session, agent: User, flt: workspace.ConsoleFilter, page_size: int, now: datetime):
    """Every open ticket of the agent's queues into Python, then filter, count and page there."""
    tickets = s.scalars(
        select(Ticket)
        .where(Ticket.queue_id.in_([q.id for q in agent.queues]), Ticket.status.in_(OPEN_STATUSES))
        .options(selectinload(Ticket.contacts))
    ).all()

    def keep(t: Ticket) -> bool:
        if flt.channel and not any(c.channel == flt.channel for c in t.contacts):
            return False
        if flt.language and not any(c.language == flt.language for c in t.contacts):
            return False
        if flt.sla == "at_risk":
            return not t.sla_breached and t.resolve_due_at is not None and t.resolve_due_at <= now + AT_RISK
        return True

    kept = sorted((t for t in tickets if keep(t)), key=lambda t: (-t.priority, t.first_arrived_at, t.id))
    start = (flt.page - 1) * page_size
    return len(kept), [t.id for t in kept[start : start + page_size]]


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    print(f"database: {url.rsplit('@', 1)[-1]} (fresh)")
    recreate_database(url)
    try:
        upgrade_database(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        agent_id = setup(app, args.tickets, now)
        print(f"setup: {args.tickets} open tickets in one queue in {time.perf_counter() - t0:.1f} s")
        views = {
            "everything, page 1": workspace.ConsoleFilter(),
            "SMS, page 2": workspace.ConsoleFilter(channel="sms", page=2),
            "Arabic at risk, page 1": workspace.ConsoleFilter(language="ar", sla="at_risk"),
        }
        results, ok = {}, True
        engine = app.extensions[ENGINE_KEY]
        with app.app_context():
            for name, flt in views.items():
                with Session(engine) as s:
                    base_s, (base_total, base_ids) = timed(
                        lambda flt=flt: (s.expunge_all(), baseline(s, s.get(User, agent_id), flt, args.page_size, now))[
                            1
                        ],
                        args.repeat,
                    )
                    new_s, page = timed(
                        lambda flt=flt: (
                            s.expunge_all(),
                            workspace.console_page(
                                s, s.get(User, agent_id), flt, page_size=args.page_size, at_risk=AT_RISK, now=now
                            ),
                        )[1],
                        args.repeat,
                    )
                agree = page.total == base_total and [t.id for t in page.tickets] == base_ids
                ok = ok and agree
                results[name] = {
                    "total": page.total,
                    "baseline_ms": round(1000 * base_s, 1),
                    "workspace_ms": round(1000 * new_s, 1),
                    "speedup": round(base_s / new_s, 1),
                    "same_answer": agree,
                }
                print(
                    f"{name:<24} total {page.total:>6}: baseline {1000 * base_s:8.1f} ms, "
                    f"workspace {1000 * new_s:7.1f} ms = {base_s / new_s:6.1f}× faster"
                    f"{'' if agree else '   ANSWERS DIFFER'}"
                )
        engine.dispose()
        print(f"both ways give the same totals and rows: {'yes' if ok else 'NO'}")
        print(json.dumps({"tickets": args.tickets, "page_size": args.page_size, "views": results, "ok": ok}))
        return 0 if ok else 1
    finally:
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
