"""The connection pool survives connections the database has closed (a restart, an idle timeout).

Pooled connections are pinged only after sitting idle (IDLE_BEFORE_PING), so these tests
close a pooled connection's server side, as a PostgreSQL restart does, and check what
the next user of the pool sees.
"""
from __future__ import annotations

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
    admin = make_engine(database_url)
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) is True
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


def test_a_connection_in_steady_use_is_not_pinged_and_a_broken_one_costs_one_failure(database_url, monkeypatch):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    pings = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or True)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first
        assert pings == []  # just returned by its last user: no round trip to check it
        _terminate(database_url, first)
        # Not idle, so not pinged: the one request using it fails, and the pool replaces it.
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()
