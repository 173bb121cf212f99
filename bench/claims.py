#!/usr/bin/env python3
"""Benchmark: "take next" with 20 agents pulling from one queue at once on PostgreSQL.

Makes its own PostgreSQL database (BENCH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/kontaktcenter_bench), migrates it,
loads the catalogue, adds one queue with --agents agents and --tickets waiting tickets.
In the same run it measures

  * the baseline: one agent taking tickets alone (--baseline tickets), and
  * --agents agents, each in its own process with its own connection (as web workers
    are), taking tickets until the queue is empty — the real casework.claims.take_next,
    one transaction per claim,

then counts in the database how often each ticket was assigned (events and the
assignee column against what each agent was told). Bars: ≥ 500 claims/s, 0 double
assignments, 0 tickets left. It also reports the CPU time one claim costs (the agents'
processes plus their PostgreSQL backends, read from /proc): unlike claims/s that does
not depend on what else the machine is running. Prints a summary and, last, one line
of JSON.

    .venv/bin/python bench/claims.py [--agents 20] [--tickets 10000] [--baseline 1000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_url, drop_database, recreate_database  # noqa: E402

from kontaktcenter.app import create_app  # noqa: E402
from kontaktcenter.auth.service import hash_password  # noqa: E402
from kontaktcenter.casework.claims import take_next  # noqa: E402
from kontaktcenter.commands import upgrade_database  # noqa: E402
from kontaktcenter.database import ENGINE_KEY  # noqa: E402
from kontaktcenter.directory.models import Department, Queue, User  # noqa: E402
from kontaktcenter.directory.service import load_catalogue  # noqa: E402
from kontaktcenter.tickets.models import Ticket, TicketEvent  # noqa: E402
from kontaktcenter.tickets.references import format_reference, next_reference_numbers  # noqa: E402

BAR_CLAIMS_PER_S = 500


def setup(app, agents: int, tickets: int) -> tuple[int, list[int]]:
    engine = app.extensions[ENGINE_KEY]
    with app.app_context(), Session(engine) as s:
        load_catalogue(s)
        dept = s.scalar(select(Department).where(Department.code == "serviceforvaltningen"))
        queue = Queue(code="bench-claims", name_sv="Bänk", name_en="Bench", kind="first_line", department=dept)
        s.add(queue)
        password = hash_password("bench-password-1")
        users = [
            User(
                username=f"bench-agent-{i}",
                name=f"Agent {i}",
                role="agent",
                password_hash=password,
                department=dept,
                queues=[queue],
                presence="available",
            )
            for i in range(agents)
        ]
        s.add_all(users)
        s.flush()
        numbers = next_reference_numbers(s, 2026, tickets)
        start = datetime(2026, 3, 2, 8, tzinfo=UTC)
        s.execute(
            insert(Ticket),
            [
                {
                    "reference": format_reference(2026, n),
                    "kind": "errand",
                    "status": "new",
                    "queue_id": queue.id,
                    "priority": 3 + (i % 3),
                    "confidential": False,
                    "first_arrived_at": start + timedelta(seconds=i),
                    "created_at": start,
                    "updated_at": start,
                    "resolution": "unresolved",
                    "escalated": False,
                    "reopened_count": 0,
                    "route_step": 0,
                    "sla_breached": False,
                }
                for i, n in enumerate(numbers)
            ],
        )
        s.commit()
        return queue.id, [u.id for u in users]


def _backend_cpu_s(pid: int) -> float | None:
    """CPU seconds used so far by a PostgreSQL backend on this machine (None if not readable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _agent(url: str, agent_id: int, limit: int | None, barrier, results) -> None:
    """One agent in its own process (as in a real deployment: its own web worker and connection)."""
    claimed: list[int] = []
    error = ""
    cpu = (0.0, None)
    try:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
        engine = app.extensions[ENGINE_KEY]
        with app.app_context(), Session(engine, expire_on_commit=False) as s:
            agent = s.get(User, agent_id)
            agent.queues  # noqa: B018 - loaded before the clock starts
            backend = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
            s.commit()
            barrier.wait()
            own0, db0 = time.process_time(), _backend_cpu_s(backend)
            while limit is None or len(claimed) < limit:
                ticket = take_next(s, agent)
                s.commit()
                if ticket is None:
                    break
                claimed.append(ticket.id)
            db1 = _backend_cpu_s(backend)
            cpu = (time.process_time() - own0, None if db0 is None or db1 is None else db1 - db0)
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - counted and reported
        error = repr(exc)
    results.put((agent_id, claimed, error, cpu))


def run_agents(
    url: str, agent_ids: list[int], limit_per_agent: int | None = None
) -> tuple[list[tuple[int, int]], float, list[str], dict]:
    """Each agent in its own process takes tickets until none is left (or its limit)."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(agent_ids) + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_agent, args=(url, a, limit_per_agent, barrier, results)) for a in agent_ids]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    collected = [results.get(timeout=600) for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    claims = [(ticket_id, agent_id) for agent_id, claimed, _, _ in collected for ticket_id in claimed]
    db_cpu = [c[1] for *_, c in collected]
    cpu = {"agents_s": sum(c[0] for *_, c in collected), "database_s": None if None in db_cpu else sum(db_cpu)}
    return claims, elapsed, [error for _, _, error, _ in collected if error], cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=1_000, help="tickets the lone agent takes first")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    url = bench_url()

    print(f"database: {url.rsplit('@', 1)[-1]} (fresh)")
    recreate_database(url)
    try:
        upgrade_database(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
        t0 = time.perf_counter()
        queue_id, agent_ids = setup(app, args.agents, args.tickets)
        print(f"setup: {args.tickets} waiting tickets, {args.agents} agents in {time.perf_counter() - t0:.1f} s")
        # The agents are forked: no open connection of this process may be inherited by them.
        app.extensions[ENGINE_KEY].dispose()

        base_claims, base_s, base_errors, _ = run_agents(url, agent_ids[:1], limit_per_agent=args.baseline)
        baseline = len(base_claims) / base_s
        print(f"baseline, 1 agent:   {len(base_claims):>6} claims in {base_s:6.2f} s = {baseline:8.1f} claims/s")

        claims, elapsed, errors, cpu = run_agents(url, agent_ids)
        rate = len(claims) / elapsed
        print(
            f"{args.agents} agents at once: {len(claims):>6} claims in {elapsed:6.2f} s = {rate:8.1f} claims/s "
            f"({rate / baseline:.2f}× the lone agent)"
        )

        told = Counter(ticket_id for ticket_id, _ in base_claims + claims)
        engine = app.extensions[ENGINE_KEY]
        with Session(engine) as s:
            assigned_events = Counter(
                s.scalars(
                    select(TicketEvent.ticket_id)
                    .join(Ticket)
                    .where(Ticket.queue_id == queue_id, TicketEvent.kind == "assigned")
                )
            )
            column = dict(s.execute(select(Ticket.id, Ticket.assignee_id).where(Ticket.queue_id == queue_id)).all())
            left = s.scalar(
                select(func.count())
                .select_from(Ticket)
                .where(Ticket.queue_id == queue_id, Ticket.assignee_id.is_(None))
            )
        owner = dict(base_claims + claims)
        double = sum(1 for n in told.values() if n > 1) + sum(1 for n in assigned_events.values() if n > 1)
        mismatched = sum(1 for tid, agent in owner.items() if column.get(tid) != agent)
        per_agent = Counter(agent for _, agent in claims)
        # CPU per claim does not depend on what else the machine runs: it says what the
        # claims/s could be on a quiet machine with this many cores.
        agent_ms = 1000 * cpu["agents_s"] / max(len(claims), 1)
        db_ms = None if cpu["database_s"] is None else 1000 * cpu["database_s"] / max(len(claims), 1)
        cores = os.cpu_count() or 1
        if db_ms is not None:
            print(
                f"CPU per claim: {agent_ms:.2f} ms in the agents + {db_ms:.2f} ms in PostgreSQL "
                f"→ at most {1000 * cores / (agent_ms + db_ms):.0f} claims/s on {cores} idle core(s); load now {os.getloadavg()[0]:.1f}"
            )
        print(
            f"double assignments: {double}   told ≠ stored: {mismatched}   left unassigned: {left}   errors: {len(errors) + len(base_errors)}"
        )
        print(f"claims per agent: min {min(per_agent.values(), default=0)}, max {max(per_agent.values(), default=0)}")
        ok = (
            rate >= BAR_CLAIMS_PER_S
            and double == 0
            and mismatched == 0
            and left == 0
            and not errors
            and not base_errors
        )
        print(f"bar (≥ {BAR_CLAIMS_PER_S} claims/s, 0 double, 0 left): {'met' if ok else 'NOT met'}")
        engine.dispose()
        print(
            json.dumps(
                {
                    "agents": args.agents,
                    "tickets": args.tickets,
                    "claims": len(claims),
                    "claims_per_s": round(rate, 1),
                    "baseline_claims_per_s": round(baseline, 1),
                    "ratio_vs_baseline": round(rate / baseline, 2),
                    "double_assigned": double,
                    "mismatched": mismatched,
                    "left_unassigned": left,
                    "errors": len(errors) + len(base_errors),
                    "cpu_ms_per_claim": None if db_ms is None else round(agent_ms + db_ms, 2),
                    "load_avg_1m": round(os.getloadavg()[0], 1),
                }
            )
        )
        return 0 if ok else 1
    finally:
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
