"""The connection pool survives connections the database has closed (a restart, an idle timeout).

Pooled connections are pinged only when in doubt: after sitting idle (IDLE_BEFORE_PING), or
when the server has sent something to the idle connection (as it does when it ends one). So
these tests close a pooled connection's server side, as a PostgreSQL restart does, and check
what the next user of the pool sees.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from kontaktcenter import database
from kontaktcenter.database import make_engine

pytestmark = pytest.mark.postgres


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_backend_pid()"))


def _terminate(database_url: str, pid: int) -> None:
    """End a backend and wait until it is gone (pg_terminate_backend only signals it)."""
    admin = make_engine(database_url)
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) is True
        for _ in range(500):
            if not conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}):
                break
            conn.rollback()  # pg_stat_activity is read once per transaction: a new one sees the backend go
            time.sleep(0.01)
    admin.dispose()


def test_an_idle_connection_closed_by_the_server_is_replaced_before_use(database_url, monkeypatch):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        first = _backend_pid(engine)
        _terminate(database_url, first)
        monkeypatch.setattr(database, "IDLE_BEFORE_PING", 0.0)  # as if it sat idle long enough
        # The ping finds it dead; the pool opens a new connection and the query succeeds.
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged_and_one_the_server_ended_is_replaced_before_use(
    database_url, monkeypatch
):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    monkeypatch.setattr(database, "IDLE_BEFORE_PING", 600.0)  # never idle long enough here
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first
        assert pings == []  # just returned by its last user, and the server said nothing: no round trip
        _terminate(database_url, first)
        # Not idle, but the server's goodbye made its socket readable: pinged, found dead, replaced.
        assert _backend_pid(engine) != first
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_after_every_backend_is_terminated_each_pooled_connection_is_replaced_without_a_failure(database_url):
    """What a database restart does to a web worker's pool: all of it dies at once."""
    engine = make_engine(database_url, pool_size=3, max_overflow=0)
    try:
        held = [engine.connect() for _ in range(3)]
        before = {conn.scalar(text("SELECT pg_backend_pid()")) for conn in held}
        for conn in held:
            conn.close()  # back in the pool, just used: no idle ping would look at them
        for pid in before:
            _terminate(database_url, pid)
        held = [engine.connect() for _ in range(3)]
        after = {conn.scalar(text("SELECT pg_backend_pid()")) for conn in held}
        for conn in held:
            conn.close()
        assert len(after) == 3
        assert not after & before
    finally:
        engine.dispose()


def test_a_connection_that_breaks_after_its_check_costs_one_failure(database_url, monkeypatch):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        first = _backend_pid(engine)
        # As if the server ended it just after checkout looked (the moment of the kill).
        monkeypatch.setattr(database, "_server_spoke", lambda conn: False)
        monkeypatch.setattr(database, "IDLE_BEFORE_PING", 600.0)  # however slow this machine is today
        _terminate(database_url, first)
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()


def _alone(engine, statement, params=None, **kw):
    """Database.execute_alone with `engine` as the application's database."""
    from flask import Flask

    app = Flask(__name__)
    app.extensions[database.BIND_KEY] = app.extensions[database.ENGINE_KEY] = engine
    with app.app_context():
        return database.db.execute_alone(statement, params or {}, **kw)


def _cut(engine) -> None:
    """Break the pooled connection's socket under it, with no word from the server (as a lost
    network or a backend gone before it could say so leaves it)."""
    with engine.connect() as conn:
        fd = conn.connection.driver_connection.fileno()
        socket.socket(fileno=os.dup(fd)).shutdown(socket.SHUT_RDWR)


def test_a_statement_alone_commits_by_itself_and_leaves_the_pool_as_it_was(database_url):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    table = f"kc_alone_{uuid.uuid4().hex[:8]}"
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE {table} (id serial PRIMARY KEY, note text)"))
        assert _alone(engine, text(f"INSERT INTO {table} (note) VALUES (:note) RETURNING id"), {"note": "kvitto"}) == 1
        # Seen from another connection at once: committed, with no COMMIT sent.
        other = make_engine(database_url)
        with other.connect() as conn:
            assert conn.scalar(text(f"SELECT note FROM {table}")) == "kvitto"
        other.dispose()
        # The pooled connection went back in its usual mode: the next user's work is a transaction.
        with engine.connect() as conn:
            assert conn.connection.driver_connection.autocommit is False
            conn.execute(text(f"INSERT INTO {table} (note) VALUES ('rullas tillbaka')"))
            conn.rollback()
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_a_statement_alone_on_a_connection_the_server_ended_runs_on_a_new_one(database_url):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        first = _alone(engine, text("SELECT pg_backend_pid()"))
        _terminate(database_url, first)
        assert _alone(engine, text("SELECT pg_backend_pid()")) != first
    finally:
        engine.dispose()


def test_an_idempotent_statement_alone_whose_connection_broke_runs_once_more_and_another_fails(
    database_url, monkeypatch
):
    # test_fault_recovery met it under load: "server closed the connection unexpectedly", no
    # admin_shutdown, answered with a 500. The acknowledgement's INSERT … ON CONFLICT may run
    # twice; a statement not said to be so may have committed and must not run again.
    import psycopg

    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    monkeypatch.setattr(database, "_server_spoke", lambda conn: False)
    monkeypatch.setattr(database, "IDLE_BEFORE_PING", 600.0)
    try:
        first = _alone(engine, text("SELECT pg_backend_pid()"))
        _cut(engine)
        assert _alone(engine, text("SELECT pg_backend_pid()"), idempotent=True) not in (None, first)
        _cut(engine)
        with pytest.raises(psycopg.OperationalError):
            _alone(engine, text("SELECT pg_backend_pid()"))
    finally:
        engine.dispose()


def test_a_statement_alone_on_a_connection_the_server_ended_after_its_check_runs_once_more_on_a_new_one(
    database_url, monkeypatch
):
    # A busy server acts on pg_terminate_backend a moment late: the idle socket has not said so
    # when the pool looks, and the statement meets the termination instead. It did not commit,
    # so it runs again on a new connection: the acknowledgement it carries is not refused.
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        first = _alone(engine, text("SELECT pg_backend_pid()"))
        monkeypatch.setattr(database, "_server_spoke", lambda conn: False)
        monkeypatch.setattr(database, "IDLE_BEFORE_PING", 600.0)  # however slow this machine is today
        _terminate(database_url, first)
        second = _alone(engine, text("SELECT pg_backend_pid()"))
        assert second != first
        assert _alone(engine, text("SELECT pg_backend_pid()")) == second  # the new one is pooled
    finally:
        engine.dispose()
