"""SQL constructs the metric engine needs, compiled for PostgreSQL and for SQLite.

PostgreSQL does local time, percentiles and interval arithmetic natively. SQLite has
none of these, so the same constructs compile to small Python functions that `register`
adds to each connection of an SQLite engine (the app factory registers the app's
engine): the SQL the engine writes is the same on both databases.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Float, String, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from ..database import UTCDateTime
from ..worktime.calendar import STOCKHOLM

TZ_NAME = "Europe/Stockholm"
SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# PostgreSQL to_char patterns the engine uses, and their Python equivalents for SQLite.
LOCAL_FORMATS = {
    "YYYY-MM-DD": lambda d: d.strftime("%Y-%m-%d"),
    'IYYY-"W"IW': lambda d: "{:04d}-W{:02d}".format(*d.isocalendar()[:2]),
    "YYYY-MM": lambda d: d.strftime("%Y-%m"),
    "ID": lambda d: str(d.isoweekday()),
    "HH24": lambda d: d.strftime("%H"),
    "HH24:MI": lambda d: d.strftime("%H:%M"),
}


def _parse(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class local_part(FunctionElement):  # noqa: N801 - reads like the SQL function it is
    """to_char(column in Stockholm local time, pattern) — a text group key."""

    type = String()
    inherit_cache = True


@compiles(local_part, "postgresql")
def _local_part_pg(element, compiler, **kw):
    column, pattern = list(element.clauses)
    # The pattern stays a bound parameter: inlining it would let the statement cache
    # reuse one period's SQL for another.
    return f"to_char(({compiler.process(column, **kw)}) AT TIME ZONE '{TZ_NAME}', {compiler.process(pattern, **kw)})"


@compiles(local_part)
def _local_part_other(element, compiler, **kw):
    return f"kc_local_part({compiler.process(element.clauses, **kw)})"


class local_date(FunctionElement):  # noqa: N801
    """The Stockholm local date of a timestamp (a date on PostgreSQL, 'YYYY-MM-DD' on SQLite)."""

    type = String()
    inherit_cache = True


@compiles(local_date, "postgresql")
def _local_date_pg(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE '{TZ_NAME}' AS date)"


@compiles(local_date)
def _local_date_other(element, compiler, **kw):
    return f"kc_local_part({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


class seconds_between(FunctionElement):  # noqa: N801
    """later − earlier in seconds (float)."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "postgresql")
def _seconds_pg(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)}))"


@compiles(seconds_between)
def _seconds_other(element, compiler, **kw):
    return f"kc_seconds({compiler.process(element.clauses, **kw)})"


class plus_seconds(FunctionElement):  # noqa: N801
    """A timestamp plus a number of seconds (a timestamp, comparable with the columns)."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(plus_seconds, "postgresql")
def _plus_seconds_pg(element, compiler, **kw):
    moment, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"({moment} + CAST({seconds} AS double precision) * INTERVAL '1 second')"


@compiles(plus_seconds)
def _plus_seconds_other(element, compiler, **kw):
    return f"kc_plus_seconds({compiler.process(element.clauses, **kw)})"


class percentile(FunctionElement):  # noqa: N801
    """percentile_cont(fraction) of an expression over the rows meeting a condition (linear interpolation).

    Arguments: value, fraction, condition. On PostgreSQL the condition is a FILTER, so
    only those rows are sorted, not every row of the group.
    """

    type = Float()
    inherit_cache = True


@compiles(percentile, "postgresql")
def _percentile_pg(element, compiler, **kw):
    value, fraction, condition = (compiler.process(c, **kw) for c in element.clauses)
    return f"percentile_cont(CAST({fraction} AS double precision)) WITHIN GROUP (ORDER BY {value}) FILTER (WHERE {condition})"


@compiles(percentile)
def _percentile_other(element, compiler, **kw):
    value, fraction, condition = (compiler.process(c, **kw) for c in element.clauses)
    return f"kc_percentile(CASE WHEN {condition} THEN {value} END, {fraction})"


class one_working_day_deadline(FunctionElement):  # noqa: N801
    """The deadline of a contact from its arrival and its local day's row of the deadline table.

    Arguments: arrived_at, the next working day's date (text 'YYYY-MM-DD'), and whether
    the contact counts as arriving at 00:00 (it arrived on a non-working day).
    """

    type = UTCDateTime()
    inherit_cache = True


@compiles(one_working_day_deadline, "postgresql")
def _deadline_pg(element, compiler, **kw):
    arrived, day, midnight = (compiler.process(c, **kw) for c in element.clauses)
    local_clock = f"(({arrived}) AT TIME ZONE '{TZ_NAME}')::time"
    return f"((CAST({day} AS date) + CASE WHEN {midnight} THEN TIME '00:00' ELSE {local_clock} END) AT TIME ZONE '{TZ_NAME}')"


@compiles(one_working_day_deadline)
def _deadline_other(element, compiler, **kw):
    return f"kc_deadline({compiler.process(element.clauses, **kw)})"


def deadline_at(arrived_at: datetime, deadline_day: date, midnight: bool) -> datetime:
    """Python twin of one_working_day_deadline (used by SQLite and by the tests)."""
    clock = time(0) if midnight else arrived_at.astimezone(STOCKHOLM).time().replace(tzinfo=None)
    return datetime.combine(deadline_day, clock, STOCKHOLM).astimezone(UTC)


def _sqlite_local_part(value, fmt):
    moment = _parse(value)
    return None if moment is None else LOCAL_FORMATS[fmt](moment.astimezone(STOCKHOLM))


def _sqlite_seconds(later, earlier):
    a, b = _parse(later), _parse(earlier)
    return None if a is None or b is None else (a - b).total_seconds()


def _sqlite_plus_seconds(moment, seconds):
    parsed = _parse(moment)
    if parsed is None or seconds is None:
        return None
    return (parsed + timedelta(seconds=seconds)).strftime(SQLITE_FORMAT)


def _sqlite_deadline(arrived, day, midnight):
    moment = _parse(arrived)
    if moment is None or day is None:
        return None
    return deadline_at(moment, date.fromisoformat(day), bool(midnight)).strftime(SQLITE_FORMAT)


def interpolated_percentile(values: list[float], fraction: float) -> float | None:
    """percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    values = sorted(values)
    position = fraction * (len(values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


class _Percentile:
    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction) -> None:
        self.fraction = fraction
        if value is not None:
            self.values.append(float(value))

    def finalize(self):
        return interpolated_percentile(self.values, self.fraction)


def register(engine: Engine) -> None:
    """Give every connection `engine` makes the functions these constructs compile to on SQLite.

    PostgreSQL has its own: an engine of another database is left as it is.
    """
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _add_sqlite_functions)


def _add_sqlite_functions(dbapi_connection: sqlite3.Connection, _record) -> None:
    dbapi_connection.create_function("kc_local_part", 2, _sqlite_local_part, deterministic=True)
    dbapi_connection.create_function("kc_seconds", 2, _sqlite_seconds, deterministic=True)
    dbapi_connection.create_function("kc_deadline", 3, _sqlite_deadline, deterministic=True)
    dbapi_connection.create_function("kc_plus_seconds", 2, _sqlite_plus_seconds, deterministic=True)
    dbapi_connection.create_aggregate("kc_percentile", 2, _Percentile)


class bytewise(FunctionElement):  # noqa: N801 - reads like the SQL it renders
    """A text column compared byte by byte (PostgreSQL's "C" collation): for grouping and
    partitioning by an identifier, where only equality matters, this sorts several times
    faster than the database's language collation. SQLite compares bytes already."""

    inherit_cache = True
    type = String()


@compiles(bytewise, "postgresql")
def _bytewise_pg(element, compiler, **kw):
    (value,) = element.clauses
    return f'({compiler.process(value, **kw)} COLLATE "C")'


@compiles(bytewise)
def _bytewise_other(element, compiler, **kw):
    (value,) = element.clauses
    return compiler.process(value, **kw)
