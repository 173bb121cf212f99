"""The database: declarative base, engine and the request-scoped session."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from logging import Logger
from select import POLLIN, poll
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Executable,
    MetaData,
    Table,
    Text,
    bindparam,
    cast,
    column,
    create_engine,
    event,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, scoped_session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def conflict_insert(dialect: str) -> Callable[..., Any]:
    """The dialect's own INSERT, which can say ON CONFLICT (PostgreSQL and SQLite both can)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def complete_row(model: type[Base], row: dict[str, Any]) -> dict[str, Any]:
    """`row` with every column it leaves out given the value an INSERT would give it (the
    column's Python default, or None), so that what is written is known without reading it
    back (as_stored). The primary key and server-only defaults are left to the database."""
    completed = dict(row)
    for col in model.__table__.columns:
        if col.key in completed or col.primary_key or (col.server_default is not None and not col.default):
            continue
        if col.default is None:
            completed[col.key] = None
            continue
        has_default, value = python_default(col.default)
        if has_default:
            completed[col.key] = value
    return completed


def python_default(default: Any) -> tuple[bool, Any]:
    """Whether a column's `default` (col.default, or col.onupdate) is Python-side (a value or a
    plain function), and the value an INSERT (an UPDATE) would take from it."""
    if getattr(default, "is_scalar", False):
        return True, default.arg
    if getattr(default, "is_callable", False):
        return True, default.arg(None)  # a plain function, wrapped to take the context
    return False, None


def as_stored(session: Session, obj: Any, **related: Any) -> Any:
    """`obj`, a new object built with the columns of a row a Core statement just wrote (its id
    included), put in the session as if loaded, without a SELECT; `related` sets
    relationships as loaded (a many-to-one not given is found in the identity map when touched)."""
    make_transient_to_detached(obj)  # what was set counts as loaded, not as a change to write
    for name, value in related.items():
        set_committed_value(obj, name, value)
    session.add(obj)
    return obj


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]], *returning: Column) -> Any:
    """INSERT many rows (all with the same keys); with `returning`, the rows of
    INSERT … RETURNING those columns (tuples), in no promised order (map them by a unique column).

    On PostgreSQL one statement whatever their number: the rows go as one JSON parameter
    (INSERT … SELECT FROM json_to_recordset), which the server parses, plans and runs once,
    where an executemany runs one INSERT per row, and whose text does not change with the
    number of rows, so it stays prepared. Elsewhere an executemany."""
    if not rows:
        return None
    names = _same_columns(table, rows)
    if connection.dialect.name == "postgresql":
        written = run_on_driver(connection, _recordset_insert(table, names, returning), {"kc_rows": _as_json(rows)})
        return written.fetchall() if returning else None
    statement = (
        insert(table).returning(*returning, sort_by_parameter_order=True) if returning else insert(table).inline()
    )
    written = connection.execute(statement, rows)
    return written.all() if returning else None


def update_rows(connection: Connection, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    """UPDATE each row of `table` whose `key` column equals a row's `key` with that row's other
    values (all rows with the same keys): on PostgreSQL one UPDATE … FROM json_to_recordset (as
    insert_rows), elsewhere an executemany."""
    if not rows:
        return
    rows = _updated(table, rows)
    names = _same_columns(table, rows)
    if connection.dialect.name == "postgresql":
        run_on_driver(connection, _recordset_update(table, key, names), {"kc_rows": _as_json(rows)})
        return
    connection.execute(_keyed_update(table, key, names), [{f"kc_{n}": row[n] for n in names} for row in rows])


def _updated(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with the values an UPDATE gives the columns they leave out that have a Python
    `onupdate` (updated_at): the JSON parameter would otherwise write NULL there."""
    stamps = {}
    for col in _stamped_on_update(table):
        if col.key not in rows[0]:
            has_value, value = python_default(col.onupdate)
            if has_value:
                stamps[col.key] = value
    return [{**row, **stamps} for row in rows] if stamps else rows


@cache
def _stamped_on_update(table: Table) -> tuple[Column, ...]:
    return tuple(col for col in table.columns if col.onupdate is not None)


# A write of write_rows: the table, the key column to update by (None: the rows are inserted), the rows.
Write = tuple[Table, str | None, list[dict[str, Any]]]


def write_rows(connection: Connection, *writes: Write) -> None:
    """Several tables' rows written in one go, each write inserted (as insert_rows) or updated
    by its key (as update_rows). On PostgreSQL one statement, each write a data-modifying WITH
    over its rows as one JSON parameter: one round trip, planned once (psycopg's pipeline cost
    the client more than the round trips it saved). All writes see the database as it was
    before the statement, so none may depend on another's rows. Elsewhere one executemany each."""
    writes = tuple(write for write in writes if write[2])
    if not writes:
        return
    if connection.dialect.name != "postgresql":
        for table, key, rows in writes:
            if key is None:
                insert_rows(connection, table, rows)
            else:
                update_rows(connection, table, key, rows)
        return
    writes = tuple((table, key, rows if key is None else _updated(table, rows)) for table, key, rows in writes)
    shape = tuple((table, key, _same_columns(table, rows)) for table, key, rows in writes)
    params = {f"kc_rows_{i}": _as_json(rows) for i, (_table, _key, rows) in enumerate(writes)}
    run_on_driver(connection, _together(shape), params)


@lru_cache(maxsize=64)
def _together(shape: tuple[tuple[Table, str | None, tuple[str, ...]], ...]):
    ctes = [
        (
            _recordset_insert(table, names, (), f"kc_rows_{i}")
            if key is None
            else _recordset_update(table, key, names, f"kc_rows_{i}")
        ).cte(f"kc_write_{i}")
        for i, (table, key, names) in enumerate(shape)
    ]
    return select(literal(1)).add_cte(*ctes)


def _same_columns(table: Table, rows: list[dict[str, Any]]) -> tuple[str, ...]:
    # A row with a column more or less would be written wrongly or silently in part.
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError(f"rows for {table.name} with different columns")
    return tuple(rows[0])


def _as_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=_json_value, separators=(",", ":"))


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware values")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written by insert_rows or update_rows")


def _recordset(table: Table, names: tuple[str, ...], parameter: str):
    """The rows of the JSON parameter as a FROM, each column typed as the table's."""
    columns = [(n, table.c[n].type) for n in names]
    return (
        func.json_to_recordset(cast(bindparam(parameter, type_=Text), JSON))
        .table_valued(*(column(n, t) for n, t in columns))
        .render_derived(name="kc_rows", with_types=True)
    )


@cache
def _recordset_insert(table: Table, names: tuple[str, ...], returning: tuple[Column, ...], parameter: str = "kc_rows"):
    rows = _recordset(table, names, parameter)
    statement = insert(table).from_select(list(names), select(*(rows.c[n] for n in names)))
    return statement.returning(*returning) if returning else statement


@cache
def _recordset_update(table: Table, key: str, names: tuple[str, ...], parameter: str = "kc_rows"):
    rows = _recordset(table, names, parameter)
    return update(table).where(table.c[key] == rows.c[key]).values({n: rows.c[n] for n in names if n != key})


@cache
def _keyed_update(table: Table, key: str, names: tuple[str, ...]):
    return (
        update(table)
        .where(table.c[key] == bindparam(f"kc_{key}"))
        .values({n: bindparam(f"kc_{n}") for n in names if n != key})
    )


def make_engine(url: str, **kw) -> Engine:
    if url.startswith("sqlite"):
        kw.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Foreign keys are off by default in SQLite; WAL lets readers work while one writes.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 20)
    engine = create_engine(url, **kw)
    _ping_when_idle(engine)
    return engine


# A pooled connection is pinged before use only when it is in doubt: when it has sat idle
# this long, or when the server has sent it something while it sat in the pool. One in
# steady use was just proven alive, and a round trip on every checkout (pool_pre_ping)
# costs a webhook more than most of its queries. Looking at the socket costs one poll()
# call, no round trip: a server that ends a connection (pg_terminate_backend, a restart,
# an idle timeout) says so and closes it, so a connection that died while pooled makes
# its socket readable. The pool then discards it and opens another, and no request sees
# the dead one; only a connection that breaks while a request is using it fails that
# request (SQLAlchemy then replaces every older pooled connection too).
IDLE_BEFORE_PING = 2.0
_CHECKED_IN = "kontaktcenter.checked_in"


def _server_spoke(dbapi_conn) -> bool:
    """Whether the server has sent this idle connection anything: it is closing it (or, rarely,
    a notice). True when the socket cannot be looked at, so the caller pings."""
    try:
        poller = poll()
        poller.register(dbapi_conn.fileno(), POLLIN)
        return bool(poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return True


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None:
            return  # new: just connected
        if time.monotonic() - checked_in < IDLE_BEFORE_PING and not _server_spoke(dbapi_conn):
            return  # just returned by a request that used it, and nothing came since
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as err:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError("pooled connection failed its ping") from err


@lru_cache(maxsize=512)  # bounded: some statements are built per count of values (citizen_histories)
def _driver_sql(statement: Executable, dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """The statement as the driver takes it, and the values it holds itself (its literals)."""
    compiled = statement.compile(dialect=dialect)
    sql = str(compiled)
    if "POSTCOMPILE" in sql:
        raise ValueError(
            "a statement for the driver cannot hold an expanding list (IN): give each value a parameter, or use = ANY(array)"
        )
    return sql, dict(compiled.params)


def run_statement(connection: Connection, statement: Executable, params: dict[str, Any]) -> Any:
    """`statement` on PostgreSQL straight to the driver (run_on_driver), elsewhere as usual;
    what it returns has fetchone() and fetchall() (tuples)."""
    if connection.dialect.name == "postgresql":
        return run_on_driver(connection, statement, params)
    return connection.execute(statement, params)


def run_on_driver(connection: Connection, statement: Executable, params: dict[str, Any]) -> Any:
    """`statement` sent straight to the driver (psycopg) in the connection's transaction,
    prepared; returns the driver's cursor. For the intake's statements on PostgreSQL, which
    every contact runs: SQLAlchemy's own work per execution costs about as much as the
    server's (as execute_alone). `params` must be plain values (no column type processes
    them), and no cursor events are sent. A failure is raised as SQLAlchemy raises it
    (IntegrityError, …), and a lost connection invalidates `connection` (lost_connection)."""
    sql, own = _driver_sql(statement, connection.dialect)
    values = {**own, **params}
    driver = connection.connection.driver_connection
    cursor = driver.cursor()
    dbapi = connection.dialect.loaded_dbapi
    try:
        cursor.execute(sql, values, prepare=True)
    except dbapi.Error as exc:
        lost = connection.dialect.is_disconnect(exc, driver, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, dbapi.Error, connection_invalidated=lost) from exc
    return cursor


# PostgreSQL's admin_shutdown: the server ended the backend (pg_terminate_backend, a restart)
# and answered the statement with this instead of running it to its commit.
ADMIN_SHUTDOWN = "57P01"


def _execute_on_driver(engine: Engine, statement: Executable, params: dict[str, Any], idempotent: bool) -> Any:
    sql, own = _driver_sql(statement, engine.dialect)
    values = {**own, **params}
    try:
        return _run_on_driver(engine, sql, values)
    except engine.dialect.loaded_dbapi.OperationalError as exc:
        if getattr(exc, "sqlstate", None) != ADMIN_SHUTDOWN and not idempotent:
            raise
        # The pooled connection's backend had been ended before the statement reached it (a
        # busy server may take a moment to act on the signal, so the idle socket had not said
        # so yet): the statement did not commit. Or the connection broke with no word from the
        # server, perhaps after the commit: then only a statement that may run twice runs again.
        # Once more, on a new connection.
        return _run_on_driver(engine, sql, values)


def _run_on_driver(engine: Engine, sql: str, values: dict[str, Any]) -> Any:
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        driver.autocommit = True
        try:
            row = driver.execute(sql, values, prepare=True).fetchone()
        finally:
            if not driver.broken:  # a lost connection would raise here and hide the error
                driver.autocommit = False
    except engine.dialect.loaded_dbapi.OperationalError:
        pooled.invalidate()  # a broken connection must not go back to the pool
        raise
    finally:
        pooled.close()
    return row[0] if row else None


BIND_KEY = "kontaktcenter.bind"
ENGINE_KEY = "kontaktcenter.engine"


class AppSession(Session):
    """A session that talks to the current application's database.

    The bind is looked up per use, so several apps (a test's live server beside the
    test's own app) can live in one process, and a test can swap in a connection
    that it rolls back afterwards.
    """

    def get_bind(self, mapper=None, **kw):
        if self.bind is not None:
            return self.bind
        return current_app.extensions[BIND_KEY]


class Database:
    """The scoped session and helpers; engines live on the app (app.extensions)."""

    def __init__(self) -> None:
        # create_savepoint: when the bind is a connection already in a transaction (tests),
        # the session's commit releases a savepoint instead of committing.
        self.session = scoped_session(
            sessionmaker(class_=AppSession, expire_on_commit=False, join_transaction_mode="create_savepoint")
        )

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions[ENGINE_KEY] = engine
        app.extensions[BIND_KEY] = engine

    @property
    def engine(self) -> Engine:
        return current_app.extensions[ENGINE_KEY]

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def autocommit(self) -> None:
        """Let each of this request's statements commit by itself: no BEGIN and COMMIT round trips.

        Call it before the request's first statement. When the bind is a connection already
        in a transaction (a test's, rolled back afterwards), the statements stay inside it.
        """
        if isinstance(self.session.get_bind(), Engine):
            self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    def execute_alone(self, statement: Executable, params: dict[str, Any], *, idempotent: bool = False) -> Any:
        """Run one statement that commits by itself, outside the session and any transaction
        (no BEGIN and COMMIT round trips); its first value. With a test's connection as the
        bind, it runs inside the test's transaction. `idempotent`: running it twice does what
        running it once does (an INSERT … ON CONFLICT DO NOTHING on a unique key it always
        carries), so a connection that breaks under it is no reason to fail: it runs again.

        On PostgreSQL the statement goes straight to the driver, prepared, as in the hottest
        path (the API's acknowledgement) SQLAlchemy's own work per execution costs about as
        much as the round trip: `params` must then be plain values (str, int, bool, None,
        timezone-aware datetimes), as no column type processes them.
        """
        bind = current_app.extensions[BIND_KEY]
        if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
            return _execute_on_driver(bind, statement, params, idempotent)
        if isinstance(bind, Engine):
            with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                return conn.execute(statement, params).scalar()
        return bind.execute(statement, params).scalar()

    def new_session(self) -> Session:
        """A session outside the request scope (worker threads, scheduler jobs)."""
        return Session(bind=current_app.extensions[BIND_KEY], expire_on_commit=False)


db = Database()


def lost_connection(exc: BaseException) -> bool:
    """The connection broke under the statement (SQLAlchemy has invalidated it): nothing more
    can be done in this transaction, which the server has rolled back."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def transient_error(exc: BaseException) -> bool:
    """An error that a rollback and a later try may cure: the connection was lost or could not
    be made (the database restarting, a terminated backend), or the server gave up on the
    transaction (deadlock, serialization failure, shutdown; SQLite: locked)."""
    return isinstance(exc, OperationalError) or lost_connection(exc)


class Reconnect:
    """Waiting out a lost database: for long-running loops (the intake worker, the scheduler).

    The first failure of an outage is logged once (not every retry: an hour's outage would
    fill the log), each further failure waits longer, from `first` doubling up to `longest`
    seconds, and the first success after it ends the outage and says how long it lasted.
    The pool itself needs no help: SQLAlchemy has invalidated the broken connection (and the
    pool's older ones) when it saw the disconnect, so the next try connects afresh.
    Thread-safe: the scheduler's jobs share one.
    """

    def __init__(
        self,
        what: str,
        log: Logger,
        *,
        first: float = 0.5,
        longest: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.log, self.first, self.longest, self.clock = what, log, first, longest, clock
        self.outages = 0
        self._since: float | None = None
        self._pause = 0.0
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> float:
        """Note a transient failure; returns the seconds to wait before the next try."""
        with self._lock:
            if self._since is None:
                self._since, self._pause = self.clock(), self.first
                self.outages += 1
                reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:200]
                self.log.warning(
                    "%s: lost the database connection (%s: %s); retrying with backoff up to %.0f s",
                    self.what,
                    type(exc).__name__,
                    reason,
                    self.longest,
                )
            else:
                self._pause = min(self._pause * 2, self.longest)
            return self._pause

    def succeeded(self) -> None:
        with self._lock:
            if self._since is not None:
                self.log.warning("%s: database connection back after %.1f s", self.what, self.clock() - self._since)
                self._since = None
