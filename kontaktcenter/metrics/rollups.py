"""Daily rollups: the engine's additive counts per local day, stored so a year answers fast.

A rollup day is used by a report only when it is settled: every one-working-day
deadline of its contacts had passed when it was computed, and the report's as-of time
is not earlier than that. Other days are counted from the rows. Medians and
percentiles always come from the rows (engine.FROM_RAW_ROWS).

Never stale: a write that changes a past day's figures marks it dirty in the same
transaction (dirty.py). A dirty day is counted from the rows, like an unsettled one,
until the nightly job has recomputed it; the job recomputes every dirty day, however
old, and the recent days that are not yet settled.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..tickets.models import Ticket
from .dirty import dirty_days
from .engine import (
    ADDITIVE,
    PERIODS,
    STOCKHOLM,
    ReportQuery,
    _frame,
    _frames,
    contact_statement,
    counts,
    deadline_departments,
    deadline_rows,
    merge_counts,
    merge_frames,
    percentile_statements,
    period_bounds,
    ticket_statement,
)
from .models import MetricDirtyDay, MetricRollup, MetricRollupDay
from .sqlfuncs import LOCAL_FORMATS

ROLLUP_DIMENSIONS = ("service", "department", "channel", "location", "language")
# The recent days the job looks at for rollups missing or not yet settled: longer than
# any one-working-day deadline (Easter, Christmas and a department's klämdagar).
RECENT_DAYS = 14
# Dirty days this close together are recomputed as one range: fewer queries.
MERGE_GAP_DAYS = 3


CHUNK_DAYS = 31  # a year is rolled up a month at a time: bounded memory


def compute_rollups(
    session: Session, start: date, end: date, calendar, short_abandon_seconds: float, now: datetime
) -> int:
    """Recompute the rollup rows of local days start..end as of `now`; returns rows written."""
    written = 0
    first = start
    while first <= end:
        last = min(end, first + timedelta(days=CHUNK_DAYS - 1))
        written += _compute_chunk(session, first, last, calendar, short_abandon_seconds, now)
        first = last + timedelta(days=1)
    return written


def _compute_chunk(
    session: Session, start: date, end: date, calendar, short_abandon_seconds: float, now: datetime
) -> int:
    query = ReportQuery(start, end, by=(*ROLLUP_DIMENSIONS, "period"), period="day", as_of=now)
    keys = query.group_columns
    # The marks these rows answer, read before them: a mark written meanwhile survives.
    marks = list(
        session.scalars(select(MetricDirtyDay.id).where(MetricDirtyDay.day >= start, MetricDirtyDay.day <= end))
    )
    contacts = _frame(session, contact_statement(query, calendar, short_abandon_seconds, percentiles=False), keys)
    tickets = _frame(session, ticket_statement(query), keys)
    frame = merge_counts(contacts, tickets, keys)
    session.execute(delete(MetricRollup).where(MetricRollup.day >= start, MetricRollup.day <= end))
    rows = []
    for record in frame.to_dict(orient="records"):
        row = {k: (record[k] or "") for k in ROLLUP_DIMENSIONS}
        row["day"] = date.fromisoformat(record["period"])
        for name in ADDITIVE:
            value = record[name]
            row[name] = float(value) if name.endswith("_sum") else int(value)
        rows.append(row)
    if rows:
        session.execute(insert(MetricRollup), rows)
    session.execute(delete(MetricRollupDay).where(MetricRollupDay.day >= start, MetricRollupDay.day <= end))
    days = [{"day": start + timedelta(days=i), "computed_at": now} for i in range((end - start).days + 1)]
    session.execute(insert(MetricRollupDay), days)
    for at in range(0, len(marks), 5000):
        session.execute(delete(MetricDirtyDay).where(MetricDirtyDay.id.in_(marks[at : at + 5000])))
    return len(rows)


def settled(day: date, computed_at: datetime, calendar) -> bool:
    """True when every contact of `day` had its one-working-day deadline before computed_at.

    A department with closing days of its own may have a later deadline than the city's.
    """
    last_deadline_day = max(
        deadline_day
        for department in ("", *deadline_departments(calendar))
        for _day, deadline_day, _midnight in deadline_rows(calendar, day, day, department or None)
    )
    return datetime.combine(last_deadline_day + timedelta(days=1), time(0), STOCKHOLM) <= computed_at


def usable_days(session: Session, query: ReportQuery, calendar) -> list[date]:
    """The days a report may take from the rollups: settled as of its as-of time and not dirty."""
    rows = session.execute(
        select(MetricRollupDay.day, MetricRollupDay.computed_at).where(
            MetricRollupDay.day >= query.start, MetricRollupDay.day <= query.end
        )
    ).all()
    dirty = dirty_days(session, query.start, query.end)
    return sorted(
        day
        for day, computed_at in rows
        if day not in dirty and computed_at <= query.as_of and settled(day, computed_at, calendar)
    )


def _rollup_statement(query: ReportQuery, days: list[date]):
    keys = [k for k in query.group_columns if k != "period"]
    group = [getattr(MetricRollup, k) for k in keys]
    if "period" in query.by:
        group.append(MetricRollup.day)
    conditions = [MetricRollup.day.in_(days)]
    for name, value in query.filters.active().items():
        conditions.append(getattr(MetricRollup, name) == value)
    stmt = select(*group, *[func.coalesce(func.sum(getattr(MetricRollup, n)), 0).label(n) for n in ADDITIVE]).where(
        *conditions
    )
    return stmt.group_by(*group) if group else stmt


def _with_periods(frame: pd.DataFrame, query: ReportQuery) -> pd.DataFrame:
    """Rollup days → the query's period codes (summed by the caller)."""
    if "period" in query.by:
        fmt = LOCAL_FORMATS[PERIODS[query.period]]
        frame["period"] = [fmt(d if isinstance(d, date) else date.fromisoformat(str(d))) for d in frame.pop("day")]
    return frame


def _all_days(query: ReportQuery) -> list[date]:
    return [query.start + timedelta(days=i) for i in range((query.end - query.start).days + 1)]


def _day_ranges(days: list[date]) -> list[tuple[datetime, datetime]]:
    """Consecutive local days → [first 00:00, day after last 00:00) bounds."""
    ranges = []
    for day in days:
        if ranges and ranges[-1][1] == day:
            ranges[-1][1] = day + timedelta(days=1)
        else:
            ranges.append([day, day + timedelta(days=1)])
    return [(period_bounds(a, b - timedelta(days=1))) for a, b in ranges]


def counts_with_rollups(session: Session, query: ReportQuery, calendar, short_abandon_seconds: float) -> pd.DataFrame:
    """The engine's counts, taking settled days from the rollups and the rest from the rows."""
    days = usable_days(session, query, calendar)
    if not days:
        return counts(session, query, calendar, short_abandon_seconds)
    keys = query.group_columns
    statements = [_rollup_statement(query, days), *percentile_statements(query)]
    ranges = _day_ranges(sorted(set(_all_days(query)) - set(days)))
    if ranges:
        # Days without a usable rollup are counted from the rows, as local-day ranges
        # (so the database can use its index on arrival time).
        in_contacts = or_(*(and_(Contact.arrived_at >= lo, Contact.arrived_at < hi) for lo, hi in ranges))
        in_tickets = or_(*(and_(Ticket.first_arrived_at >= lo, Ticket.first_arrived_at < hi) for lo, hi in ranges))
        statements += [
            contact_statement(query, calendar, short_abandon_seconds, percentiles=False, extra_where=[in_contacts]),
            ticket_statement(query, extra_where=[in_tickets]),
        ]
    from_rollups, p90, median, *raw = _frames(session, statements, keys)
    percentiles = merge_frames([p90, median], keys)
    frames = [_with_periods(from_rollups, query)]
    if raw:
        frames.append(merge_counts(*raw, keys).drop(columns=["wait_p90_seconds", "median_first_response_hours"]))
    both = pd.concat(frames, ignore_index=True)
    for name in ADDITIVE:
        both[name] = pd.to_numeric(both[name]).fillna(0)
    if keys:
        both = both.groupby(keys, as_index=False, dropna=False)[list(ADDITIVE)].sum()
        return both.merge(percentiles, on=keys, how="left")
    both = both[list(ADDITIVE)].sum().to_frame().T
    return pd.concat([both.reset_index(drop=True), percentiles.reset_index(drop=True)], axis=1)


def _ranges(days: list[date], gap: int) -> list[tuple[date, date]]:
    """Sorted days → (first, last) ranges, joining ranges at most `gap` days apart."""
    ranges: list[list[date]] = []
    for day in days:
        if ranges and (day - ranges[-1][1]).days <= gap + 1:
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(a, b) for a, b in ranges]


def days_to_compute(session: Session, now: datetime, calendar) -> list[date]:
    """The days the job recomputes as of `now`.

    Every marked day before today; the recent days whose rollup is missing or was not
    yet settled; on the first run, every day since the first contact.
    """
    today = now.astimezone(STOCKHOLM).date()
    end = today - timedelta(days=1)
    days = set(dirty_days(session, date.min, end))
    start = end - timedelta(days=RECENT_DAYS - 1)
    if session.scalar(select(func.count()).select_from(MetricRollupDay)) == 0:
        first = session.scalar(select(func.min(Contact.arrived_at)))
        if first is not None:
            start = min(start, first.astimezone(STOCKHOLM).date())
    computed = dict(
        session.execute(
            select(MetricRollupDay.day, MetricRollupDay.computed_at).where(
                MetricRollupDay.day >= start, MetricRollupDay.day <= end
            )
        ).all()
    )
    day = start
    while day <= end:
        at = computed.get(day)
        if at is None or not settled(day, at, calendar):
            days.add(day)
        day += timedelta(days=1)
    return sorted(days)


def rollup_job(session: Session, now: datetime) -> None:
    """The nightly job: recompute the dirty days and the recent unsettled ones (each
    recomputation deletes exactly the marks it read: one written meanwhile stays)."""
    from flask import current_app

    from ..worktime.calendar import current_calendar

    calendar = current_calendar()
    days = days_to_compute(session, now, calendar)
    short = current_app.config["SHORT_ABANDON_SECONDS"]
    for first, last in _ranges(days, MERGE_GAP_DAYS):
        compute_rollups(session, first, last, calendar, short, now.astimezone(UTC))
