"""Ticket references KC-<year>-<n>: unique, numbered per year in the order they are taken.

On PostgreSQL each year's numbers come from a sequence of its own (ticket_reference_<year>).
Taking a number locks nothing until the transaction ends, so concurrent intakes (web
processes, intake workers) never queue behind each other's commits on a counter row, and
a number is taken in the same round trip as anything else. The price is a gap where a
transaction that took a number rolled back: the reference stays unique, never reused.
A year's sequence is made the first time a process needs it, in a transaction of its own
(migrations/versions/0036 made those of the years already counted).

Elsewhere (SQLite: one writer at a time) the year's row of reference_counters holds the
last number and is raised inside the transaction, so there are no gaps.
"""

from __future__ import annotations

import weakref
from functools import cache

from sqlalchemy import Connection, Engine, bindparam, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..database import conflict_insert, run_statement
from .models import ReferenceCounter

# Years whose sequence this process has seen, per engine (a new database, a new engine).
_made: weakref.WeakKeyDictionary[Engine, set[int]] = weakref.WeakKeyDictionary()
_TAKE = text("SELECT nextval(CAST(:sequence AS regclass)) AS n FROM generate_series(1, :count) ORDER BY n")
_COUNTED = select(ReferenceCounter.value).where(ReferenceCounter.year == bindparam("year"))


def sequence_name(year: int) -> str:
    if not 1 <= year <= 9999:
        raise ValueError(f"no reference numbers for the year {year}")
    return f"ticket_reference_{year:d}"


def format_reference(year: int, number: int) -> str:
    return f"KC-{year}-{number:06d}"


def next_reference_numbers(session: Session | Connection, year: int, count: int = 1) -> list[int]:
    """Take `count` numbers of `year`, in increasing order (consecutive unless another
    process takes numbers of the same year at the same moment)."""
    connection = session if isinstance(session, Connection) else session.connection()
    if connection.dialect.name != "postgresql":
        last = connection.execute(_raise_counter(connection.dialect.name), {"year": year, "count": count}).scalar_one()
        return list(range(last - count + 1, last + 1))
    _make_sequence(connection.engine, year)
    try:
        taken = run_statement(connection, _TAKE, {"sequence": sequence_name(year), "count": count})
        return [number for (number,) in taken.fetchall()]
    except DBAPIError:
        _made.get(connection.engine, set()).discard(year)  # dropped behind our back: made again next time
        raise


def _make_sequence(engine: Engine, year: int) -> None:
    """The year's sequence, made (in a transaction of its own, so that it outlives a
    rollback of the caller's) unless this process has seen it already. It starts after the
    year's counter row, if a database moved here from SQLite brought one."""
    made = _made.setdefault(engine, set())
    if year in made:
        return
    name = sequence_name(year)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if connection.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is None:
            last = connection.scalar(_COUNTED, {"year": year}) or 0
            try:
                connection.exec_driver_sql(f"CREATE SEQUENCE IF NOT EXISTS {name} START WITH {last + 1:d}")
            except DBAPIError:
                # Another process made it at the same moment (the catalogue's unique name).
                if connection.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is None:
                    raise
    made.add(year)


@cache
def _raise_counter(dialect: str):
    """Raise the year's counter by `count`, returning the last number (built once)."""
    counters = ReferenceCounter.__table__
    return (
        conflict_insert(dialect)(counters)
        .values(year=bindparam("year"), value=bindparam("count"))
        .on_conflict_do_update(index_elements=["year"], set_={"value": counters.c.value + bindparam("count")})
        .returning(counters.c.value)
    )
