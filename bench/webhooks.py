"""Twilio webhooks under load: the simulator against gunicorn (2 workers) on PostgreSQL.

Makes its own database (BENCH_DATABASE_URL, default …/kontaktcenter_bench), starts
gunicorn on a free loopback port, measures a baseline (GET /healthz on the same server)
and then simulated calls and SMS at concurrency 8 with 10 % of the webhooks sent twice,
as Twilio retries do. Finally it counts, in the database, every call and text the server
acknowledged: lost = acknowledged but not stored, duplicated = stored more than once
(or a ticket made twice). A last phase paces the 8 concurrent calls like callers (a pause
before each webhook), so the latency of a busy but unsaturated server is shown beside the
saturating one; `p50_ms`/`p99_ms` are the saturating figures. `--history N` first imports
N past contacts, so the webhooks' queries meet the table sizes of a city's database.
Prints a summary and, last, one line of JSON.

    .venv/bin/python bench/webhooks.py [--calls 400] [--sms 200] [--history 1000000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kontaktcenter.contacts.models import Contact  # noqa: E402
from kontaktcenter.tickets.models import Ticket  # noqa: E402
from kontaktcenter_dev import simulate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    bench_url,
    free_port,
    import_history,
    recreate_database,
    start_gunicorn,
    stop,
    write_history_csv,
)

TOKEN = "bench-twilio-token"  # noqa: S105 - a throwaway token for a throwaway server
CONCURRENCY = 8
DUPLICATE_RATE = 0.10
# Not measured; their contacts are counted with the rest.
WARMUP_CALLS = 24
WARMUP_SMS = 16
# Seconds before each webhook of a paced call (real callers take seconds; compressed here).
PACED_THINK = 0.25
# Open around the clock on working days, so the bench measures queueing, not the closed message.
CONFIG = """
[opening_hours.default]
open = "00:00"
close = "23:59"
eve_close = "23:59"
"""


def prepare(url: str, env: dict[str, str]) -> list[int]:
    """Migrate, load the catalogue, the demo users and a shift of agents; returns the agents' ids.

    One agent per concurrent caller, so answered calls measure the webhooks, not staffing
    (the simulator lets each agent talk with one caller at a time).
    """
    from kontaktcenter.app import create_app
    from kontaktcenter.auth.service import hash_password
    from kontaktcenter.commands import upgrade_database
    from kontaktcenter.database import ENGINE_KEY, db
    from kontaktcenter.demo import load_demo_users
    from kontaktcenter.directory.catalogue import DEMO_USERS
    from kontaktcenter.directory.models import Department, Queue, User
    from kontaktcenter.directory.service import load_catalogue

    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": env["SECRET_KEY"]})
    with app.app_context():
        load_catalogue(db.session)
        # The demo's users with throwaway passwords (nothing signs in as them here).
        load_demo_users(db.session, {u[0]: secrets.token_urlsafe(12) for u in DEMO_USERS})
        first_line = list(db.session.scalars(select(Queue).where(Queue.kind == "first_line")))
        department = db.session.scalar(select(Department).where(Department.is_contact_center.is_(True)))
        password = hash_password(secrets.token_urlsafe(16))
        for i in range(CONCURRENCY):
            agent = User(
                username=f"bench-agent-{i}",
                name=f"Bench Agent {i}",
                role="agent",
                password_hash=password,
                department=department,
                presence="available",
                phone_identity=f"client:bench-{i}",
            )
            agent.queues = first_line
            db.session.add(agent)
        db.session.commit()
        agents = list(db.session.scalars(select(User.id).where(User.role == "agent")))
        db.session.remove()
    app.extensions[ENGINE_KEY].dispose()
    return agents


def baseline(port: int, n: int) -> simulate.Stats:
    """The same server's cheapest request at the same concurrency, sent with the simulator's
    client (the standard library's): what the webhooks are compared with."""
    stats = simulate.Stats()
    local = threading.local()

    def one(_):
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        started = time.perf_counter()
        local.connection.request("GET", "/healthz")
        response = local.connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"/healthz answered {response.status}")
        with stats.lock:
            stats.latencies_ms.append((time.perf_counter() - started) * 1000)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, range(n)))
    return stats


def count(url: str, sids: set[str], since_ticket_id: int) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        stored_rows = conn.scalar(select(func.count(Contact.id)).where(Contact.provider_sid.in_(sids))) if sids else 0
        stored = (
            conn.scalar(select(func.count(func.distinct(Contact.provider_sid))).where(Contact.provider_sid.in_(sids)))
            if sids
            else 0
        )
        # Every ticket the run made belongs to a contact; one without is a half-made duplicate.
        orphan_tickets = conn.scalar(
            select(func.count(Ticket.id)).where(Ticket.id > since_ticket_id, ~Ticket.contacts.any())
        )
        contact_tickets = (
            conn.scalar(
                select(func.count(func.distinct(Contact.ticket_id))).where(
                    Contact.provider_sid.in_(sids), Contact.ticket_id.is_not(None)
                )
            )
            if sids
            else 0
        )
        tickets_made = conn.scalar(select(func.count(Ticket.id)).where(Ticket.id > since_ticket_id))
    engine.dispose()
    return {
        "stored": stored,
        "duplicated": (stored_rows - stored) + orphan_tickets,
        "tickets_made": tickets_made,
        "tickets_of_contacts": contact_tickets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--sms", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="first import this many past contacts (as a city's database holds), so queries meet real table sizes",
    )
    args = parser.parse_args()

    url = bench_url()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write(CONFIG)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret",
        "PUBLIC_BASE_URL": base,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "KONTAKTCENTER_CONFIG": config.name,
        "SCHEDULER_ENABLED": "false",
    }
    print(
        f"database {re.sub(r'//[^@]*@', '//', url)}; gunicorn (2 workers) on {base}; concurrency {CONCURRENCY}; "
        f"{DUPLICATE_RATE:.0%} of webhooks sent twice"
    )
    recreate_database(url)
    agents = prepare(url, env)
    if args.history:
        with tempfile.TemporaryDirectory() as tmp:
            history = Path(tmp) / "history.csv"
            write_history_csv(history, args.history)
            seconds, summary = import_history(history, env)
        print(f"history: {summary} ({seconds:.0f} s)")
    server = start_gunicorn("wsgi:app", port, env)
    try:
        base_stats = baseline(port, 400)
        # Warm both workers (imports, rule files, prepared statements) as a live server is;
        # what the warm-up stored is still counted below: nothing acknowledged may be lost.
        warm_calls = simulate.run(
            "calls",
            WARMUP_CALLS,
            base_url=base,
            public_url=base,
            auth_token=TOKEN,
            concurrency=CONCURRENCY,
            duplicate_rate=DUPLICATE_RATE,
            agent_ids=agents,
            seed=args.seed - 1,
        )
        warm_sms = simulate.run(
            "sms",
            WARMUP_SMS,
            base_url=base,
            public_url=base,
            auth_token=TOKEN,
            concurrency=CONCURRENCY,
            duplicate_rate=DUPLICATE_RATE,
            seed=args.seed - 2,
        )
        started, cpu = time.perf_counter(), time.process_time()
        calls = simulate.run(
            "calls",
            args.calls,
            base_url=base,
            public_url=base,
            auth_token=TOKEN,
            concurrency=CONCURRENCY,
            duplicate_rate=DUPLICATE_RATE,
            agent_ids=agents,
            seed=args.seed,
        )
        call_seconds = time.perf_counter() - started
        simulator_cpu = (time.process_time() - cpu) / call_seconds  # in cores: near 1.0, the simulator is the limit
        started = time.perf_counter()
        texts = simulate.run(
            "sms",
            args.sms,
            base_url=base,
            public_url=base,
            auth_token=TOKEN,
            concurrency=CONCURRENCY,
            duplicate_rate=DUPLICATE_RATE,
            seed=args.seed + 1,
        )
        sms_seconds = time.perf_counter() - started
        # The same 8 concurrent calls, paced like callers (a pause before each webhook):
        # what one webhook costs when the server is busy but not saturated.
        paced = simulate.run(
            "calls",
            max(CONCURRENCY, args.calls // 4),
            base_url=base,
            public_url=base,
            auth_token=TOKEN,
            concurrency=CONCURRENCY,
            duplicate_rate=DUPLICATE_RATE,
            agent_ids=agents,
            seed=args.seed + 2,
            think=PACED_THINK,
        )
    finally:
        stop(server)
        os.unlink(config.name)

    acknowledged = (
        calls.acknowledged_calls
        | texts.acknowledged_messages
        | warm_calls.acknowledged_calls
        | warm_sms.acknowledged_messages
        | paced.acknowledged_calls
    )
    figures = count(url, acknowledged, since_ticket_id=0)
    latencies = simulate.Stats(latencies_ms=calls.latencies_ms + texts.latencies_ms)
    p50, p99 = latencies.percentile(50), latencies.percentile(99)
    b50, b99 = base_stats.percentile(50), base_stats.percentile(99)
    result = {
        "history": args.history,
        "calls": args.calls,
        "sms": args.sms,
        "calls_per_s": round(args.calls / call_seconds, 1),
        "sms_per_s": round(args.sms / sms_seconds, 1),
        "webhook_requests": calls.requests + texts.requests,
        "repeated_requests": calls.duplicates_sent + texts.duplicates_sent,
        "failed_requests": sum(st.failures.total() for st in (calls, texts, warm_calls, warm_sms, paced)),
        "simulator_cpu": round(simulator_cpu, 2),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "baseline_p50_ms": round(b50, 1),
        "baseline_p99_ms": round(b99, 1),
        "p50_vs_baseline": round(p50 / b50, 2),
        "p99_vs_baseline": round(p99 / b99, 2),
        "paced_calls": sum(paced.outcomes.values()),
        "paced_think_s": PACED_THINK,
        "paced_p50_ms": round(paced.percentile(50), 1),
        "paced_p99_ms": round(paced.percentile(99), 1),
        "acknowledged": len(acknowledged),
        "stored": figures["stored"],
        "lost": len(acknowledged) - figures["stored"],
        "duplicated": figures["duplicated"],
    }
    print()
    print(
        f"calls: {args.calls} in {call_seconds:.1f} s = {result['calls_per_s']} calls/s "
        f"({dict(sorted(calls.outcomes.items()))})"
    )
    print(
        f"sms:   {args.sms} in {sms_seconds:.1f} s = {result['sms_per_s']} sms/s ({dict(sorted(texts.outcomes.items()))})"
    )
    print(
        f"webhook requests: {result['webhook_requests']} (of which {result['repeated_requests']} Twilio-style repeats), "
        f"failed: {result['failed_requests']}"
    )
    print(
        f"webhook latency, back to back (saturating): p50 {p50:.1f} ms, p99 {p99:.1f} ms (bar: p99 < 50 ms); "
        f"the simulator used {simulator_cpu:.2f} of a core"
    )
    print(
        f"webhook latency, {result['paced_calls']} calls paced {PACED_THINK} s between webhooks: "
        f"p50 {result['paced_p50_ms']} ms, p99 {result['paced_p99_ms']} ms"
    )
    print(
        f"baseline GET /healthz: p50 {b50:.1f} ms, p99 {b99:.1f} ms → webhooks ×{result['p50_vs_baseline']} at p50, "
        f"×{result['p99_vs_baseline']} at p99"
    )
    print(
        f"acknowledged (with {WARMUP_CALLS} warm-up calls and {WARMUP_SMS} SMS) {result['acknowledged']}, stored {result['stored']}, lost {result['lost']}, "
        f"duplicated {result['duplicated']}; tickets made {figures['tickets_made']} for {figures['tickets_of_contacts']} ticketed contacts"
    )
    for path, values in sorted({**calls.by_path, **texts.by_path}.items()):
        one = simulate.Stats(latencies_ms=values)
        print(f"  {path:<28} n={len(values):<5} p50 {one.percentile(50):6.1f} ms  p99 {one.percentile(99):6.1f} ms")
    for what, n in (
        calls.failures + texts.failures + warm_calls.failures + warm_sms.failures + paced.failures
    ).most_common(5):
        print(f"  failure: {n} × {what}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
