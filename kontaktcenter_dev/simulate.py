"""A Twilio stand-in: realistic, signed call and SMS traffic against a server on this machine."""

from __future__ import annotations

import http.client
import ipaddress
import queue
import random
import secrets
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

MAX_N = 20_000
MAX_CONCURRENCY = 32
MAX_THINK = 30.0
ACCOUNT_SID = "AC" + "5" * 32
LINE_NUMBER = "+46406000000"
# Menu digits weighted like a contact center's traffic: the general line and schools lead.
DIGIT_WEIGHTS = {"0": 30, "1": 12, "2": 20, "3": 15, "4": 8, "5": 10, "9": 2}
# What happens to a caller who reached a queue.
QUEUE_FATES = {"answered": 65, "hangup": 22, "callback": 13}
IVR_DROP_RATE = 0.08
SMS_TEXTS = [
    "Hej, när öppnar skolvalet?",
    "Gatlampan utanför Amiralsgatan 12 är trasig.",
    "Jag har inte fått svar på min ansökan om bygglov.",
    "Kan jag boka tid för att få hjälp med BankID på biblioteket?",
    "Sopkärlet har inte tömts på två veckor.",
    "Tack för hjälpen!",
    "Vilka handlingar behöver jag ta med till mötet?",
]


class SimulatorError(ValueError):
    """The simulator was asked for something it will not do; the message says why."""


def ensure_loopback(base_url: str) -> str:
    """Only a server on this machine: the simulator must never load someone else's service."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SimulatorError(f"{base_url!r} is not an http(s) URL")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 80)}
    except socket.gaierror:
        raise SimulatorError(
            f"cannot resolve {parts.hostname!r}; the simulator only talks to 127.0.0.1, ::1 or localhost"
        ) from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise SimulatorError(
            f"{parts.hostname} is not this machine: the simulator only talks to 127.0.0.1, ::1 or localhost"
        )
    return base_url.rstrip("/")


@dataclass
class Stats:
    """What one simulator run saw; acknowledged ids are what the server promised to keep."""

    latencies_ms: list[float] = field(default_factory=list)
    by_path: dict[str, list[float]] = field(default_factory=dict)
    requests: int = 0
    duplicates_sent: int = 0
    failures: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    acknowledged_calls: set[str] = field(default_factory=set)  # queued or dropped in the IVR
    acknowledged_messages: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def percentile(self, p: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        rank = (len(ordered) - 1) * p / 100
        low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Reply:
    status_code: int
    content: bytes


class TwilioStandIn:
    """Posts form requests exactly as Twilio does, signed over the server's public URL."""

    def __init__(
        self, base_url: str, public_url: str, auth_token: str, stats: Stats, duplicate_rate: float, think: float = 0.0
    ):
        self.base_url = ensure_loopback(base_url)
        self._server = urlsplit(self.base_url)
        self.public_url = public_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.stats = stats
        self.duplicate_rate = duplicate_rate
        self.think = think
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        # The standard library's client: a load generator that spends little CPU leaves the
        # machine's cores to the server it measures (requests costs about three times more).
        if not hasattr(self._local, "connection"):
            kind = http.client.HTTPSConnection if self._server.scheme == "https" else http.client.HTTPConnection
            self._local.connection = kind(self._server.hostname, self._server.port, timeout=30)
        return self._local.connection

    def _send(self, path: str, body: str, signature: str) -> Reply:
        headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
        connection = self._connection()
        kept_open = connection.sock is not None
        try:
            return self._exchange(connection, path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            connection.close()
            if not kept_open:
                raise
        # The server closed the kept-open connection before reading: send again on a new one.
        return self._exchange(connection, path, body, headers)

    def _exchange(self, connection: http.client.HTTPConnection, path: str, body: str, headers: dict[str, str]) -> Reply:
        connection.request("POST", self._server.path + path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.read())

    def post(self, path: str, params: dict[str, str], rng: random.Random) -> Reply | None:
        """One webhook; sometimes sent twice, as Twilio does when an answer is slow or lost."""
        signature = self.validator.compute_signature(self.public_url + path, params)
        body = urlencode(params)
        times = 2 if rng.random() < self.duplicate_rate else 1
        if self.think:
            # The caller listens, presses, waits: Twilio's webhooks of one call come seconds apart.
            time.sleep(self.think)
        response = None
        for attempt in range(times):
            started = time.perf_counter()
            try:
                response = self._send(path, body, signature)
            except (OSError, http.client.HTTPException) as exc:
                self._connection().close()
                with self.stats.lock:
                    self.stats.failures[f"{path}: {exc.__class__.__name__}"] += 1
                return None
            elapsed = (time.perf_counter() - started) * 1000
            with self.stats.lock:
                self.stats.requests += 1
                self.stats.duplicates_sent += attempt
                self.stats.latencies_ms.append(elapsed)
                self.stats.by_path.setdefault(path.split("?")[0], []).append(elapsed)
                if response.status_code >= 300:
                    self.stats.failures[f"{path}: HTTP {response.status_code}"] += 1
        return response if response is not None and response.status_code < 300 else None


def _twiml(content: bytes) -> ET.Element:
    return ET.fromstring(content)  # noqa: S314 - TwiML from our own server, on this machine only


def _number(rng: random.Random, pool: int) -> str:
    # A limited pool of citizens, so some call or text again and are recognised.
    return f"+4670{1000000 + rng.randrange(pool):07d}"


class Agents:
    """The agents Twilio can connect: each talks with one caller at a time, as in life.

    An answered caller takes a free agent (waiting, as callers do, while all are busy)
    and frees them when the conversation's queue result is in.
    """

    def __init__(self, agent_ids: list[int]):
        self._free: queue.Queue[int] = queue.Queue()
        for agent_id in agent_ids:
            self._free.put(agent_id)
        self.count = len(agent_ids)

    @contextmanager
    def one(self):
        agent_id = self._free.get()
        try:
            yield agent_id
        finally:
            self._free.put(agent_id)


def _call(twilio: TwilioStandIn, rng: random.Random, agents: Agents, callers: int) -> str:
    """One caller's conversation with the IVR and the queue, and how it ends."""
    post = partial(twilio.post, rng=rng)
    sid = "CA" + secrets.token_hex(16)
    caller = _number(rng, callers)
    base = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "From": caller,
        "To": LINE_NUMBER,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    stats = twilio.stats

    def status(duration: int) -> None:
        post("/twilio/voice/status", {**base, "CallStatus": "completed", "CallDuration": str(duration)})

    greeting = post("/twilio/voice/incoming", {**base, "CallStatus": "ringing"})
    if greeting is None or b"<Gather" not in greeting.content:
        status(15)
        return "closed" if greeting is not None else "failed"
    if rng.random() < IVR_DROP_RATE:
        if post("/twilio/voice/status", {**base, "CallStatus": "completed", "CallDuration": str(rng.randint(3, 30))}):
            with stats.lock:
                stats.acknowledged_calls.add(sid)
        return "ivr_dropped"
    digit = rng.choices(list(DIGIT_WEIGHTS), weights=list(DIGIT_WEIGHTS.values()))[0]
    menu = post("/twilio/voice/menu", {**base, "CallStatus": "in-progress", "Digits": digit})
    if menu is None:
        return "failed"
    enqueue = _twiml(menu.content).find("Enqueue")
    if enqueue is None:
        status(20)
        return "closed" if b"<Hangup" in menu.content else "menu_repeated"
    with stats.lock:
        stats.acknowledged_calls.add(sid)
    queue_time = 0
    for position in range(rng.randint(2, 4), 0, -1):
        queue_time += rng.randint(15, 60)
        post(
            "/twilio/voice/wait",
            {
                **base,
                "QueuePosition": str(position),
                "QueueTime": str(queue_time),
                "CurrentQueueSize": str(position + 1),
            },
        )
    fate = rng.choices(list(QUEUE_FATES), weights=list(QUEUE_FATES.values()))[0]
    if fate == "callback" and post("/twilio/voice/wait", {**base, "Digits": "1", "QueueTime": str(queue_time)}):
        post("/twilio/voice/queue-result", {**base, "QueueResult": "leave", "QueueTime": str(queue_time)})
        status(queue_time + 10)
        return "callback"
    if fate == "answered" and agents.count:
        with agents.one() as agent:
            post(
                f"/twilio/voice/bridge?agent={agent}",
                {**base, "QueueTime": str(queue_time), "DequeingCallSid": "CA" + secrets.token_hex(16)},
            )
            talk = rng.randint(60, 400)
            post("/twilio/voice/queue-result", {**base, "QueueResult": "bridged", "QueueTime": str(queue_time)})
        status(queue_time + talk + 20)
        return "answered"
    post("/twilio/voice/queue-result", {**base, "QueueResult": "hangup", "QueueTime": str(queue_time)})
    status(queue_time + 20)
    return "abandoned"


def _sms(twilio: TwilioStandIn, rng: random.Random, senders: int) -> str:
    post = partial(twilio.post, rng=rng)
    sid = "SM" + secrets.token_hex(16)
    params = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": sid,
        "SmsSid": sid,
        "From": _number(rng, senders),
        "To": LINE_NUMBER,
        "Body": rng.choice(SMS_TEXTS),
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }
    response = post("/twilio/sms/incoming", params)
    if response is None:
        return "failed"
    with twilio.stats.lock:
        twilio.stats.acknowledged_messages.add(sid)
    return "threaded" if "lagt till" in _twiml(response.content).findtext("Message", "") else "new_ticket"


def run(
    kind: str,
    n: int,
    *,
    base_url: str,
    public_url: str,
    auth_token: str,
    concurrency: int = 4,
    duplicate_rate: float = 0.0,
    agent_ids: list[int] | None = None,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    think: float = 0.0,
) -> Stats:
    """Run `n` calls or SMS with `concurrency` parallel Twilio conversations; returns what was seen.

    `think` is the pause (seconds) before each webhook of a conversation: 0 sends them
    back to back (a saturating load test); a pause paces them like real callers.
    """
    if kind not in ("calls", "sms"):
        raise SimulatorError(f"unknown traffic {kind!r}: calls or sms")
    if not 1 <= n <= MAX_N:
        raise SimulatorError(f"n must be between 1 and {MAX_N}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise SimulatorError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
    if not 0 <= duplicate_rate <= 1:
        raise SimulatorError("the duplicate rate is a fraction between 0 and 1")
    if not 0 <= think <= MAX_THINK:
        raise SimulatorError(f"think must be between 0 and {MAX_THINK} seconds")
    stats = Stats()
    master = random.Random(seed)
    seeds = [master.randrange(2**32) for _ in range(n)]
    population = max(20, n // 3)

    twilio = TwilioStandIn(base_url, public_url, auth_token, stats, duplicate_rate, think)
    agents = Agents(agent_ids or [])

    def one(i: int) -> str:
        rng = random.Random(seeds[i])
        return _call(twilio, rng, agents, population) if kind == "calls" else _sms(twilio, rng, population)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in as_completed(pool.submit(one, i) for i in range(n)):
            outcome = future.result()
            with stats.lock:
                stats.outcomes[outcome] += 1
            if progress:
                progress(1)
    return stats
