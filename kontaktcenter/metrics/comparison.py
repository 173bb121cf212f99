"""A period's trend beside the previous period of the same length and the same period last year.

Each comparison is the report itself for the shifted dates (nothing is computed another
way), its periods matched to the chosen ones by position: the 1st week with the 1st week.
The shifts are whole periods, so a week cut on a Wednesday is compared with a week cut on
a Wednesday, and last year's weeks are the same week numbers (52 weeks earlier).
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


def _shift(day: date, kind: str, periods: int) -> date:
    """`periods` days, weeks or months earlier (a month's day kept, or its last day when shorter)."""
    if kind != "month":
        return day - timedelta(days=periods * (7 if kind == "week" else 1))
    index = day.year * 12 + day.month - 1 - periods
    year, month = divmod(index, 12)
    following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (following - timedelta(days=1)).day))


def previous_range(start: date, end: date, kind: str) -> tuple[date, date]:
    """As many periods just before: its periods are cut at the same places as the chosen ones."""
    periods = len(period_keys(start, end, kind))
    return _shift(start, kind, periods), _shift(end, kind, periods)


def last_year_range(start: date, end: date, kind: str) -> tuple[date, date]:
    """The same months a year earlier; for days and weeks 52 weeks earlier (the same weekdays and week numbers)."""
    if kind == "month":
        return _shift(start, kind, 12), _shift(end, kind, 12)
    return _shift(start, "week", 52), _shift(end, "week", 52)


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
    empty = _empty_row()
    rows = [found.get(key) or {"period": key, **empty} for key in keys]
    return Trend(query.start, query.end, keys, rows)


def compare(session: Session, query: ReportQuery, calendar, short_abandon_seconds: float | None = None) -> Comparison:
    """The trend of `query` (grouped by query.period) and of the two shifted ranges, same filters and as-of."""
    query = query.with_as_of()
    kind = query.period or "month"
    query = replace(query, period=kind)
    shifted = [previous_range(query.start, query.end, kind), last_year_range(query.start, query.end, kind)]
    current, previous, last_year = (
        trend(session, replace(query, start=start, end=end), calendar, short_abandon_seconds)
        for start, end in [(query.start, query.end), *shifted]
    )
    return Comparison(current, previous, last_year)
