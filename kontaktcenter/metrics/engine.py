"""METRICS.md's figures, computed from the contact and ticket rows (not the ticket events).

One query per source pushes filtering, grouping and counting down to the database
(contacts for phone, written and walk-in figures; tickets for resolution, each with its
service, department and location joined when the grouping or filters need them); pandas
merges the two and shapes the figures. `report()` takes the additive counts of settled
days from the daily rollups (`metric_rollups`, rollups.py) and the rest from the rows.
The dashboard, the CLI, the exports and the rollups all call `counts()` and `shape()`;
nothing else computes a figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from flask import current_app, has_app_context, has_request_context
from flask_babel import get_locale
from sqlalchemy import Boolean, Date, String, and_, case, column, false, func, or_, select, values
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

from ..contacts.models import Contact
from ..defaults import defaults
from ..directory.models import Department, Location, Service
from ..errors import DomainError
from ..tickets.models import Ticket
from ..vocabulary import KONTAKTCENTER_RESOLUTIONS, NEEDS, QUEUE_OUTCOMES, WRITTEN_CHANNELS
from ..worktime.calendar import STOCKHOLM
from .repeats import has_repeat
from .sqlfuncs import local_date, local_part, one_working_day_deadline, percentile, seconds_between

DEFAULT_ANSWER_TARGET_SECONDS = 60

DIMENSIONS = ("service", "department", "channel", "location", "language", "period")
PERIODS = {"day": "YYYY-MM-DD", "week": 'IYYY-"W"IW', "month": "YYYY-MM"}

# Every figure in METRICS.md's order, with its kind (how it is rounded and written).
FIGURES: list[tuple[str, str]] = [
    ("phone_queued", "count"),
    ("phone_short_abandoned", "count"),
    ("phone_offered", "count"),
    ("phone_answered", "count"),
    ("callbacks_requested", "count"),
    ("callbacks_completed", "count"),
    ("phone_abandoned", "count"),
    ("answer_rate", "rate"),
    ("abandon_rate", "rate"),
    ("service_level", "rate"),
    ("asa_seconds", "seconds"),
    ("wait_p90_seconds", "seconds"),
    ("aht_seconds", "seconds"),
    ("written_received", "count"),
    ("written_due", "count"),
    ("responded_within_1wd", "count"),
    ("response_within_1wd_rate", "rate"),
    ("median_first_response_hours", "hours"),
    ("walkin_visits", "count"),
    ("walkin_wait_mean_seconds", "seconds"),
    ("walkin_left_unserved", "count"),
    ("tickets", "count"),
    ("resolved_first_contact", "count"),
    ("resolved_kontaktcenter", "count"),
    ("escalated", "count"),
    ("fcr_rate", "rate"),
    ("kc_resolution_rate", "rate"),
    ("escalation_rate", "rate"),
]
FIGURE_NAMES = [name for name, _kind in FIGURES]
FIGURE_KINDS = dict(FIGURES)
DECIMALS = {"rate": 4, "seconds": 1, "hours": 2}

# The additive counts behind the figures: summed over days by the rollups.
CONTACT_COUNTS = (
    "phone_queued",
    "phone_short_abandoned",
    "phone_answered",
    "callbacks_requested",
    "callbacks_completed",
    "answered_within_target",
    "answered_wait_sum",
    "aht_sum",
    "aht_n",
    "written_received",
    "written_due",
    "responded_within_1wd",
    "walkin_visits",
    "walkin_wait_sum",
    "walkin_served_n",
    "walkin_left_unserved",
)
TICKET_COUNTS = ("tickets", "resolved_first_contact", "resolved_kontaktcenter", "escalated")
ADDITIVE = CONTACT_COUNTS + TICKET_COUNTS
# Medians and percentiles cannot be summed: always computed from the contact rows.
FROM_RAW_ROWS = ("wait_p90_seconds", "median_first_response_hours")


class ReportError(DomainError, ValueError):
    """A report request that cannot be answered; Swedish and English messages (the query
    text in them is not a catalogue entry, so both are written here)."""

    def __init__(self, field: str, sv: str, en: str):
        super().__init__(sv, field=field)
        self.sv = sv
        self.en = en

    def translated(self) -> str:
        return self.en if has_request_context() and str(get_locale()) == "en" else self.sv


def rate(numerator: int, denominator: int) -> float | None:
    """A fraction with 4 decimals (half up); empty (None), never 0, when the denominator is 0."""
    if not denominator:
        return None
    return _half_up_fraction(int(numerator), int(denominator), 4)


def _half_up_fraction(numerator: int, denominator: int, decimals: int) -> float:
    # Exact in integers: 1/32 is 0.0313, as in the database's round(), not float's 0.0312.
    scale = 10**decimals
    return ((2 * numerator * scale + denominator) // (2 * denominator)) / scale


def half_up(value: float | None, decimals: int) -> float | None:
    """Round a measured value half away from zero at its decimal digits."""
    if value is None or value != value:
        return None
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Local dates, both ends included → [start 00:00, day after end 00:00) in Stockholm time."""
    return (
        datetime.combine(start, time(0), STOCKHOLM),
        datetime.combine(end + timedelta(days=1), time(0), STOCKHOLM),
    )


@dataclass(frozen=True)
class Filters:
    """Codes to restrict a report to; None means everything."""

    service: str | None = None
    department: str | None = None
    channel: str | None = None
    location: str | None = None
    language: str | None = None
    need: str | None = None  # interpreter, hearing, vision, easy_read, or "none"

    def active(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class ReportQuery:
    start: date
    end: date
    by: tuple[str, ...] = ()
    period: str | None = None  # day, week or month when "period" is in `by`
    filters: Filters = field(default_factory=Filters)
    as_of: datetime | None = None  # written_due counts deadlines before this; default now

    @property
    def group_columns(self) -> list[str]:
        return [d for d in DIMENSIONS if d in self.by]

    def with_as_of(self) -> ReportQuery:
        return self if self.as_of else replace(self, as_of=datetime.now(UTC))


def parse_by(text: str | Iterable[str] | None) -> tuple[tuple[str, ...], str | None]:
    """`service,period:month` → (("service", "period"), "month"); raises ReportError."""
    if text is None:
        return (), None
    parts = [p.strip() for p in (text.split(",") if isinstance(text, str) else text) if p and p.strip()]
    dims: list[str] = []
    period = None
    for part in parts:
        name, _, kind = part.partition(":")
        if name == "period" and kind in PERIODS:
            period = kind
        elif name not in DIMENSIONS or name == "period" or kind:
            allowed = "service, department, channel, location, language, period:day, period:week, period:month"
            raise ReportError(
                "by",
                f"Okänd gruppering {part!r}. Välj bland: {allowed}.",
                f"Unknown grouping {part!r}. Choose from: {allowed}.",
            )
        if name in dims:
            raise ReportError(
                "by", f"Grupperingen {name!r} anges två gånger.", f"The grouping {name!r} is given twice."
            )
        dims.append(name)
    return tuple(d for d in DIMENSIONS if d in dims), period


def check_period(start: date, end: date) -> None:
    if start > end:
        raise ReportError("from", "Från-datumet ligger efter till-datumet.", "The from date is after the to date.")
    if (end - start).days > 3 * 366:
        raise ReportError("to", "Perioden får vara högst tre år.", "The period may be at most three years.")


# -- the one-working-day deadline, vectorised ---------------------------------------


def deadline_rows(calendar, start: date, end: date, department: str | None = None) -> list[tuple[date, date, bool]]:
    """(local arrival date, deadline date, counts from 00:00) for each day of the period.

    The working days come from the one calendar (worktime.calendar), with `department`'s
    closing days when given; this table lets the database apply
    `one_working_day_deadline` to a million contacts at once.
    """
    rows = []
    day = start
    while day <= end:
        if calendar.is_working_day(day, department):
            rows.append((day, calendar.next_working_day(day, department), False))
        else:
            rows.append((day, calendar.next_working_day(calendar.next_working_day(day, department), department), True))
        day += timedelta(days=1)
    return rows


def deadline_departments(calendar) -> tuple[str, ...]:
    """Departments with closing days of their own: their contacts get their own deadline rows."""
    return tuple(sorted(calendar.department_closing_days))


def department_deadline_rows(calendar, start: date, end: date) -> list[tuple[str, date, date, bool]]:
    """deadline_rows for the city ("") and for each department with its own closing days."""
    return [
        (department, *row)
        for department in ("", *deadline_departments(calendar))
        for row in deadline_rows(calendar, start, end, department or None)
    ]


# -- SQL: the counts ------------------------------------------------------------------


def _sum(condition) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_of(condition, value) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=None)), 0)


def _key_columns(query: ReportQuery, contact, service, department, location, moment) -> list:
    keys = []
    for dim in query.group_columns:
        if dim == "service":
            keys.append(func.coalesce(service.code, "").label("service"))
        elif dim == "department":
            keys.append(func.coalesce(department.code, "").label("department"))
        elif dim == "channel":
            keys.append(func.coalesce(contact.channel, "").label("channel"))
        elif dim == "location":
            keys.append(func.coalesce(location.code, "").label("location"))
        elif dim == "language":
            keys.append(func.coalesce(contact.language, "").label("language"))
        elif dim == "period":
            keys.append(local_part(moment, PERIODS[query.period]).label("period"))
    return keys


def _filter_conditions(filters: Filters, contact, service, department, location) -> list:
    conditions = []
    if filters.service:
        conditions.append(service.code == filters.service)
    if filters.department:
        conditions.append(department.code == filters.department)
    if filters.channel:
        conditions.append(contact.channel == filters.channel)
    if filters.location:
        conditions.append(location.code == filters.location)
    if filters.language:
        conditions.append(contact.language == filters.language)
    if filters.need == "none":
        conditions.extend(getattr(contact, f"need_{n}").is_(false()) for n in NEEDS)
    elif filters.need:
        conditions.append(getattr(contact, f"need_{filters.need}").is_(True))
    return conditions


def _needs_location(query: ReportQuery) -> bool:
    return "location" in query.by or bool(query.filters.location)


def _needs_department(query: ReportQuery) -> bool:
    return "department" in query.by or bool(query.filters.department)


def deadline_table(calendar, start: date, end: date):
    return (
        values(
            column("department", String),
            column("day", Date),
            column("deadline_day", Date),
            column("midnight", Boolean),
            name="deadlines",
        )
        .data(department_deadline_rows(calendar, start, end))
        .cte("deadlines")
    )


def deadline_join(calendar, wd, c, d, written):
    """Each written contact → its local day's deadline row: its service's department's, if
    that department has closing days of its own (METRICS.md klämdagar), else the city's.

    `d` must be joined (Department via the contact's service) when deadline_departments is not empty.
    """
    on = [written, wd.c.day == local_date(c.arrived_at)]
    departments = deadline_departments(calendar)
    if departments:
        on.append(wd.c.department == case((d.code.in_(departments), d.code), else_=""))
    # Otherwise the table holds only the city's rows.
    return and_(*on)


def contact_conditions(c, s, wd, as_of: datetime, short_abandon_seconds: float) -> dict[str, Any]:
    """Which contacts each count takes (METRICS.md), as SQL conditions; also `wait`.

    The one place these definitions live: the counts and the drill-down both use it.
    """
    wait = case(
        (c.outcome == "answered", seconds_between(c.answered_at, c.arrived_at)),
        else_=seconds_between(c.ended_at, c.arrived_at),
    )
    phone = c.channel == "phone"
    answered = and_(phone, c.outcome == "answered")
    callback = and_(phone, c.outcome == "callback_requested")
    abandoned = and_(phone, c.outcome == "abandoned")
    target = func.coalesce(s.answer_target_seconds, DEFAULT_ANSWER_TARGET_SECONDS)
    written = c.channel.in_(WRITTEN_CHANNELS)
    deadline = one_working_day_deadline(c.arrived_at, wd.c.deadline_day, wd.c.midnight)
    due = and_(written, deadline < as_of)
    walk_in = c.channel == "walk_in"
    return {
        "wait": wait,
        # Calls still in the queue (no outcome yet) are not counted until they have one.
        "phone_queued": and_(phone, c.outcome.in_(QUEUE_OUTCOMES)),
        "phone_short_abandoned": and_(abandoned, wait < short_abandon_seconds),
        # Every abandon that is not short (a hang-up without a recorded time included),
        # so the drill-down lists exactly phone_offered − answered − callbacks_requested.
        "phone_abandoned": and_(abandoned, or_(wait.is_(None), wait >= short_abandon_seconds)),
        "phone_answered": answered,
        "callbacks_requested": callback,
        "callbacks_completed": and_(callback, c.callback_completed_at.isnot(None)),
        "answered_within_target": and_(answered, wait <= target),
        "handled": and_(answered, c.ended_at.isnot(None)),
        "written_received": written,
        "written_due": due,
        "responded_within_1wd": and_(due, c.first_response_at.isnot(None), c.first_response_at <= deadline),
        "written_late": and_(due, or_(c.first_response_at.is_(None), c.first_response_at > deadline)),
        "walkin_visits": walk_in,
        "served": and_(walk_in, c.outcome == "served", c.answered_at.isnot(None)),
        "walkin_left_unserved": and_(walk_in, c.outcome == "left"),
    }


def contact_statement(
    query: ReportQuery, calendar, short_abandon_seconds: float, *, percentiles: bool = True, extra_where=()
):
    """One aggregate query over the period's contacts, grouped as the query asks."""
    c = Contact
    s = Service
    d = Department
    loc = Location
    lo, hi = period_bounds(query.start, query.end)
    wd = deadline_table(calendar, query.start, query.end)

    cond = contact_conditions(c, s, wd, query.as_of, short_abandon_seconds)
    wait = cond["wait"]
    answered, handled, served, due = cond["phone_answered"], cond["handled"], cond["served"], cond["written_due"]
    callback = cond["callbacks_requested"]

    keys = _key_columns(query, c, s, d, loc, c.arrived_at)
    columns = [
        _sum(cond["phone_queued"]).label("phone_queued"),
        _sum(cond["phone_short_abandoned"]).label("phone_short_abandoned"),
        _sum(answered).label("phone_answered"),
        _sum(callback).label("callbacks_requested"),
        _sum(cond["callbacks_completed"]).label("callbacks_completed"),
        _sum(cond["answered_within_target"]).label("answered_within_target"),
        _sum_of(answered, wait).label("answered_wait_sum"),
        _sum_of(handled, seconds_between(c.ended_at, c.answered_at)).label("aht_sum"),
        _sum(handled).label("aht_n"),
        _sum(cond["written_received"]).label("written_received"),
        _sum(due).label("written_due"),
        _sum(cond["responded_within_1wd"]).label("responded_within_1wd"),
        _sum(cond["walkin_visits"]).label("walkin_visits"),
        _sum_of(served, seconds_between(c.answered_at, c.arrived_at)).label("walkin_wait_sum"),
        _sum(served).label("walkin_served_n"),
        _sum(cond["walkin_left_unserved"]).label("walkin_left_unserved"),
    ]
    if percentiles:
        columns += _percentile_columns(c)
    stmt = select(*keys, *columns).select_from(c).outerjoin(s, s.id == c.service_id)
    if _needs_department(query) or deadline_departments(calendar):
        stmt = stmt.outerjoin(d, d.id == s.department_id)
    if _needs_location(query):
        stmt = stmt.outerjoin(loc, loc.id == c.location_id)
    stmt = stmt.outerjoin(wd, deadline_join(calendar, wd, c, d, cond["written_received"]))
    conditions = [c.arrived_at >= lo, c.arrived_at < hi, *_filter_conditions(query.filters, c, s, d, loc), *extra_where]
    stmt = stmt.where(*conditions)
    if keys:
        stmt = stmt.group_by(*keys)
    return stmt


def _percentile_figures(c) -> list[tuple[str, Any, Any]]:
    """(figure, percentile column, the rows it is taken over) for the figures that cannot be summed."""
    wait = seconds_between(c.answered_at, c.arrived_at)
    answered = and_(c.channel == "phone", c.outcome == "answered")
    replied = and_(c.channel.in_(WRITTEN_CHANNELS), c.first_response_at.isnot(None))
    return [
        ("wait_p90_seconds", percentile(wait, 0.9, answered), answered),
        (
            "median_first_response_hours",
            percentile(seconds_between(c.first_response_at, c.arrived_at) / 3600.0, 0.5, replied),
            replied,
        ),
    ]


def _percentile_columns(c) -> list:
    return [figure.label(name) for name, figure, _rows in _percentile_figures(c)]


def percentile_statements(query: ReportQuery) -> list:
    """Only the figures that cannot be summed, from the contact rows (used beside rollups).

    One statement per figure, each reading only its own rows, so the database can
    sort the answered calls and the replied written contacts at the same time.
    """
    c, s, d, loc = Contact, Service, Department, Location
    lo, hi = period_bounds(query.start, query.end)
    keys = _key_columns(query, c, s, d, loc, c.arrived_at)
    statements = []
    for name, figure, rows in _percentile_figures(c):
        stmt = select(*keys, figure.label(name)).select_from(c).outerjoin(s, s.id == c.service_id)
        if _needs_department(query):
            stmt = stmt.outerjoin(d, d.id == s.department_id)
        if _needs_location(query):
            stmt = stmt.outerjoin(loc, loc.id == c.location_id)
        stmt = stmt.where(c.arrived_at >= lo, c.arrived_at < hi, rows, *_filter_conditions(query.filters, c, s, d, loc))
        statements.append(stmt.group_by(*keys) if keys else stmt)
    return statements


def merge_frames(frames: Sequence[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """Frames of different figures for the same groups → one frame (outer join on the group columns)."""
    merged = frames[0]
    for frame in frames[1:]:
        if keys:
            merged = merged.merge(frame, on=keys, how="outer")
        else:
            merged = pd.concat([merged.reset_index(drop=True), frame.reset_index(drop=True)], axis=1)
    return merged


def merge_count_frames(frames: Sequence[pd.DataFrame], keys: list[str], counts: Sequence[str]) -> pd.DataFrame:
    """Frames of counts for the same groups → one frame of whole counts: 0 where a group has
    none of a figure, and one row of zeros for an ungrouped period without any."""
    merged = merge_frames(frames, keys)
    if merged.empty and not keys:
        merged = pd.DataFrame([{name: 0 for name in counts}])
    for name in counts:
        if name not in merged:
            merged[name] = 0
        merged[name] = pd.to_numeric(merged[name]).fillna(0).astype("int64")
    return merged


def ticket_conditions(t) -> dict[str, Any]:
    """Which tickets each resolution count takes (METRICS.md).

    resolve() gives `first_contact` only to a ticket with one contact that was never
    reopened; a reopening resets the resolution. A repeat contact within 7 days of the
    resolution (repeats.py) takes the ticket out of resolved_first_contact; it is tested
    last, so only the tickets resolved at the first contact probe for one.
    """
    return {
        "tickets": t.id.isnot(None),
        "resolved_first_contact": and_(t.resolution == "first_contact", t.escalated.is_(false()), ~has_repeat(t)),
        "resolved_kontaktcenter": and_(t.resolution.in_(KONTAKTCENTER_RESOLUTIONS), t.escalated.is_(false())),
        "escalated": t.escalated.is_(True),
    }


def resolution_counts(t) -> list:
    """The core report's counts over tickets `t` (METRICS.md "Resolution")."""
    cond = ticket_conditions(t)
    return [
        func.count(t.id).label("tickets"),
        _sum(cond["resolved_first_contact"]).label("resolved_first_contact"),
        _sum(cond["resolved_kontaktcenter"]).label("resolved_kontaktcenter"),
        _sum(cond["escalated"]).label("escalated"),
    ]


def ticket_statement(query: ReportQuery, extra_where=(), counts=resolution_counts):
    """Counts per ticket (`counts(Ticket)`), in the period of its first contact's arrival.

    A ticket's channel, location and language are those of its first contact (the
    contact whose arrived_at is the ticket's first_arrived_at); the join is made only
    when the grouping or the filters need them.
    """
    t = Ticket
    c = aliased(Contact)
    s, d, loc = Service, Department, Location
    lo, hi = period_bounds(query.start, query.end)
    needs_contact = any(x in query.by for x in ("channel", "location", "language")) or any(
        (query.filters.channel, query.filters.location, query.filters.language, query.filters.need)
    )
    keys = _key_columns(query, c, s, d, loc, t.first_arrived_at)
    stmt = select(*keys, *counts(t)).select_from(t).outerjoin(s, s.id == t.service_id)
    if _needs_department(query):
        stmt = stmt.outerjoin(d, d.id == s.department_id)
    if needs_contact:
        stmt = stmt.outerjoin(c, and_(c.ticket_id == t.id, c.arrived_at == t.first_arrived_at))
        if _needs_location(query):
            stmt = stmt.outerjoin(loc, loc.id == c.location_id)
    stmt = stmt.where(
        t.first_arrived_at >= lo,
        t.first_arrived_at < hi,
        *_filter_conditions(query.filters, c, s, d, loc),
        *extra_where,
    )
    return stmt.group_by(*keys) if keys else stmt


def volume_by_weekday_hour(session: Session, query: ReportQuery) -> pd.DataFrame:
    """Contacts per local ISO weekday (1 = Monday) and hour, IVR drops excluded."""
    c, s, d, loc = Contact, Service, Department, Location
    lo, hi = period_bounds(query.start, query.end)
    weekday = local_part(c.arrived_at, "ID").label("weekday")
    hour = local_part(c.arrived_at, "HH24").label("hour")
    stmt = select(weekday, hour, func.count(c.id).label("contacts")).select_from(c).outerjoin(s, s.id == c.service_id)
    if _needs_department(query):
        stmt = stmt.outerjoin(d, d.id == s.department_id)
    if _needs_location(query):
        stmt = stmt.outerjoin(loc, loc.id == c.location_id)
    not_dropped = or_(c.outcome.is_(None), c.outcome != "ivr_dropped")
    stmt = stmt.where(
        c.arrived_at >= lo, c.arrived_at < hi, not_dropped, *_filter_conditions(query.filters, c, s, d, loc)
    )
    frame = _frame(session, stmt.group_by(weekday, hour), ["weekday", "hour", "contacts"])
    frame["weekday"] = frame["weekday"].astype(int)
    frame["hour"] = frame["hour"].astype(int)
    return frame


# Long exports show a progress bar: each of a report's queries ticks it when it is done.
_query_done: ContextVar[Callable[[], None] | None] = ContextVar("kc_report_query_done", default=None)
REPORT_QUERIES = 4  # at most: rollups, rows of days not rolled up (2), percentiles


@contextmanager
def query_progress(callback: Callable[[], None]) -> Iterator[None]:
    token = _query_done.set(callback)
    try:
        yield
    finally:
        _query_done.reset(token)


def _frame(session: Session, stmt, columns: Sequence[str]) -> pd.DataFrame:
    result = session.execute(stmt)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()) or list(columns))
    done = _query_done.get()
    if done is not None:
        done()
    return frame


def _frames(session: Session, statements: Sequence, columns: Sequence[str]) -> list[pd.DataFrame]:
    """Run independent aggregate queries; side by side on PostgreSQL when the session has an engine.

    The contacts and the tickets are two scans of two tables: on separate connections
    the database works on both at once. A session bound to one connection (a test's
    rolled-back transaction) or SQLite runs them one after the other.
    """
    bind = session.get_bind()
    if len(statements) < 2 or not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return [_frame(session, stmt, columns) for stmt in statements]

    def run(stmt) -> tuple[list, list[str]]:
        with bind.connect() as connection:
            result = connection.execute(stmt)
            return result.all(), list(result.keys())

    with ThreadPoolExecutor(max_workers=len(statements), thread_name_prefix="kc-report") as pool:
        futures = [pool.submit(run, stmt) for stmt in statements]
        frames = []
        for future in futures:
            rows, keys = future.result()
            frames.append(pd.DataFrame(rows, columns=keys or list(columns)))
            done = _query_done.get()
            if done is not None:
                done()
    return frames


def short_abandon_setting() -> float:
    """SHORT_ABANDON_SECONDS of the running app (default.toml's outside one, as in tests)."""
    config = current_app.config if has_app_context() else defaults()
    return config["SHORT_ABANDON_SECONDS"]


def counts(session: Session, query: ReportQuery, calendar, short_abandon_seconds: float | None = None) -> pd.DataFrame:
    """The additive counts (and the two percentile figures) per group, from the rows.

    Without `short_abandon_seconds`: the setting (short_abandon_setting).
    """
    if short_abandon_seconds is None:
        short_abandon_seconds = short_abandon_setting()
    query = query.with_as_of()
    keys = query.group_columns
    contacts, tickets = _frames(
        session, [contact_statement(query, calendar, short_abandon_seconds), ticket_statement(query)], keys
    )
    return merge_counts(contacts, tickets, keys)


def merge_counts(contacts: pd.DataFrame, tickets: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    merged = merge_frames([contacts, tickets], keys)
    for name in ADDITIVE:
        if name not in merged:
            merged[name] = 0
        merged[name] = pd.to_numeric(merged[name]).fillna(0)
    for name in FROM_RAW_ROWS:
        if name not in merged:
            merged[name] = None
    return merged


# -- pandas: the figures ---------------------------------------------------------------


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """A count over a count: 4 decimals, half up, exact; None where the denominator is 0."""
    return pd.Series(
        [rate(n, d) for n, d in zip(numerator.astype("int64"), denominator.astype("int64"), strict=True)],
        index=numerator.index,
        dtype=object,
    )


def _ratio(numerator: pd.Series, denominator: pd.Series, decimals: int) -> pd.Series:
    """A sum over a count (a mean), rounded half up; None where the count is 0."""
    return pd.Series(
        [half_up(float(n) / float(d), decimals) if d else None for n, d in zip(numerator, denominator, strict=True)],
        index=numerator.index,
        dtype=object,
    )


def _rounded(series: pd.Series, decimals: int) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce").astype(float)
    return pd.Series([half_up(v, decimals) for v in values], index=series.index, dtype=object)


def shape(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Counts → every figure of METRICS.md, in its order, rows sorted by the group columns."""
    f = frame.copy()
    n = lambda name: f[name].astype("int64")  # noqa: E731 - a short local helper
    out = pd.DataFrame({k: f[k].fillna("").astype(str) for k in keys}, index=f.index)
    offered = n("phone_queued") - n("phone_short_abandoned")
    out["phone_queued"] = n("phone_queued")
    out["phone_short_abandoned"] = n("phone_short_abandoned")
    out["phone_offered"] = offered
    out["phone_answered"] = n("phone_answered")
    out["callbacks_requested"] = n("callbacks_requested")
    out["callbacks_completed"] = n("callbacks_completed")
    out["phone_abandoned"] = offered - n("phone_answered") - n("callbacks_requested")
    out["answer_rate"] = _rate(n("phone_answered") + n("callbacks_completed"), offered)
    out["abandon_rate"] = _rate(out["phone_abandoned"], offered)
    out["service_level"] = _rate(n("answered_within_target"), offered)
    out["asa_seconds"] = _ratio(f["answered_wait_sum"], f["phone_answered"], 1)
    out["wait_p90_seconds"] = _rounded(f["wait_p90_seconds"], 1)
    out["aht_seconds"] = _ratio(f["aht_sum"], f["aht_n"], 1)
    out["written_received"] = n("written_received")
    out["written_due"] = n("written_due")
    out["responded_within_1wd"] = n("responded_within_1wd")
    out["response_within_1wd_rate"] = _rate(n("responded_within_1wd"), n("written_due"))
    out["median_first_response_hours"] = _rounded(f["median_first_response_hours"], 2)
    out["walkin_visits"] = n("walkin_visits")
    out["walkin_wait_mean_seconds"] = _ratio(f["walkin_wait_sum"], f["walkin_served_n"], 1)
    out["walkin_left_unserved"] = n("walkin_left_unserved")
    for name in TICKET_COUNTS:
        out[name] = n(name)
    out["fcr_rate"] = _rate(n("resolved_first_contact"), n("tickets"))
    out["kc_resolution_rate"] = _rate(n("resolved_kontaktcenter"), n("tickets"))
    out["escalation_rate"] = _rate(n("escalated"), n("tickets"))
    out = out[list(keys) + FIGURE_NAMES]
    if keys:
        out = out.sort_values(list(keys), kind="stable")
    return out.reset_index(drop=True)


def empty_counts(keys: Sequence[str]) -> pd.DataFrame:
    """One all-zero row: a report without grouping always has its one row."""
    row = {name: 0 for name in ADDITIVE} | {name: None for name in FROM_RAW_ROWS} | {k: "" for k in keys}
    return pd.DataFrame([row])


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values (int, float, str, None) for templates and JSON."""
    out = []
    for row in table.to_dict(orient="records"):
        clean = {}
        for key, value in row.items():
            if value is None or (isinstance(value, float) and value != value):
                clean[key] = None
            elif hasattr(value, "item"):
                clean[key] = value.item()
            else:
                clean[key] = value
        out.append(clean)
    return out
