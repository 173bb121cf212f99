"""The intake worker survives a lost database: what it was routing is rolled back and routed
once on a later try, the outage is logged once, and the pause between tries grows."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import kontaktcenter.intake.worker as worker
from kontaktcenter.app import create_app
from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import ENGINE_KEY, Reconnect, db, lost_connection, make_engine, transient_error
from kontaktcenter.directory.models import User
from kontaktcenter.intake.incoming import IncomingContact
from kontaktcenter.intake.receive import accept
from kontaktcenter.intake.worker import keep_routing, route_waiting
from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.tickets.models import Ticket

LOG = logging.getLogger("test.recovery")


def _dropped(statement: str = "COMMIT") -> OperationalError:
    return OperationalError(statement, {}, Exception("server closed the connection unexpectedly"))


class StopWhenBack(Reconnect):
    """A Reconnect that stops the loop after its first good round following an outage."""

    def __init__(self, stop: threading.Event, **kw):
        super().__init__("test worker", LOG, first=0.01, **kw)
        self.stop = stop

    def succeeded(self) -> None:
        super().succeeded()
        if self.outages:
            self.stop.set()


def test_the_pause_grows_to_its_cap_and_an_outage_is_logged_once(caplog):
    clock = [0.0]
    reconnect = Reconnect("worker", LOG, first=0.5, longest=30.0, clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        pauses = [reconnect.failed(_dropped()) for _ in range(9)]
        clock[0] = 42.0
        reconnect.succeeded()
        reconnect.succeeded()  # no outage, nothing to say
        assert reconnect.failed(_dropped()) == 0.5  # a new outage starts from the first pause
    assert pauses == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if "lost the database connection" in m] == [
        "worker: lost the database connection (OperationalError: server closed the connection unexpectedly); "
        "retrying with backoff up to 30 s"
    ] * 2
    assert [m for m in messages if "back after" in m] == ["worker: database connection back after 42.0 s"]
    assert reconnect.outages == 2


def test_what_counts_as_transient():
    broken = _dropped("SELECT 1")
    broken.connection_invalidated = True
    assert lost_connection(broken)
    assert transient_error(broken)
    assert transient_error(_dropped())
    assert not lost_connection(_dropped())  # e.g. a deadlock: worth a retry, the connection is fine
    assert not transient_error(ValueError("a bug"))
    assert not lost_connection(ValueError("a bug"))


def _queue(session, n: int, tag: str) -> list[int]:
    return [
        accept(
            session,
            IncomingContact(channel="web", service_code="allmant", text=f"{tag} {i}", provider_sid=f"test:{tag}:{i}"),
        ).contact.id
        for i in range(n)
    ]


def _routed_once(session, ids: list[int]) -> None:
    rows = session.execute(select(Contact.ticket_id, Contact.awaiting_routing).where(Contact.id.in_(ids))).all()
    decisions = Counter(session.scalars(select(RoutingDecision.contact_id).where(RoutingDecision.contact_id.in_(ids))))
    assert len(rows) == len(ids)
    assert all(ticket_id is not None and not waiting for ticket_id, waiting in rows)
    assert len({ticket_id for ticket_id, _ in rows}) == len(ids)  # one ticket each
    assert set(decisions.values()) == {1}
    assert set(decisions) == set(ids)


def test_a_batch_whose_commit_is_lost_is_rolled_back_and_routed_once_on_the_next_try(app, session, monkeypatch, caplog):
    with app.app_context():
        ids = _queue(session, 3, uuid.uuid4().hex[:8])
        session.commit()
        real_commit, lost = session.commit, []

        def commit_lost_once():
            if not lost and session.scalar(
                select(Ticket.id).join(Contact, Contact.ticket_id == Ticket.id).where(Contact.id == ids[0])
            ):
                lost.append(True)
                raise _dropped()  # the batch was routed, but its COMMIT never arrived
            real_commit()

        monkeypatch.setattr(session, "commit", commit_lost_once)
        stop = threading.Event()
        with caplog.at_level(logging.WARNING):
            routed = keep_routing(session, stop=stop, idle=0.01, reconnect=StopWhenBack(stop))
    assert lost == [True]
    assert routed == 3
    _routed_once(session, ids)
    assert sum("lost the database connection" in r.getMessage() for r in caplog.records) == 1


def test_a_contact_that_loses_the_connection_is_not_set_aside_as_unroutable(app, session, monkeypatch):
    """A lost connection is no contact's fault: the batch is not retried one by one, nothing rests."""
    with app.app_context():
        (contact_id,) = _queue(session, 1, uuid.uuid4().hex[:8])
        session.commit()
        broken = _dropped("INSERT INTO tickets …")
        broken.connection_invalidated = True

        def lose_connection(s, contacts):
            raise broken

        monkeypatch.setattr(worker, "_place_batch", lose_connection)
        backoff = worker.RoutingBackoff()
        with pytest.raises(OperationalError):
            route_waiting(session, backoff=backoff)
        session.rollback()
    assert backoff.resting() == []
    assert session.get(Contact, contact_id).awaiting_routing is True


def test_an_error_that_is_not_transient_still_ends_the_loop(app, session, monkeypatch):
    monkeypatch.setattr(worker, "route_batches", lambda *a, **kw: iter([1 / 0]))
    with app.app_context(), pytest.raises(ZeroDivisionError):
        keep_routing(session, stop=threading.Event(), idle=0.01, reconnect=Reconnect("w", LOG))


@pytest.fixture
def users_restored(app):
    """These tests commit outside the test's transaction: routing offers tickets to agents,
    which moves their last_assigned_at and presence; put them back, or later tests' offers
    would go to other agents than on a fresh database."""
    engine = app.extensions[ENGINE_KEY]
    with Session(engine) as s:
        saved = s.execute(select(User.id, User.presence, User.last_assigned_at)).all()
    yield
    with Session(engine) as s:
        for user_id, presence, last_assigned_at in saved:
            s.execute(
                update(User).where(User.id == user_id).values(presence=presence, last_assigned_at=last_assigned_at)
            )
        s.commit()


def _cleanup(engine, ids: list[int]) -> None:
    with Session(engine) as s:
        ticket_ids = s.scalars(select(Contact.ticket_id).where(Contact.id.in_(ids))).all()
        s.execute(delete(Contact).where(Contact.id.in_(ids)))
        s.execute(delete(Ticket).where(Ticket.id.in_([t for t in ticket_ids if t])))
        s.commit()


def _run_until_routed(app, engine, ids, reconnect, stop, timeout=30.0):
    """keep_routing in a thread with its own session until every contact in `ids` is routed."""
    errors = []

    def run():
        try:
            with app.app_context(), Session(engine, expire_on_commit=False) as s:
                keep_routing(s, stop=stop, idle=0.05, reconnect=reconnect, batch=10)
        except Exception as exc:  # reported to the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + timeout
    with Session(engine) as s:
        while time.monotonic() < deadline and thread.is_alive():
            if not s.scalar(select(Contact.id).where(Contact.id.in_(ids), Contact.awaiting_routing.is_(True)).limit(1)):
                break
            s.rollback()
            time.sleep(0.05)
    stop.set()
    thread.join(timeout=30)
    return errors


@pytest.mark.postgres
def test_the_worker_survives_its_backend_being_terminated_mid_batch(
    app, database_url, monkeypatch, caplog, users_restored
):
    """pg_terminate_backend on the worker's own connection while a batch is routed, not yet committed."""
    engine = app.extensions[ENGINE_KEY]
    with app.app_context(), Session(engine, expire_on_commit=False) as s:
        ids = _queue(s, 25, uuid.uuid4().hex[:8])
        s.commit()
    admin = make_engine(database_url)
    real, killed = worker._place_batch, []

    def route_then_lose_the_connection(session, contacts):
        real(session, contacts)
        if not killed:
            pid = session.scalar(text("SELECT pg_backend_pid()"))
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                while conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}):
                    # pg_stat_activity is read once per transaction: a new one sees the backend go.
                    conn.rollback()
                    time.sleep(0.01)
            killed.append(pid)

    monkeypatch.setattr(worker, "_place_batch", route_then_lose_the_connection)
    reconnect = Reconnect("test worker", LOG, first=0.05)
    try:
        with caplog.at_level(logging.WARNING):
            errors = _run_until_routed(app, engine, ids, reconnect, threading.Event())
        assert errors == []
        assert len(killed) == 1
        assert reconnect.outages == 1
        with Session(engine) as s:
            _routed_once(s, ids)
        assert sum("lost the database connection" in r.getMessage() for r in caplog.records) == 1
    finally:
        admin.dispose()
        _cleanup(engine, ids)


class Outage:
    """A TCP proxy in front of PostgreSQL that can go down (refusing connections and cutting the
    open ones) and come back: a database restart, without restarting the shared server."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.open: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()  # refused, as a database that is starting up
                continue
            server = socket.create_connection(self.target)
            self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def down(self):
        self.up.clear()
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open = []

    def close(self):
        self.closed = True
        self.down()
        self.listener.close()


@pytest.mark.postgres
def test_the_worker_waits_out_a_database_that_is_down_and_routes_when_it_is_back(
    app, database_url, caplog, users_restored
):
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    proxy = Outage(url.host or "127.0.0.1", url.port or 5432)
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxied = create_app({"DATABASE_URL": through_proxy, "SECRET_KEY": "x", "TESTING": True})
    engine = proxied.extensions[ENGINE_KEY]
    with proxied.app_context():
        with db.new_session() as s:
            ids = _queue(s, 5, uuid.uuid4().hex[:8])
            s.commit()
    reconnect = Reconnect("test worker", LOG, first=0.05, longest=0.2)
    stop = threading.Event()
    try:
        proxy.down()
        with caplog.at_level(logging.WARNING):
            errors = []

            def run():
                try:
                    with proxied.app_context(), db.new_session() as s:
                        keep_routing(s, stop=stop, idle=0.05, reconnect=reconnect)
                except Exception as exc:  # reported to the test
                    errors.append(exc)

            thread = threading.Thread(target=run)
            thread.start()
            time.sleep(1.0)  # down for a while: several tries, all refused
            assert thread.is_alive()
            proxy.up.set()
            errors += _wait_routed(engine, ids)
            stop.set()
            thread.join(timeout=30)
        assert errors == []
        with Session(engine) as s:
            _routed_once(s, ids)
        messages = [r.getMessage() for r in caplog.records]
        assert sum("lost the database connection" in m for m in messages) == 1  # once, not per try
        assert sum("back after" in m for m in messages) == 1
    finally:
        stop.set()
        _cleanup(app.extensions[ENGINE_KEY], ids)
        engine.dispose()
        proxy.close()


def _wait_routed(engine, ids, timeout=30.0) -> list[Exception]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with Session(engine) as s:
                if not s.scalar(
                    select(Contact.id).where(Contact.id.in_(ids), Contact.awaiting_routing.is_(True)).limit(1)
                ):
                    return []
        except OperationalError:
            pass
        time.sleep(0.05)
    return [TimeoutError("contacts still waiting")]
