"""A period's trend beside the previous period of the same length and the same period last year.

Each comparison is the report itself for the shifted dates (nothing is computed twice in
another way), its periods matched to the chosen period's by position: the 1st week with
the 1st week, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from .engine import ReportQuery, empty_counts, records, shape
from .periods import period_keys
from .report import report

Row = dict[str, Any]


def previous_range(start: date, end: date) -> tuple[date, date]:
    """The as many days just before `start`."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def _year_earlier(day: date) -> date:
    # 29 February has no day a year earlier: the 28th stands in.
    return day.replace(year=day.year - 1, day=min(day.day, 28) if (day.month, day.day) == (2, 29) else day.day)


def last_year_range(start: date, end: date) -> tuple[date, date]:
    """The same dates a year earlier."""
    return _year_earlier(start), _year_earlier(end)


@dataclass(frozen=True)
class Trend:
    """One report row per period of a date range, in order; periods without contacts get an empty row."""

    start: date
    end: date
    keys: list[str]
    rows: list[Row]


@dataclass(frozen=True)
class Comparison:
    current: Trend
    previous: Trend
    last_year: Trend

    def aligned(self, which: str) -> list[Row | None]:
        """The comparison's rows beside the current periods (None where it has fewer periods)."""
        rows = getattr(self, which).rows
        return [rows[i] if i < len(rows) else None for i in range(len(self.current.rows))]


def _empty_row() -> Row:
    (row,) = records(shape(empty_counts([]), []))
    return row


def trend(session: Session, query: ReportQuery, calendar, short_abandon_seconds: float | None = None) -> Trend:
    """The report per period (query.period) for query's dates, every period present."""
    query = replace(query, by=("period",))
    found = {r["period"]: r for r in records(report(session, query, calendar, short_abandon_seconds))}
    keys = period_keys(query.start, query.end, query.period)
    rows = [found.get(key) or {"period": key, **_empty_row()} for key in keys]
    return Trend(query.start, query.end, keys, rows)


def compare(session: Session, query: ReportQuery, calendar, short_abandon_seconds: float | None = None) -> Comparison:
    """The trend of `query` (grouped by query.period) and of the two shifted ranges, same filters and as-of."""
    query = query.with_as_of()
    shifted = [previous_range(query.start, query.end), last_year_range(query.start, query.end)]
    current, previous, last_year = (
        trend(session, replace(query, start=start, end=end), calendar, short_abandon_seconds)
        for start, end in [(query.start, query.end), *shifted]
    )
    return Comparison(current, previous, last_year)
