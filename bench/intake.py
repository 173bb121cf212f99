"""Intake through the JSON API: POST /api/v1/contacts on gunicorn (2 workers) against PostgreSQL, concurrency 8.

Makes its own database (BENCH_DATABASE_URL, default …/kontaktcenter_bench), loads
the catalogue and demo users, creates API tokens, and then measures, with the same load
generator and the same gunicorn set-up (2 workers, config/gunicorn.conf.py, on a free
loopback port):

1. the ceiling: a bare Flask app whose POST /api/v1/contacts only parses the JSON and
   answers JSON (no database) — what this machine's HTTP stack can do at all;
2. queued intake: POST /api/v1/contacts of Kontaktcenter as deployed at city scale
   (API_INTAKE = "queued"): validated, stored and acknowledged (202), while
   `kontaktcenter intake-worker` (--workers of them) runs beside gunicorn on the same
   machine and routes them set-based in batches (rules, ticket, SLA clocks, offer to
   an agent). By default here they run at nice 0 and do not give way (--nice 0
   --give-way 1; the worker's own defaults are 10 and 0.5): on a machine shared with
   other work, both leave routing to wait for that work, not for the web server. Each request has its own Idempotency-Key;
   a fifth of the contacts come from a pool of returning citizens (RETURNING_SHARE), whose history routing reads, the rest from new ones.
   Measured: acknowledged/s, and routed end to end/s: the contacts acknowledged in the
   phase / (the last one routed − the first acknowledgement); the workers' CPU time
   (/proc) per routed contact;
3. direct intake (API_INTAKE = "direct"): routed before the answer, by the same
   placement with a batch of one;
4. with --workers N above 1: a stored backlog drained by one worker and by N (give-way
   off), each on a new database of its own holding only its backlog (the same start for
   both), routed/s from the first routed batch until none waits, and how busy the machine's
   CPUs were meanwhile (with every CPU busy, more workers cannot route faster: whether the
   machine had the cores).

Then it counts in the databases every contact the server acknowledged: lost =
acknowledged but not stored, unrouted = stored without a ticket. Bars (of the ceiling):
acknowledged ≥ 0.30, routed end to end ≥ 0.15, direct ≥ 0.12; worker CPU ≤ 4 ms per
routed contact. The load generator is the standard library's HTTP client, which costs
the shared cores little; it reports its own CPU use, since a load generator using a whole
core measures itself (with `requests`, this machine's ceiling was the client's at about
1,200/s). Prints a summary and, last, one line of JSON.

    .venv/bin/python bench/intake.py [--seconds 30] [--concurrency 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from kontaktcenter.contacts.models import Contact  # noqa: E402
from kontaktcenter.intake.worker import WAITING  # noqa: E402
from kontaktcenter.tickets.models import Ticket  # noqa: E402

sys.path.insert(0, str(BENCH))
from _common import (  # noqa: E402
    bench_url,
    drop_database,
    executable,
    free_port,
    recreate_database,
    start_gunicorn,
    stop,
)

BAR = 0.30  # acknowledged/s of the ceiling
ROUTED_BAR = 0.15  # routed end to end/s of the ceiling
DIRECT_BAR = 0.12  # direct intake/s of the ceiling
CPU_BAR_MS = 4.0  # the worker's CPU per routed contact
ACKNOWLEDGED = (201, 202)  # routed at once (direct intake, and the bare ceiling) or stored for the worker (queued)
TEXTS = [
    "Hej! När öppnar ansökan till förskoleklass?",
    "Gatlampan utanför porten är trasig sedan en vecka.",
    "Jag vill veta hur jag ansöker om bygglov för ett plank.",
    "Soporna har inte hämtats på två veckor.",
    "Kan jag få hjälp att fylla i en ansökan om försörjningsstöd?",
    "Hi, how do I apply for a parking permit for disabled people?",
    "مرحبا، أريد أن أعرف كيف أختار مدرسة لابني.",
]


def bare_app_factory() -> Flask:
    """The ceiling: the same route and body, parsed and answered, nothing else."""
    app = Flask("bare")

    @app.post("/api/v1/contacts")
    def bare_contact():
        payload = request.get_json()
        return jsonify(reference="KC-2026-000000", status="new", fields=len(payload)), 201

    @app.get("/healthz")
    def bare_health():
        return jsonify(status="ok")

    return app


def prepare(url: str, secret: str) -> tuple[str, int, list[str]]:
    """Migrate, load catalogue and users; returns (contacts:write token, its id, service codes)."""
    from kontaktcenter.app import create_app
    from kontaktcenter.channels.tokens.service import create_token
    from kontaktcenter.channels.web.catalogue import web_services
    from kontaktcenter.commands import upgrade_database
    from kontaktcenter.database import ENGINE_KEY, db
    from kontaktcenter.demo import load_demo_users
    from kontaktcenter.directory.catalogue import DEMO_USERS
    from kontaktcenter.directory.service import load_catalogue

    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret})
    with app.app_context():
        load_catalogue(db.session)
        # The demo's users with throwaway passwords (nothing signs in as them here).
        load_demo_users(db.session, {u[0]: secrets.token_urlsafe(12) for u in DEMO_USERS})
        token, raw = create_token(db.session, "bench intake", "contacts:write")
        token_id = token.id
        services = [s.code for s in web_services(db.session) if not s.requires_personnummer]
        db.session.commit()
        db.session.remove()
    app.extensions[ENGINE_KEY].dispose()
    return raw, token_id, services


@dataclass
class Run:
    seconds: float = 0.0
    client_cpu: float = 0.0  # the load generator's own CPU use, in cores (1.0: it was the limit)
    acknowledged: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → reference
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    first_acknowledged: float | None = None  # perf_counter of the first acknowledgement
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rate(self) -> float:
        return len(self.acknowledged) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


RETURNING_SHARE = 0.2  # of contacts from citizens who wrote before (routing reads their history)
RETURNING_CITIZENS = 2000


def _citizen_email(rng: random.Random) -> str:
    """A returning citizen (one of a fixed pool) for RETURNING_SHARE of contacts, else a new one:
    every phase sees the same mix, so phases compare alike (a counter that restarts each
    phase would make every citizen of a later phase a returning one, with a longer history)."""
    if rng.random() < RETURNING_SHARE:
        return f"aterkommande{rng.randrange(RETURNING_CITIZENS)}@example.se"
    return f"ny-{rng.getrandbits(64):016x}@example.se"


def contact_body(rng: random.Random, services: list[str], n: int) -> dict:
    body = {
        "service_code": rng.choice(services),
        "text": f"{rng.choice(TEXTS)} (#{n})",
        "language": rng.choice(["sv", "sv", "sv", "en", "ar"]),
        "reply_channel": "email",
        "email": _citizen_email(rng),
        "citizen_name": "Bänk Testsson",
    }
    if rng.random() < 0.1:
        body["needs"] = ["interpreter"]
        body["interpreter_language"] = "ar"
    return body


def load(base: str, token: str, services: list[str], seconds: float, concurrency: int, seed: int) -> Run:
    """POST contacts from `concurrency` threads for `seconds`; every 201 or 202 is an acknowledged contact."""
    run = Run()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))
    counter_lock = threading.Lock()

    server = urlsplit(base)

    def worker(index: int) -> None:
        rng = random.Random(seed * 100 + index)
        connection = http.client.HTTPConnection(server.hostname, server.port, timeout=30)
        while time.perf_counter() < deadline:
            with counter_lock:
                n = next(counter)
            key = str(uuid.UUID(int=rng.getrandbits(128)))
            body = json.dumps(contact_body(rng, services, n)).encode()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key}
            started = time.perf_counter()
            try:
                connection.request("POST", "/api/v1/contacts", body=body, headers=headers)
                response = connection.getresponse()
                content = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                with run.lock:
                    run.errors[type(exc).__name__] = run.errors.get(type(exc).__name__, 0) + 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with run.lock:
                run.statuses[response.status] = run.statuses.get(response.status, 0) + 1
                run.latencies_ms.append(elapsed)
                if response.status in ACKNOWLEDGED:
                    run.acknowledged[key] = json.loads(content).get("reference", "")
                    if run.first_acknowledged is None:
                        run.first_acknowledged = started + elapsed / 1000
        connection.close()

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    run.seconds = time.perf_counter() - started
    run.client_cpu = (time.process_time() - cpu) / run.seconds
    return run


def count_stored(url: str, token_id: int, run: Run) -> tuple[int, int]:
    """(acknowledged contacts found by their Idempotency-Key, of those the ones with a ticket)."""
    keys = [f"api:{token_id}:{key}" for key in run.acknowledged]
    engine = create_engine(url)
    stored = routed = 0
    with engine.connect() as conn:
        for start in range(0, len(keys), 5000):
            chunk = keys[start : start + 5000]
            stored += conn.scalar(
                select(func.count(func.distinct(Contact.provider_sid))).where(Contact.provider_sid.in_(chunk))
            )
            routed += conn.scalar(
                select(func.count(func.distinct(Contact.provider_sid)))
                .join(Ticket, Ticket.id == Contact.ticket_id)
                .where(Contact.provider_sid.in_(chunk))
            )
    engine.dispose()
    return stored, routed


def waiting_count(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).where(WAITING))
    engine.dispose()
    return count


def wait_for_routing(url: str, timeout: float = 900.0) -> float:
    """Seconds until no contact awaits routing (the worker has caught up)."""
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.connect() as conn:
        while conn.scalar(select(func.count()).where(WAITING)):
            if time.perf_counter() - started > timeout:
                break
            time.sleep(0.05)
            conn.rollback()
    engine.dispose()
    return time.perf_counter() - started


def drain_rate(url: str, backlog: int, timeout: float = 900.0) -> tuple[float, float]:
    """Contacts routed per second from the first routed batch until none waits (the workers'
    start-up, importing and connecting, is not routing), and the machine's busy share of
    its CPUs meanwhile: whether it had cores to spare."""
    engine = create_engine(url)
    deadline = time.perf_counter() + timeout
    first: tuple[float, int, tuple[int, int]] | None = None
    with engine.connect() as conn:
        while time.perf_counter() < deadline:
            waiting = conn.scalar(select(func.count()).where(WAITING))
            conn.rollback()
            now, ticks = time.perf_counter(), machine_ticks()
            if first is None and waiting < backlog:
                first = (now, waiting, ticks)
            if not waiting:
                break
            time.sleep(0.02)
    engine.dispose()
    if first is None or now <= first[0]:
        return 0.0, 0.0
    busy = (ticks[0] - first[2][0]) / max(1, ticks[1] - first[2][1])
    return first[1] / (now - first[0]), busy


def start_worker(env: dict[str, str], *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [executable("kontaktcenter"), "intake-worker", *options],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )


def cpu_seconds(process: subprocess.Popen) -> float:
    """The process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_config(intake: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        # One client, many requests: the per-client API limit is not what is measured here.
        config.write('RATELIMIT_API = "1000000 per minute"\n')
        config.write(f'API_INTAKE = "{intake}"\n')
    return config.name


def scaling(url: str, env: dict[str, str], base: str, args) -> tuple[dict[str, float], int, int]:
    """Routed/s of a stored backlog drained by 1 worker and by args.workers workers (give-way off).

    Each drain starts from the same state: a new database of its own (…_drain), prepared as
    the main one and holding only its backlog. On one database the second drain would meet
    the first one's rows: its returning citizens' histories twice as long, its index full of
    the first drain's routed contacts. Returns (the rates, the backlogs' acknowledged contacts
    not stored, those stored without a ticket)."""
    port = int(urlsplit(base).port)
    drain_url = f"{url}_drain"
    rates: dict[str, float] = {}
    lost = unrouted = 0
    for count in (1, args.workers):
        recreate_database(drain_url)
        token, token_id, services = prepare(drain_url, env["SECRET_KEY"])
        drain_env = {**env, "DATABASE_URL": drain_url}
        server = start_gunicorn("wsgi:app", port, drain_env)
        try:
            backlog = load(base, token, services, args.backlog_seconds, args.concurrency, args.seed + 10 + count)
        finally:
            stop(server)
        waiting = waiting_count(drain_url)
        workers = [start_worker(drain_env, "--give-way", "1", "--nice", "0") for _ in range(count)]
        try:
            rate, busy = drain_rate(drain_url, waiting)
        finally:
            for worker in workers:
                stop(worker)
                worker.stdout.read()
        stored, routed = count_stored(drain_url, token_id, backlog)
        lost += len(backlog.acknowledged) - stored
        unrouted += stored - routed
        rates[f"workers_{count}_per_s"] = round(rate, 1)
        rates[f"workers_{count}_machine_busy"] = round(busy, 2)
        print(
            f"backlog of {waiting} ({len(backlog.acknowledged)} acknowledged) on a new database, drained by {count} "
            f"worker(s): {rate:,.1f} routed/s; the machine's {os.cpu_count()} CPUs were {busy:.0%} busy"
        )
    drop_database(drain_url)
    return rates, lost, unrouted


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine so far, from /proc/stat (steal counts as neither)."""
    user, nice, system, idle, iowait, irq, softirq = (int(t) for t in Path("/proc/stat").read_text().split()[1:8])
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measured phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="intake workers beside gunicorn; above 1, a stored backlog is also drained by 1 and by this many",
    )
    parser.add_argument("--backlog-seconds", type=float, default=15.0, help="load that makes the backlog (--workers)")
    parser.add_argument(
        "--give-way",
        default="1",
        help="the workers' --give-way during the queued phase (1: never wait; the worker's own default is 0.5, "
        "which on a machine shared with other work waits for that work up to --max-delay, 120 s)",
    )
    parser.add_argument(
        "--nice",
        default="0",
        help="the workers' --nice during the queued phase (0 here; the worker's own default, 10, leaves routing "
        "only what the other processes leave, and on a shared machine that is other people's work)",
    )
    args = parser.parse_args()

    url = bench_url()
    secret = "bench-intake"  # noqa: S105 - a throwaway key for a throwaway server
    queued_config, direct_config = write_config("queued"), write_config("direct")
    base_env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secret, "SCHEDULER_ENABLED": "false"}
    env = {**base_env, "KONTAKTCENTER_CONFIG": queued_config}
    direct_env = {**base_env, "KONTAKTCENTER_CONFIG": direct_config}
    print(
        f"database {re.sub(r'//[^@]*@', '//', url)}; gunicorn (2 workers, config/gunicorn.conf.py); "
        f"concurrency {args.concurrency}; {args.seconds:.0f} s per phase; {args.workers} intake worker(s); "
        f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}"
    )
    recreate_database(url)
    token, token_id, services = prepare(url, secret)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bare = start_gunicorn("intake:bare_app_factory()", port, env)
    try:
        load(base, token, services, min(3.0, args.seconds), args.concurrency, args.seed)  # warm-up
        ceiling = load(base, token, services, args.seconds, args.concurrency, args.seed + 1)
    finally:
        stop(bare)

    # Queued intake: acknowledged at once, routed by the worker(s) beside gunicorn, with their defaults.
    server = start_gunicorn("wsgi:app", port, env)
    workers = [start_worker(env, "--give-way", args.give_way, "--nice", args.nice) for _ in range(args.workers)]
    worker_said = []
    try:
        warm = load(base, token, services, min(3.0, args.seconds), args.concurrency, args.seed + 2)
        wait_for_routing(url)
        cpu_before = sum(cpu_seconds(w) for w in workers)
        real = load(base, token, services, args.seconds, args.concurrency, args.seed + 3)
        drain = wait_for_routing(url)
        routed_at = time.perf_counter()
        worker_cpu = sum(cpu_seconds(w) for w in workers) - cpu_before
    finally:
        stop(server)
        for worker in workers:
            stop(worker)
            worker_said.append(worker.stdout.read().strip())
    print("\n".join(worker_said))
    gave_way = [
        float(m.group(1))
        for said in worker_said
        for m in [re.search(r"gave way to other work for ([\d.]+) s", said)]
        if m
    ]

    # Direct intake: routed before the answer, by the same placement (a batch of one).
    server = start_gunicorn("wsgi:app", port, direct_env)
    try:
        load(base, token, services, min(3.0, args.seconds), args.concurrency, args.seed + 4)
        direct = load(base, token, services, args.seconds, args.concurrency, args.seed + 5)
    finally:
        stop(server)

    rates, drain_lost, drain_unrouted = scaling(url, env, base, args) if args.workers > 1 else ({}, 0, 0)
    for name in (queued_config, direct_config):
        os.unlink(name)

    # Every acknowledged contact, the warm-up's and the direct phase's included, must be in the database, with its ticket.
    acknowledged = Run(acknowledged={**warm.acknowledged, **real.acknowledged, **direct.acknowledged})
    stored, routed = count_stored(url, token_id, acknowledged)
    ratio = real.rate / ceiling.rate if ceiling.rate else 0.0
    end_to_end = len(real.acknowledged) / (routed_at - real.first_acknowledged) if real.first_acknowledged else 0.0
    routed_ratio = end_to_end / ceiling.rate if ceiling.rate else 0.0
    direct_ratio = direct.rate / ceiling.rate if ceiling.rate else 0.0
    cpu_ms = worker_cpu / len(real.acknowledged) * 1000 if real.acknowledged else 0.0
    result = {
        "ceiling_per_s": round(ceiling.rate, 1),
        "contacts_per_s": round(real.rate, 1),
        "ratio": round(ratio, 3),
        "bar": BAR,
        "routed_per_s": round(end_to_end, 1),
        "routed_ratio": round(routed_ratio, 3),
        "routed_bar": ROUTED_BAR,
        "direct_per_s": round(direct.rate, 1),
        "direct_ratio": round(direct_ratio, 3),
        "direct_bar": DIRECT_BAR,
        "cpu_ms_per_routed": round(cpu_ms, 2),
        "cpu_bar_ms": CPU_BAR_MS,
        "acknowledged": len(acknowledged.acknowledged),
        "stored": stored,
        "routed": routed,
        "lost": len(acknowledged.acknowledged) - stored + drain_lost,
        "unrouted": stored - routed + drain_unrouted,
        "drain_s": round(drain, 2),
        "worker_gave_way_s": gave_way,
        "workers": args.workers,
        "give_way": float(args.give_way),
        "nice": int(args.nice),
        **rates,
        "contacts_p50_ms": round(real.percentile(50), 1),
        "contacts_p99_ms": round(real.percentile(99), 1),
        "direct_p50_ms": round(direct.percentile(50), 1),
        "ceiling_p50_ms": round(ceiling.percentile(50), 1),
        "ceiling_client_cpu": round(ceiling.client_cpu, 2),
        "contacts_client_cpu": round(real.client_cpu, 2),
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "load_average_after": round(os.getloadavg()[0], 2),
        "not_acknowledged": {
            str(k): v for k, v in sorted({**real.statuses, **direct.statuses}.items()) if k not in ACKNOWLEDGED
        },
        "errors": {**real.errors, **direct.errors},
    }
    if rates:
        result["workers_scaling"] = (
            round(rates[f"workers_{args.workers}_per_s"] / rates["workers_1_per_s"], 2)
            if rates["workers_1_per_s"]
            else 0.0
        )

    print()
    print(
        f"ceiling (bare Flask JSON endpoint): {len(ceiling.acknowledged)} in {ceiling.seconds:.1f} s = "
        f"{ceiling.rate:,.1f} requests/s (p50 {ceiling.percentile(50):.1f} ms)"
    )
    print(
        f"POST /api/v1/contacts, queued:      {len(real.acknowledged)} in {real.seconds:.1f} s = "
        f"{real.rate:,.1f} acknowledged/s (p50 {real.percentile(50):.1f} ms, p99 {real.percentile(99):.1f} ms); "
        f"ratio {ratio:.3f} ({'meets' if ratio >= BAR else 'BELOW'} the bar of {BAR})"
    )
    print(
        f"routed end to end (first acknowledgement to last routed contact): {end_to_end:,.1f} contacts/s, "
        f"ratio {routed_ratio:.3f} ({'meets' if routed_ratio >= ROUTED_BAR else 'BELOW'} the bar of {ROUTED_BAR}); "
        f"routing caught up {drain:.1f} s after the load stopped"
    )
    print(
        f"worker CPU per routed contact: {cpu_ms:.2f} ms ({'meets' if cpu_ms <= CPU_BAR_MS else 'ABOVE'} the bar of {CPU_BAR_MS} ms)"
    )
    print(
        f"POST /api/v1/contacts, direct:      {len(direct.acknowledged)} in {direct.seconds:.1f} s = "
        f"{direct.rate:,.1f} routed/s (p50 {direct.percentile(50):.1f} ms); ratio {direct_ratio:.3f} "
        f"({'meets' if direct_ratio >= DIRECT_BAR else 'BELOW'} the bar of {DIRECT_BAR})"
    )
    if rates:
        print(
            f"backlog drained by {args.workers} workers: {result['workers_scaling']}x one worker's rate; the machine's CPUs "
            f"were {rates['workers_1_machine_busy']:.0%} busy with one, {rates[f'workers_{args.workers}_machine_busy']:.0%} "
            f"with {args.workers} (near 100 %: no core left for another worker)"
        )
    print(
        f"the load generator used {ceiling.client_cpu:.2f} of a core for the ceiling, {real.client_cpu:.2f} for the contacts"
        + (" (the ceiling is then the client's, not the server's)" if ceiling.client_cpu > 0.9 else "")
    )
    print(
        f"acknowledged {result['acknowledged']} (warm-up and direct included), stored {stored}, routed {routed}; "
        f"with the drains' backlogs: lost {result['lost']}, unrouted {result['unrouted']}"
    )
    if result["not_acknowledged"] or result["errors"]:
        print(f"other answers: {result['not_acknowledged']}, client errors: {result['errors']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
