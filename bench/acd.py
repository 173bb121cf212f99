#!/usr/bin/env python3
"""Benchmark: automatic call distribution with 50 agents and 500 waiting calls, events from 4 processes at once.

Makes its own PostgreSQL database (BENCH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/kontaktcenter_bench_acd), migrates it, loads
the catalogue and adds one queue with --agents agents (every fifth also speaks Arabic) and
--calls waiting calls (every tenth needs Arabic). Then --procs processes, each with its own
connection and the real code of kontaktcenter.channels.voice.distribution (the Twilio REST
client on its recording transport: no network), feed the events that free a match for
their share of the agents, as web workers do:

  * an agent becomes available (signing in, or coming back after a missed offer),
  * an offered call is answered (90 %) or rings out (10 %: missed, the call is re-offered),
  * a call ends (the caller's status callback frees the agent),

until every call has been answered (or RUN_LIMIT_S). Measured in the same run:

  * baseline: every other "agent free" event, in the same processes at the same moment,
    is followed by a bare `SELECT … FOR UPDATE SKIP LOCKED` pick of the longest-waiting
    call of the agent's queue (timed, rolled back, then the offer is made untimed): what
    any pick at all costs on this machine under this load;
  * distribution: for the other events, the time from the commit of an "agent free" event to the commit of
    that agent's offer row, taken when the agent's phone is dialled (the REST request
    that follows that commit at once).

Checked from the rows afterwards: double offers (two open offers of one call, or of one
agent, whose intervals overlap) and ineligible offers (agent not in the call's queue,
without the call's language, or talking in another call at the offer's moment). Bars:
0 double offers, 0 ineligible offers, p99 < 100 ms. Prints a summary and, last, one line
of JSON.

    .venv/bin/python bench/acd.py [--agents 50] [--calls 500] [--procs 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import multiprocessing
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import drop_database, recreate_database  # noqa: E402

from kontaktcenter.app import create_app  # noqa: E402
from kontaktcenter.casework.service import set_presence  # noqa: E402
from kontaktcenter.channels.voice import calls, distribution  # noqa: E402
from kontaktcenter.commands import upgrade_database  # noqa: E402
from kontaktcenter.contacts.calls import CallOffer, CallRequirement  # noqa: E402
from kontaktcenter.contacts.models import Contact  # noqa: E402
from kontaktcenter.database import ENGINE_KEY, utcnow  # noqa: E402
from kontaktcenter.directory.models import Department, Queue, User, UserLanguage  # noqa: E402
from kontaktcenter.directory.service import load_catalogue  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kontaktcenter_bench_acd"
BAR_P99_MS = 100
MISS_SHARE = 0.10
BASELINE_EVENTS_PER_AGENT = 10
# The run stops here even if calls still wait (a loaded machine); the summary says how many were answered.
RUN_LIMIT_S = 60


def bench_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def make_app(url: str):
    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "TESTING": True,  # the Twilio client records instead of calling Twilio
            "PUBLIC_BASE_URL": "http://127.0.0.1:8100",
            "phone": {"automatic_distribution": True, "reservation_seconds": 15},
        }
    )


def setup(app, agents: int, waiting: int) -> tuple[int, list[int]]:
    engine = app.extensions[ENGINE_KEY]
    with app.app_context(), Session(engine) as s:
        load_catalogue(s)
        dept = s.scalar(select(Department).where(Department.code == "serviceforvaltningen"))
        queue = Queue(code="bench-acd", name_sv="Bänk", name_en="Bench", kind="first_line", department=dept)
        s.add(queue)
        start = utcnow() - timedelta(hours=1)
        users = []
        for i in range(agents):
            user = User(
                username=f"bench-acd-{i}",
                name=f"Agent {i}",
                role="agent",
                password_hash="-",  # noqa: S106 - no password: these agents never sign in
                department=dept,
                queues=[queue],
                presence="offline",
                presence_since=start,
                phone_identity=f"+4670100{i:04d}",
                max_open_tickets=5,
            )
            user.language_skills = [UserLanguage(language="sv")] + ([UserLanguage(language="ar")] if i % 5 == 0 else [])
            users.append(user)
        s.add_all(users)
        s.flush()
        contacts = [
            Contact(
                channel="phone",
                provider_sid=f"CA{i:032d}",
                queue_id=queue.id,
                language="ar" if i % 10 == 0 else "sv",
                arrived_at=start + timedelta(seconds=i),
                started_at=start + timedelta(seconds=i),
            )
            for i in range(waiting)
        ]
        s.add_all(contacts)
        s.flush()
        # As the menu webhook notes them when the call is queued (distribution.note_requirements).
        s.add_all(CallRequirement(contact_id=c.id, language=c.language) for c in contacts)
        s.commit()
        ids = queue.id, [u.id for u in users]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))  # as autovacuum would have: plans for these table sizes
    return ids


def _bare_pick(s: Session, queue_id: int) -> int | None:
    return s.execute(
        text(
            "SELECT id FROM contacts WHERE queue_id = :q AND channel = 'phone' AND outcome IS NULL "
            "AND answered_at IS NULL AND ended_at IS NULL ORDER BY arrived_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
        ),
        {"q": queue_id},
    ).scalar()


def _free(s: Session, agent_id: int) -> float:
    """The agent becomes available (an event); returns the moment its commit returned."""
    set_presence(s, s.get(User, agent_id), "available", utcnow())
    s.commit()
    return time.perf_counter()


class _TimedCalls:
    """The Twilio client's Calls, noting when an agent's phone is dialled (right after the offer's commit)."""

    def __init__(self, client, rung: list[float]):
        self._client, self._rung = client, rung

    def create(self, **kw):
        self._rung.append(time.perf_counter())
        return self._client.calls.create(**kw)

    def __call__(self, sid):
        return self._client.calls(sid)


class _TimedClient:
    def __init__(self, client, rung: list[float]):
        self.calls = _TimedCalls(client, rung)


def _timed(ringer: distribution.Ringer, rung: list[float]) -> distribution.Ringer:
    return dataclasses.replace(ringer, client=_TimedClient(ringer.client, rung))


def _worker(url: str, agent_ids: list[int], queue_id: int, seed: int, barrier, results) -> None:
    """Feed the events of these agents until no call waits, with the real distribution code.

    Every other "agent free" event is first timed with the bare pick (rolled back), the
    baseline, then given its offer untimed; the others time the offer.
    """
    latencies: list[float] = []
    baseline: list[float] = []
    flip = itertools.count()
    events = 0
    error = ""
    rng = random.Random(seed)
    try:
        app = make_app(url)
        engine = app.extensions[ENGINE_KEY]
        with app.app_context(), Session(engine, expire_on_commit=False) as s:
            rung: list[float] = []
            ringer = _timed(distribution.app_ringer(), rung)
            barrier.wait()
            deadline = time.monotonic() + RUN_LIMIT_S

            def offer_to_freed(agent_id: int, committed: float) -> None:
                nonlocal events
                events += 1
                if next(flip) % 2:
                    _bare_pick(s, queue_id)
                    baseline.append(time.perf_counter() - committed)
                    s.rollback()
                    distribution.offer_next(s, ringer, agent_id=agent_id)
                elif distribution.offer_next(s, ringer, agent_id=agent_id):
                    latencies.append(rung[-1] - committed)

            def free_and_offer(agent_id: int) -> None:
                offer_to_freed(agent_id, _free(s, agent_id))

            for agent_id in agent_ids:  # signing in
                free_and_offer(agent_id)
            while time.monotonic() < deadline:
                s.expire_all()
                offers = s.scalars(
                    select(CallOffer).where(CallOffer.user_id.in_(agent_ids), CallOffer.result.is_(None))
                ).all()
                for offer in offers:
                    now = utcnow()
                    if rng.random() < MISS_SHARE:
                        ended = distribution.offer_leg_ended(s, offer.id, "no-answer", now)
                        s.commit()
                        events += 1
                        distribution.offer_next(s, ringer, contact_id=ended.contact_id)
                    else:
                        try:
                            distribution.answer_offer(s, ringer, offer.id, offer.agent_call_sid or "", now)
                        except distribution.DistributionError:
                            s.rollback()
                talking = s.execute(
                    select(Contact.provider_sid, Contact.answered_by_id).where(
                        Contact.answered_by_id.in_(agent_ids), Contact.ended_at.is_(None)
                    )
                ).all()
                for sid, agent_id in talking:
                    calls.record_status(s, call_sid=sid, status="completed", duration=60, caller=None, at=utcnow())
                    s.commit()
                    offer_to_freed(agent_id, time.perf_counter())
                missed = s.scalars(select(User.id).where(User.id.in_(agent_ids), User.presence == "missed")).all()
                for agent_id in missed:  # back at the phone
                    free_and_offer(agent_id)
                s.commit()
                left = s.scalar(
                    select(func.count()).select_from(Contact).where(Contact.channel == "phone", calls._waiting())
                )
                if not left and not offers and not talking:
                    break
                if not offers and not talking and not missed:
                    time.sleep(0.005)  # nothing of ours to do: another process holds the rest
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - counted and reported
        error = repr(exc)
    results.put((latencies, baseline, error, events))


def run(url: str, shares: list[list[int]], queue_id: int):
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(shares) + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, share, queue_id, 1000 + n, barrier, results))
        for n, share in enumerate(shares)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    collected = [results.get(timeout=300) for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    latencies = [x for lat, *_ in collected for x in lat]
    baseline = [x for _, base, *_ in collected for x in base]
    return latencies, baseline, [e for *_, e, _ in collected if e], sum(n for *_, n in collected), elapsed


def _overlaps(intervals: list[tuple[datetime, datetime]]) -> int:
    """How many intervals start before the previous one (in start order) has ended."""
    count = 0
    intervals.sort()
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        if start < end:
            count += 1
    return count


def check_rows(app, queue_id: int) -> dict[str, int]:
    engine = app.extensions[ENGINE_KEY]
    far = datetime.max.replace(tzinfo=UTC)
    with Session(engine) as s:
        offers = s.execute(
            select(CallOffer.contact_id, CallOffer.user_id, CallOffer.offered_at, CallOffer.ended_at, CallOffer.result)
        ).all()
        by_call: dict[int, list] = {}
        by_agent: dict[int, list] = {}
        for contact_id, user_id, offered, ended, _ in offers:
            by_call.setdefault(contact_id, []).append((offered, ended or far))
            by_agent.setdefault(user_id, []).append((offered, ended or far))
        double = sum(_overlaps(v) for v in by_call.values()) + sum(_overlaps(v) for v in by_agent.values())
        members = set(
            s.execute(text("SELECT user_id FROM user_queues WHERE queue_id = :q"), {"q": queue_id}).scalars().all()
        )
        languages = set(s.execute(select(UserLanguage.user_id, UserLanguage.language)).all())
        needs = dict(s.execute(select(CallRequirement.contact_id, CallRequirement.language)).all())
        queues = dict(s.execute(select(Contact.id, Contact.queue_id)).all())
        talks: dict[int, list] = {}
        for agent_id, answered, ended in s.execute(
            select(Contact.answered_by_id, Contact.answered_at, Contact.ended_at).where(
                Contact.answered_by_id.is_not(None)
            )
        ):
            talks.setdefault(agent_id, []).append((answered, ended or far))
        ineligible = 0
        for contact_id, user_id, offered, _, _ in offers:
            wrong_queue = queues.get(contact_id) != queue_id or user_id not in members
            wrong_language = needs.get(contact_id) is not None and (user_id, needs[contact_id]) not in languages
            on_call = any(a <= offered < e for a, e in talks.get(user_id, []))
            ineligible += wrong_queue or wrong_language or on_call
        answered = s.scalar(select(func.count()).select_from(Contact).where(Contact.answered_at.is_not(None)))
        missed = sum(1 for *_, result in offers if result == "missed")
    return {"offers": len(offers), "double": double, "ineligible": ineligible, "answered": answered, "missed": missed}


def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    url = bench_url()

    print(f"database: {url.rsplit('@', 1)[-1]} (fresh)")
    recreate_database(url)
    try:
        upgrade_database(url)
        app = make_app(url)
        t0 = time.perf_counter()
        queue_id, agent_ids = setup(app, args.agents, args.calls)
        print(f"setup: {args.calls} waiting calls, {args.agents} agents in {time.perf_counter() - t0:.1f} s")
        app.extensions[ENGINE_KEY].dispose()  # the processes are forked: no inherited connection
        shares = [agent_ids[n :: args.procs] for n in range(args.procs)]

        lat, base, errors, events, elapsed = run(url, shares, queue_id)
        base_errors: list[str] = []
        print(
            f"baseline (bare FOR UPDATE SKIP LOCKED pick), {len(base)} events: "
            f"p50 {_ms(base, 0.5):.2f} ms, p99 {_ms(base, 0.99):.2f} ms"
        )
        rows = check_rows(app, queue_id)
        p50, p99, base99 = _ms(lat, 0.5), _ms(lat, 0.99), _ms(base, 0.99)
        print(
            f"distribution, {args.procs} processes: {events} events in {elapsed:.1f} s, {rows['offers']} offers "
            f"({rows['missed']} missed and re-offered), {rows['answered']} of {args.calls} calls answered"
        )
        print(
            f"agent free → offer row: p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(lat)} offers "
            f"({p99 / base99:.1f}× the bare pick's p99)"
        )
        print(
            f"double offers: {rows['double']}   ineligible offers: {rows['ineligible']}   errors: {len(errors + base_errors)}"
        )
        for e in errors + base_errors:
            print(f"  error: {e}")
        ok = rows["double"] == 0 and rows["ineligible"] == 0 and p99 < BAR_P99_MS and not errors and not base_errors
        print(f"bar (0 double, 0 ineligible, p99 < {BAR_P99_MS} ms): {'met' if ok else 'NOT met'}")
        app.extensions[ENGINE_KEY].dispose()
        print(
            json.dumps(
                {
                    "agents": args.agents,
                    "calls": args.calls,
                    "processes": args.procs,
                    "offers": rows["offers"],
                    "answered": rows["answered"],
                    "double_offers": rows["double"],
                    "ineligible_offers": rows["ineligible"],
                    "offer_p50_ms": round(p50, 2),
                    "offer_p99_ms": round(p99, 2),
                    "baseline_p50_ms": round(_ms(base, 0.5), 2),
                    "baseline_p99_ms": round(base99, 2),
                    "ratio_p99_vs_baseline": round(p99 / base99, 2),
                    "errors": len(errors) + len(base_errors),
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
