"""The feed: carries change notices from the process that committed to every web process.

Three backends, chosen by `[live] backend` in the settings:

* `postgres`: `NOTIFY` on one channel after commit, and in each web process one thread
  that `LISTEN`s on its own connection (psycopg's `notifies()`), so any process can serve
  any client. The default ("auto") on a PostgreSQL database.
* `redis`: `PUBLISH` and a subscribing thread, for sites that run Redis (`REDIS_URL`);
  "auto" chooses it on another database when `REDIS_URL` is set.
* `memory`: in this process only (SQLite, `kontaktcenter demo`, one process).

Each process's hub hands every notice to its subscribers (the open event streams) and
keeps the latest `[live] replay_size` notices, so a browser that reconnects with
`Last-Event-ID` gets what it missed, or a `reset` (refresh everything) when its id is no
longer known. The listening thread starts with the first stream, in the worker process
(never before gunicorn forks), and reconnects by itself; after a gap it sends `reset`.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from . import notices as notices_module
from .notices import Notice, stamped

log = logging.getLogger(__name__)

FEED_KEY = "kontaktcenter.live.feed"
BACKENDS = ("auto", "postgres", "redis", "memory")
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
MAX_PAYLOAD = 7000
# The hub tells a subscriber to refresh everything: notices may have been missed.
RESET = Notice("*", "reset")


class Subscription:
    """One open event stream: the topics it follows and the notices waiting for it."""

    def __init__(self, topics: Iterable[str], size: int = 1000):
        self.topics = frozenset(topics)
        self._queue: queue.Queue[Notice] = queue.Queue(maxsize=size)
        self.overflowed = False

    def offer(self, notice: Notice) -> None:
        if notice is not RESET and notice.topic not in self.topics:
            return
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            # A stream that cannot keep up ends with a reset; the browser reconnects.
            self.overflowed = True

    def get(self, timeout: float) -> Notice | None:
        try:
            return self._queue.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None


class Hub:
    """This process's subscribers and its memory of recent notices."""

    def __init__(self, replay_size: int = 1000):
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._recent: deque[Notice] = deque(maxlen=replay_size)

    def subscribe(self, topics: Iterable[str]) -> Subscription:
        sub = Subscription(topics)
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def dispatch(self, notice: Notice) -> None:
        with self._lock:
            if notice is not RESET:
                self._recent.append(notice)
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub.offer(notice)

    def since(self, last_id: str, topics: frozenset[str]) -> list[Notice] | None:
        """The notices after `last_id` on these topics, or None when that id is not remembered."""
        with self._lock:
            recent = list(self._recent)
        for i, notice in enumerate(recent):
            if notice.id == last_id:
                return [n for n in recent[i + 1 :] if n.topic in topics]
        return None


class Feed:
    """Publish notices to every process; receive them here through the hub."""

    backend = "memory"

    def __init__(self, replay_size: int = 1000):
        self.hub = Hub(replay_size)

    def publish(self, notices: list[Notice]) -> None:
        for notice in stamped(notices):
            self.hub.dispatch(notice)

    def start(self) -> None:
        """Start receiving (a no-op in memory)."""

    def ready(self, timeout: float) -> bool:
        """Start receiving and wait until listening: a stream opened before then would miss notices."""
        self.start()
        return True

    def stop(self) -> None:
        """Stop receiving."""


class _ListeningFeed(Feed):
    """A feed with a background thread that receives from a server and feeds the hub."""

    def __init__(self, replay_size: int = 1000):
        super().__init__(replay_size)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stop = threading.Event()
        self._start_lock = threading.Lock()
        self.connected = threading.Event()
        self._listened_once = False

    def start(self) -> None:
        # Once per process: a worker forked from a parent that had started gets its own thread.
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop.clear()
            self.connected.clear()
            self._thread = threading.Thread(target=self._run, name=f"live-{self.backend}", daemon=True)
            self._thread.start()

    def ready(self, timeout: float) -> bool:
        self.start()
        if self._listened_once:
            return self.connected.is_set()  # a server away now: no stream waits for it
        return self.connected.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def _run(self) -> None:
        pause = 0.5
        first = True
        while not self._stop.is_set():
            try:
                self._listen(first)
                pause = 0.5
            except Exception as exc:  # noqa: BLE001 - the server went away: wait and listen again
                self.connected.clear()
                if self._stop.is_set():
                    return
                log.warning(
                    "live feed (%s) lost its connection: %s; listening again in %.1f s", self.backend, exc, pause
                )
                self._stop.wait(pause)
                pause = min(pause * 2, 30)
            first = False

    def _receive(self, payload: str) -> None:
        try:
            raw = json.loads(payload)
            for item in raw if isinstance(raw, list) else [raw]:
                self.hub.dispatch(Notice.from_json(item))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("live feed: a payload that is not a notice was ignored (%s)", exc)

    def _listen(self, first: bool) -> None:
        raise NotImplementedError


def _batches(notices: list[Notice]) -> Iterable[str]:
    """JSON lists of notices, each under PostgreSQL's payload limit."""
    batch: list[dict[str, Any]] = []
    size = 2
    for notice in notices:
        item = notice.as_json()
        length = len(json.dumps(item)) + 1
        if batch and size + length > MAX_PAYLOAD:
            yield json.dumps(batch, separators=(",", ":"))
            batch, size = [], 2
        batch.append(item)
        size += length
    if batch:
        yield json.dumps(batch, separators=(",", ":"))


class PostgresFeed(_ListeningFeed):
    backend = "postgres"

    def __init__(self, engine: Engine, channel: str, replay_size: int = 1000):
        super().__init__(replay_size)
        self.engine = engine
        self.channel = channel
        url = make_url(engine.url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._publish_lock = threading.Lock()
        self._publishing = None  # this process's connection for NOTIFY (_publisher)
        self._publishing_pid = 0

    def publish(self, notices: list[Notice]) -> None:
        # After the commit, on this process's publishing connection: in autocommit, one round
        # trip per payload, no pool checkout and no transaction of its own (a pooled connection
        # cost each committed request a checkout, a statement and a commit).
        payloads = list(_batches(stamped(notices)))
        import psycopg

        with self._publish_lock:
            for attempt in (1, 2):
                try:
                    conn = self._publisher()
                    for payload in payloads:
                        conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                    return
                except psycopg.OperationalError:
                    # The server went away or restarted: once more on a new connection (a notice
                    # sent twice is harmless, pages fetch what it names).
                    self._drop_publisher()
                    if attempt == 2:
                        raise

    def _publisher(self):
        import psycopg

        if self._publishing is not None and self._publishing_pid != os.getpid():
            # Forked with the parent's connection: never close it here (that would end the
            # parent's session on the shared socket); keep it referenced and open our own.
            _INHERITED.append(self._publishing)
            self._publishing = None
        if self._publishing is None or self._publishing.closed:
            self._publishing = psycopg.connect(
                self._dsn, autocommit=True, connect_timeout=10, application_name="kontaktcenter live publisher"
            )
            self._publishing_pid = os.getpid()
        return self._publishing

    def _drop_publisher(self) -> None:
        if self._publishing is not None and self._publishing_pid == os.getpid():
            self._publishing.close()
        self._publishing = None

    def stop(self) -> None:
        super().stop()
        with self._publish_lock:
            self._drop_publisher()

    def __del__(self) -> None:
        if getattr(self, "_publishing", None) is not None:
            self._drop_publisher()

    def _listen(self, first: bool) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self.connected.set()
            self._listened_once = True
            if not first:
                self.hub.dispatch(RESET)  # what was sent while we were away is lost
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    self._receive(note.payload)


class RedisFeed(_ListeningFeed):
    backend = "redis"

    def __init__(self, url: str, channel: str, replay_size: int = 1000):
        super().__init__(replay_size)
        import redis

        self.url = url
        self.channel = channel
        self._client = redis.Redis.from_url(url)

    def publish(self, notices: list[Notice]) -> None:
        for payload in _batches(stamped(notices)):
            self._client.publish(self.channel, payload)

    def _listen(self, first: bool) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5, health_check_interval=10)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            self.connected.set()
            self._listened_once = True
            if not first:
                self.hub.dispatch(RESET)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    data = message["data"]
                    self._receive(data.decode() if isinstance(data, bytes) else data)
        finally:
            pubsub.close()
            client.close()


def choose_backend(setting: str, database_url: str, redis_url: str) -> str:
    if setting not in BACKENDS:
        raise ValueError(f"[live] backend: {setting!r} is not one of {', '.join(BACKENDS)}")
    if setting != "auto":
        return setting
    if database_url.startswith("postgresql"):
        return "postgres"
    return "redis" if redis_url else "memory"


def make_feed(config: Mapping[str, Any], engine: Engine) -> Feed:
    live = config["live"]
    backend = choose_backend(live["backend"], str(engine.url), config["REDIS_URL"])
    if backend == "postgres":
        if engine.dialect.name != "postgresql":
            raise ValueError("[live] backend = 'postgres' needs a PostgreSQL DATABASE_URL")
        return PostgresFeed(engine, live["channel"], live["replay_size"])
    if backend == "redis":
        if not config["REDIS_URL"]:
            raise ValueError("[live] backend = 'redis' needs REDIS_URL")
        return RedisFeed(config["REDIS_URL"], live["channel"], live["replay_size"])
    return Feed(live["replay_size"])


# Publishing connections a forked process found open: its parent's, left alone (PostgresFeed._publisher).
_INHERITED: list[Any] = []

# The feed of each engine, so the session hooks find it without an application context
# (scheduler jobs, workers and scripts commit outside requests too).
_FEEDS: weakref.WeakKeyDictionary[Engine, Feed] = weakref.WeakKeyDictionary()


def _engine_of(session: Session) -> Engine | None:
    try:
        bind = session.get_bind()
    except Exception:  # noqa: BLE001 - no application context and no bind: nothing to send to
        return None
    return bind if isinstance(bind, Engine) else getattr(bind, "engine", None)


def send(session: Session, notices: list[Notice]) -> None:
    """The after-commit sender: publish on the feed of the session's database. A feed that
    fails is logged, never raised: the change is committed, and pages catch up on reconnect."""
    engine = _engine_of(session)
    feed = _FEEDS.get(engine) if engine is not None else None
    if feed is None:
        return
    try:
        feed.publish(notices)
    except Exception as exc:  # noqa: BLE001 - a lost notice must not fail a committed request
        log.warning("live feed (%s): %d notice(s) not sent: %s", feed.backend, len(notices), exc)


def init_app(app) -> Feed:
    from ..database import ENGINE_KEY

    engine = app.extensions[ENGINE_KEY]
    feed = make_feed(app.config, engine)
    app.extensions[FEED_KEY] = feed
    _FEEDS[engine] = feed
    notices_module.register(send)
    return feed


def feed_of(app) -> Feed:
    return app.extensions[FEED_KEY]


def wait_until(predicate, timeout: float = 5.0, step: float = 0.01) -> bool:
    """Poll `predicate` until true or `timeout` (tests and the benchmark)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
