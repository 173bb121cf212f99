"""Live pages under load: 200 Server-Sent Events clients on gunicorn while webhooks arrive.

Makes its own PostgreSQL database (BENCH_DATABASE_URL, default …/kontaktcenter_bench_live),
starts gunicorn as deployed (README: Serve in production): the web's sync workers
(config/gunicorn.conf.py, 2 workers as bench/webhooks.py) and the live streams' own threaded
workers (config/gunicorn-live.conf.py, 2 × `[live] web_threads`), the feed on LISTEN/NOTIFY,
the clients on the live port as the proxy would send them, and signs in a few agents.
Then, in one run:

1. baselines: the paced webhook load of bench/webhooks.py (its code, its figures) with no
   live client connected, and the delay of a change to a single connected client;
2. the load: 200 clients connected to /live/stream (the first line's queues and presence,
   as the wallboard follows them), a committed change (an agent's presence) every ~0.5 s,
   and the same paced webhook load at the same time, whose calls make notices too.

The delay of a notice is the time from just after its commit (the sender's stamp) to its
arrival at a client, measured for every notice at every client by one select() loop.
Bars: update p99 < 1 s, and the paced webhooks' p99 as without live clients. Prints a
summary and, last, one line of JSON.

    .venv/bin/python bench/wallboard.py [--clients 200] [--seconds 40]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import selectors
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import recreate_database, start_gunicorn, stop  # noqa: E402
from webhooks import CONCURRENCY, CONFIG, DUPLICATE_RATE, PACED_THINK, TOKEN, prepare  # noqa: E402

from kontaktcenter_dev import simulate  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kontaktcenter_bench_live"
PORTS = range(8250, 8300)  # this benchmark's own ports
CHANGE_EVERY = 0.5
LOGINS = 4  # agents signed in; the clients share their sessions
PASSWORD = "bench-live-" + secrets.token_urlsafe(12)


def free_port_in_range(after: int = 0) -> int:
    for port in (p for p in PORTS if p > after):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 8250-8299")


def percentile(values: list[float], p: float) -> float | None:
    return simulate.Stats(latencies_ms=list(values)).percentile(p)


def live_agents(url: str, env: dict[str, str]) -> tuple[list[str], str, int, object]:
    """Agents with a known password for the clients, and one whose presence the bench changes.

    Returns their usernames, the topics the clients follow, the changed agent's id, and the
    app (in this process) whose commits publish through the feed like the web's.
    """
    from sqlalchemy import select

    from kontaktcenter.app import create_app
    from kontaktcenter.auth.service import hash_password
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import Department, Queue, User

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": env["SECRET_KEY"]})
    with app.app_context():
        first_line = list(db.session.scalars(select(Queue).where(Queue.kind == "first_line")))
        department = db.session.scalar(select(Department).where(Department.is_contact_center.is_(True)))
        names = []
        for i in range(LOGINS + 1):
            user = User(
                username=f"bench-live-{i}",
                name=f"Bench Live {i}",
                role="agent",
                password_hash=hash_password(PASSWORD),
                department=department,
                presence="away",
            )
            user.queues = first_line
            db.session.add(user)
            names.append(user.username)
        db.session.commit()
        changed = db.session.scalar(select(User.id).where(User.username == names[-1]))
        topics = ",".join(["presence", *(f"queue:{q.id}" for q in first_line)])
        db.session.remove()
    return names[:-1], topics, changed, app


def sign_in(base: str, username: str) -> str:
    """The session cookie of `username`, signed in through the form as a browser does."""
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = session.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    if response.status_code != 302:
        raise SystemExit(f"signing in {username} failed: {response.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


class Clients:
    """N event-stream clients read by one select() loop; the delay of every notice received."""

    def __init__(self, port: int, topics: str, cookies: list[str], n: int):
        self.selector = selectors.DefaultSelector()
        self.delays_ms: list[float] = []
        self.received = 0
        self.connected = 0
        self.errors = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        request = "GET /live/stream?topics={t} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nCookie: {c}\r\n\r\n"
        for i in range(n):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(request.format(t=topics, c=cookies[i % len(cookies)]).encode())
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, {"buffer": b"", "headers": False})
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                now = time.time()
                try:
                    chunk = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                state = key.data
                if not chunk:
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()
                    with self.lock:
                        self.errors += 1
                    continue
                state["buffer"] += chunk
                if not state["headers"]:
                    head, sep, rest = state["buffer"].partition(b"\r\n\r\n")
                    if not sep:
                        continue
                    if not head.startswith(b"HTTP/1.1 200"):
                        raise SystemExit(f"stream refused: {head.splitlines()[0]!r}")
                    state["headers"] = True
                    state["buffer"] = rest
                    with self.lock:
                        self.connected += 1
                for line in state["buffer"].split(b"\n")[:-1]:
                    if line.startswith(b"data: {") and b'"at":' in line:
                        at = float(re.search(rb'"at":([0-9.]+)', line).group(1))
                        with self.lock:
                            self.delays_ms.append((now - at) * 1000)
                            self.received += 1
                state["buffer"] = state["buffer"].rsplit(b"\n", 1)[-1]

    def take(self) -> list[float]:
        with self.lock:
            out, self.delays_ms = self.delays_ms, []
        return out

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()


def _clients_process(conn, port: int, topics: str, cookies: list[str], n: int) -> None:
    """The clients in a process of their own: the simulator's threads and the changes in the
    bench's process must not delay the moment a notice is seen arriving. They stand for
    browsers on other machines: at a lower priority, reading 200 streams does not take the
    shared cores from the webhooks measured beside them (it makes their own delays, if
    anything, longer)."""
    os.nice(10)
    clients = Clients(port, topics, cookies, n)
    while True:
        command = conn.recv()
        if command == "connected":
            conn.send(clients.connected - clients.errors)
        elif command == "take":
            conn.send(clients.take())
        else:
            clients.close()
            conn.send(None)
            return


class ClientsProcess:
    def __init__(self, port: int, topics: str, cookies: list[str], n: int):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_clients_process, args=(child, port, topics, cookies, n), daemon=True)
        self.process.start()

    def ask(self, command: str):
        self.conn.send(command)
        return self.conn.recv()

    def close(self) -> None:
        if self.process.is_alive():
            self.ask("stop")
        self.process.join(timeout=10)


def change_presence(app, user_id: int, stop: threading.Event, every: float) -> int:
    """Commit a change (the agent's presence, back and forth) every `every` seconds; returns how many."""
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import User

    n = 0
    with app.app_context():
        while not stop.is_set():
            user = db.session.get(User, user_id)
            user.presence = "available" if user.presence != "available" else "away"
            db.session.commit()
            n += 1
            stop.wait(every)
        db.session.remove()
    return n


def paced(base: str, agents: list[int], calls: int, seed: int) -> simulate.Stats:
    return simulate.run(
        "calls",
        calls,
        base_url=base,
        public_url=base,
        auth_token=TOKEN,
        concurrency=CONCURRENCY,
        duplicate_rate=DUPLICATE_RATE,
        agent_ids=agents,
        seed=seed,
        think=PACED_THINK,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--paced-calls", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    port = free_port_in_range()
    base = f"http://127.0.0.1:{port}"
    live_port = free_port_in_range(after=port)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write(CONFIG)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret-" + secrets.token_hex(16),
        "PUBLIC_BASE_URL": base,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "KONTAKTCENTER_CONFIG": config.name,
        "SCHEDULER_ENABLED": "false",
    }
    os.environ["KONTAKTCENTER_CONFIG"] = config.name  # this process's app: the same settings
    from kontaktcenter.config import load_config

    threads = load_config()["live"]["web_threads"]
    print(
        f"database {re.sub(r'//[^@]*@', '//', url)}; gunicorn: web (2 sync workers) on {base}, live streams "
        f"(2 gthread workers × {threads} threads) on :{live_port}; "
        f"{args.clients} live clients; a change every {CHANGE_EVERY} s; paced webhooks at concurrency {CONCURRENCY}"
    )
    recreate_database(url)
    agents = prepare(url, env)
    usernames, topics, changed_id, app = live_agents(url, env)
    server = start_gunicorn("wsgi:app", port, env)
    clients = live_server = None
    try:
        live_server = start_gunicorn("wsgi:app", live_port, env, config="gunicorn-live.conf.py")
        cookies = [sign_in(base, name) for name in usernames]
        paced(base, agents, 16, args.seed - 1)  # warm both workers

        # Baselines in the same run: paced webhooks with no live client, one client's delay.
        webhook_base = paced(base, agents, args.paced_calls, args.seed)
        single = ClientsProcess(live_port, topics, cookies, 1)
        time.sleep(2)
        stop_changes = threading.Event()
        changer = threading.Thread(target=change_presence, args=(app, changed_id, stop_changes, CHANGE_EVERY))
        changer.start()
        time.sleep(6)
        stop_changes.set()
        changer.join()
        time.sleep(0.5)
        single_delays = single.ask("take")
        single.close()

        # The load: 200 clients, changes every 0.5 s, and the paced webhooks at once.
        clients = ClientsProcess(live_port, topics, cookies, args.clients)
        deadline = time.monotonic() + 30
        while (connected := clients.ask("connected")) < args.clients and time.monotonic() < deadline:
            time.sleep(0.2)
        if connected < args.clients:
            raise SystemExit(f"only {connected} of {args.clients} clients connected")
        clients.ask("take")
        stop_changes = threading.Event()
        changes = {}

        def run_changes():
            changes["n"] = change_presence(app, changed_id, stop_changes, CHANGE_EVERY)

        changer = threading.Thread(target=run_changes)
        started = time.perf_counter()
        changer.start()
        webhook_load = paced(base, agents, args.paced_calls, args.seed + 1)
        stop_changes.set()
        changer.join()
        seconds = time.perf_counter() - started
        time.sleep(1)  # the last notices arrive
        delays = clients.ask("take")
        still_connected = clients.ask("connected")
    finally:
        if clients is not None:
            clients.close()
        stop(server)
        if live_server is not None:
            stop(live_server)
        os.unlink(config.name)
        from kontaktcenter.database import ENGINE_KEY

        app.extensions[ENGINE_KEY].dispose()

    p50, p99 = percentile(delays, 50), percentile(delays, 99)
    s50, s99 = percentile(single_delays, 50), percentile(single_delays, 99)
    w50, w99 = webhook_load.percentile(50), webhook_load.percentile(99)
    b50, b99 = webhook_base.percentile(50), webhook_base.percentile(99)
    result = {
        "clients": args.clients,
        "clients_connected_to_the_end": still_connected,
        "changes": changes.get("n", 0),
        "seconds": round(seconds, 1),
        "notices_received": len(delays),
        "update_p50_ms": round(p50, 1),
        "update_p99_ms": round(p99, 1),
        "update_max_ms": round(max(delays), 1),
        "baseline_update_p50_ms": round(s50, 1),
        "baseline_update_p99_ms": round(s99, 1),
        "webhook_paced_p50_ms": round(w50, 1),
        "webhook_paced_p99_ms": round(w99, 1),
        "baseline_webhook_paced_p50_ms": round(b50, 1),
        "baseline_webhook_paced_p99_ms": round(b99, 1),
        "webhook_paced_p99_vs_baseline": round(w99 / b99, 2),
        "webhook_failed_requests": webhook_load.failures.total() + webhook_base.failures.total(),
    }
    print()
    print(
        f"{args.clients} clients, {result['changes']} changes in {seconds:.1f} s plus the webhooks' own notices: "
        f"{len(delays)} notices received"
    )
    print(
        f"delay commit → client: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(delays):.1f} ms (bar: p99 < 1000 ms); "
        f"one client alone: p50 {s50:.1f} ms, p99 {s99:.1f} ms"
    )
    print(
        f"paced webhooks ({PACED_THINK} s think, concurrency {CONCURRENCY}): with the live clients p50 {w50:.1f} ms, "
        f"p99 {w99:.1f} ms; without them p50 {b50:.1f} ms, p99 {b99:.1f} ms (×{result['webhook_paced_p99_vs_baseline']})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
