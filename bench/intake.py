"""Intake through the JSON API: POST /api/v1/contacts on gunicorn (2 workers) against PostgreSQL, concurrency 8.

Makes its own database (BENCH_DATABASE_URL, default …/kontaktcenter_bench), loads
the catalogue and demo users, creates API tokens, and then measures, with the same load
generator and the same gunicorn set-up (2 workers, config/gunicorn.conf.py, on a free
loopback port):

1. the ceiling: a bare Flask app whose POST /api/v1/contacts only parses the JSON and
   answers JSON (no database) — what this machine's HTTP stack can do at all;
2. the real thing: POST /api/v1/contacts of Kontaktcenter as deployed at city scale,
   with queued intake (API_INTAKE = "queued"): validated, stored and acknowledged
   (202), while `kontaktcenter intake-worker` runs beside gunicorn on the same machine
   and routes them (rules, ticket, SLA clocks, offer to an agent) — with its defaults,
   so during the load it gives way to the busy web server and catches up after (the
   summary says for how long). Each request has its own Idempotency-Key.
   `--intake direct` measures routing before the answer instead.

Then it waits until the worker has routed everything (drain time), and counts in the
database every contact the server acknowledged: lost = acknowledged but not stored,
unrouted = stored without a ticket. The bar: contacts_per_s / ceiling_per_s ≥ 0.30.
Beside it, the end-to-end rate: acknowledged contacts / (load time + drain time).
The load generator is the standard library's HTTP client, which costs the shared cores
little; it reports its own CPU use, since a load generator using a whole core measures
itself (with `requests`, this machine's ceiling was the client's at about 1,200/s).
Prints a summary and, last, one line of JSON.

    .venv/bin/python bench/intake.py [--seconds 30] [--concurrency 8]
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
from kontaktcenter.tickets.models import Ticket  # noqa: E402

sys.path.insert(0, str(BENCH))
from _common import bench_url, executable, free_port, recreate_database, start_gunicorn, stop  # noqa: E402

BAR = 0.30
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
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rate(self) -> float:
        return len(self.acknowledged) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def contact_body(rng: random.Random, services: list[str], n: int) -> dict:
    body = {
        "service_code": rng.choice(services),
        "text": f"{rng.choice(TEXTS)} (#{n})",
        "language": rng.choice(["sv", "sv", "sv", "en", "ar"]),
        "reply_channel": "email",
        "email": f"invanare{n}@example.se",
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


def wait_for_routing(url: str, timeout: float = 600.0) -> float:
    """Seconds until no contact awaits routing (the worker has caught up)."""
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.connect() as conn:
        while conn.scalar(select(func.count()).where(Contact.awaiting_routing.is_(True))):
            if time.perf_counter() - started > timeout:
                break
            time.sleep(0.1)
            conn.rollback()
    engine.dispose()
    return time.perf_counter() - started


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [executable("kontaktcenter"), "intake-worker"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measured phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--intake",
        choices=["queued", "direct"],
        default="queued",
        help="queued: acknowledge at once, routed by the intake worker; direct: routed before the answer",
    )
    args = parser.parse_args()

    url = bench_url()
    secret = "bench-intake"  # noqa: S105 - a throwaway key for a throwaway server
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        # One client, many requests: the per-client API limit is not what is measured here.
        config.write('RATELIMIT_API = "1000000 per minute"\n')
        config.write(f'API_INTAKE = "{args.intake}"\n')
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secret,
        "SCHEDULER_ENABLED": "false",
        "KONTAKTCENTER_CONFIG": config.name,
    }
    print(
        f"database {re.sub(r'//[^@]*@', '//', url)}; gunicorn (2 workers, config/gunicorn.conf.py); "
        f"concurrency {args.concurrency}; {args.seconds:.0f} s per phase; {args.intake} intake"
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

    server = start_gunicorn("wsgi:app", port, env)
    worker = start_worker(env) if args.intake == "queued" else None
    try:
        warm = load(base, token, services, min(3.0, args.seconds), args.concurrency, args.seed + 2)
        wait_for_routing(url)
        real = load(base, token, services, args.seconds, args.concurrency, args.seed + 3)
        drain = wait_for_routing(url)
    finally:
        stop(server)
        worker_said = ""
        if worker is not None:
            stop(worker)
            worker_said = worker.stdout.read().strip()
            print(worker_said)
        os.unlink(config.name)
    gave_way = re.search(r"gave way to other work for ([\d.]+) s", worker_said)

    # Every acknowledged contact, the warm-up's included, must be in the database, with its ticket.
    acknowledged = Run(acknowledged={**warm.acknowledged, **real.acknowledged})
    stored, routed = count_stored(url, token_id, acknowledged)
    ratio = real.rate / ceiling.rate if ceiling.rate else 0.0
    end_to_end = len(real.acknowledged) / (real.seconds + drain)
    result = {
        "contacts_per_s": round(real.rate, 1),
        "ceiling_per_s": round(ceiling.rate, 1),
        "ratio": round(ratio, 3),
        "bar": BAR,
        "acknowledged": len(acknowledged.acknowledged),
        "stored": stored,
        "routed": routed,
        "lost": len(acknowledged.acknowledged) - stored,
        "unrouted": stored - routed,
        "drain_s": round(drain, 2),
        "worker_gave_way_s": float(gave_way.group(1)) if gave_way else None,
        "end_to_end_per_s": round(end_to_end, 1),
        "intake": args.intake,
        "contacts_p50_ms": round(real.percentile(50), 1),
        "contacts_p99_ms": round(real.percentile(99), 1),
        "ceiling_p50_ms": round(ceiling.percentile(50), 1),
        "ceiling_client_cpu": round(ceiling.client_cpu, 2),
        "contacts_client_cpu": round(real.client_cpu, 2),
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "not_acknowledged": {str(k): v for k, v in sorted(real.statuses.items()) if k not in ACKNOWLEDGED},
        "errors": real.errors,
    }
    print()
    print(
        f"ceiling (bare Flask JSON endpoint): {len(ceiling.acknowledged)} in {ceiling.seconds:.1f} s = "
        f"{ceiling.rate:,.1f} requests/s (p50 {ceiling.percentile(50):.1f} ms)"
    )
    print(
        f"POST /api/v1/contacts:              {len(real.acknowledged)} in {real.seconds:.1f} s = "
        f"{real.rate:,.1f} contacts/s (p50 {real.percentile(50):.1f} ms, p99 {real.percentile(99):.1f} ms)"
    )
    print(f"ratio {ratio:.3f} ({'meets' if ratio >= BAR else 'BELOW'} the bar of {BAR})")
    print(
        f"the load generator used {ceiling.client_cpu:.2f} of a core for the ceiling, {real.client_cpu:.2f} for the contacts"
        + (" (the ceiling is then the client's, not the server's)" if ceiling.client_cpu > 0.9 else "")
    )
    print(
        f"routing caught up {drain:.1f} s after the load stopped: end to end {end_to_end:,.1f} contacts/s "
        f"acknowledged and routed"
    )
    print(
        f"acknowledged {result['acknowledged']} (warm-up included), stored {stored}, lost {result['lost']}; "
        f"routed {routed}, unrouted {result['unrouted']}"
    )
    if result["not_acknowledged"] or real.errors:
        print(f"other answers: {result['not_acknowledged']}, client errors: {real.errors}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
