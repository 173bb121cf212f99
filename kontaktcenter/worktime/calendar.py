"""The Swedish calendar: working days (METRICS.md), eves, opening hours and working time."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays

STOCKHOLM = ZoneInfo("Europe/Stockholm")
EXTENSION_KEY = "kontaktcenter.calendar"

# The hours when neither the directory (`kontaktcenter directory load`) nor the
# configuration gives any.
DEFAULT_OPENING_HOURS: dict[str, dict[str, str]] = {
    "default": {"open": "08:00", "close": "17:00", "eve_close": "13:00"},
}
HOURS_KEYS = ("open", "close", "eve_open", "eve_close", "closed")


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (got the naive datetime {value.isoformat()})")
    return value


def _local_midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=STOCKHOLM)


def _local(d: date, clock: time) -> datetime:
    """`clock` on local date `d` as aware UTC; a time skipped by DST moves forward with it."""
    naive = datetime.combine(d, clock)
    # Round-trip through UTC normalises a non-existent local time (the spring gap).
    return naive.replace(tzinfo=STOCKHOLM).astimezone(UTC)


def _parse_clock(value: Any, where: str) -> time:
    if isinstance(value, time):
        return value
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f'{where}: {value!r} is not a time of day (write it as "HH:MM")') from None


def _parse_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a date (write it as YYYY-MM-DD)") from None


class _Hours:
    """One queue's (or service's) opening hours, validated once."""

    def __init__(self, code: str, raw: Mapping[str, Any]):
        unknown = set(raw) - set(HOURS_KEYS)
        if unknown:
            raise ValueError(
                f"opening_hours.{code}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(HOURS_KEYS)}"
            )
        self.closed = bool(raw.get("closed", False))
        if self.closed:
            return
        if "open" not in raw or "close" not in raw:
            raise ValueError(f"opening_hours.{code}: needs both open and close (or closed = true)")
        self.open = _parse_clock(raw["open"], f"opening_hours.{code}.open")
        self.close = _parse_clock(raw["close"], f"opening_hours.{code}.close")
        self.eve_open = _parse_clock(raw.get("eve_open", raw["open"]), f"opening_hours.{code}.eve_open")
        self.eve_close = _parse_clock(raw.get("eve_close", raw["close"]), f"opening_hours.{code}.eve_close")
        for label, start, end in (("", self.open, self.close), ("eve_", self.eve_open, self.eve_close)):
            if end <= start:
                raise ValueError(f"opening_hours.{code}: {label}close must be later than {label}open")


class WorkCalendar:
    """Working days per METRICS.md and the opening hours of queues, in Europe/Stockholm.

    A working day is Monday–Friday that is neither a Swedish public holiday nor
    midsommarafton, julafton or nyårsafton (holidays: Sweden, PUBLIC + DE_FACTO), nor a
    configured local closing day: the city's (`closing_days`) or, when a department is
    given, that department's own klämdagar (`department_closing_days`). An eve is a working day whose next calendar day is a
    holiday (skärtorsdagen, the day before Ascension, 23 December, 30 December, …);
    queues may close earlier on eves (`eve_close`).
    """

    def __init__(
        self,
        closing_days: Iterable[date] = (),
        opening_hours: Mapping[str, Mapping] | None = None,
        department_closing_days: Mapping[str, Iterable[date]] | None = None,
    ):
        self.closing_days = frozenset(_parse_date(d, "calendar.closing_days") for d in closing_days)
        self.department_closing_days: dict[str, frozenset[date]] = {}
        for code, days in (department_closing_days or {}).items():
            where = f"calendar.department_closing_days.{code}"
            if isinstance(days, str) or not isinstance(days, Iterable):
                raise ValueError(f"{where} must be a list of dates (YYYY-MM-DD)")
            self.department_closing_days[str(code)] = self.closing_days | {_parse_date(d, where) for d in days}
        hours = DEFAULT_OPENING_HOURS if opening_hours is None else opening_hours
        self._hours = {code: _Hours(code, raw) for code, raw in hours.items()}
        self._holidays: dict[int, dict[date, str]] = {}
        self._lock = threading.Lock()
        # The calendar never changes once built, so a day's answers are worked out once:
        # routing asks every queue's hours for every contact, the SLA clocks walk days.
        self._working: dict[tuple[date, str | None], bool] = {}
        self._hours_on: dict[tuple[str, date, str | None], tuple[time, time] | None] = {}

    # -- days ---------------------------------------------------------------

    def holidays_of(self, year: int) -> dict[date, str]:
        """The Swedish public and de-facto holidays of `year` (date → English name)."""
        found = self._holidays.get(year)
        if found is None:
            with self._lock:
                # Sundays are not listed as holidays: weekends are excluded on their own.
                table = holidays.Sweden(
                    years=year, categories=(holidays.PUBLIC, holidays.DE_FACTO), include_sundays=False
                )
                found = self._holidays[year] = dict(table.items())
        return found

    def is_holiday(self, d: date) -> bool:
        return d in self.holidays_of(d.year)

    def closing_days_for(self, department: str | None = None) -> frozenset[date]:
        """The city's closing days plus those of `department` (a department code), if it has any."""
        if department is None:
            return self.closing_days
        return self.department_closing_days.get(department, self.closing_days)

    def is_working_day(self, d: date, department: str | None = None) -> bool:
        if isinstance(d, datetime):
            raise TypeError("is_working_day takes a local date; use local_date(dt) for a datetime")
        key = (d, department)
        working = self._working.get(key)
        if working is None:
            working = d.weekday() < 5 and not self.is_holiday(d) and d not in self.closing_days_for(department)
            self._working[key] = _remembered(self._working, working)
        return working

    def is_eve(self, d: date, department: str | None = None) -> bool:
        """A working day before a holiday: shorter opening hours apply (config `eve_close`)."""
        return self.is_working_day(d, department) and self.is_holiday(d + timedelta(days=1))

    def next_working_day(self, d: date, department: str | None = None) -> date:
        d += timedelta(days=1)
        while not self.is_working_day(d, department):
            d += timedelta(days=1)
        return d

    def working_day_on_or_after(self, d: date, department: str | None = None) -> date:
        return d if self.is_working_day(d, department) else self.next_working_day(d, department)

    @staticmethod
    def local_date(at: datetime) -> date:
        return _aware(at, "at").astimezone(STOCKHOLM).date()

    # -- deadlines and working time ------------------------------------------

    def _working_start(self, start: datetime, department: str | None = None) -> datetime:
        """`start`, or 00:00 of the next working day when it falls on a non-working day."""
        local = _aware(start, "start").astimezone(STOCKHOLM)
        if self.is_working_day(local.date(), department):
            return local
        return _local_midnight(self.next_working_day(local.date(), department))

    def one_working_day_deadline(self, arrived_at: datetime, department: str | None = None) -> datetime:
        """METRICS.md: the same local clock time on the next working day after arrival."""
        return self.add_working_days(arrived_at, 1, department)

    def add_working_days(self, start: datetime, n: int, department: str | None = None) -> datetime:
        """The same local clock time `n` working days later (a non-working day counts from 00:00 of the next)."""
        if n < 0:
            raise ValueError("add_working_days counts forwards only (n >= 0)")
        local = self._working_start(start, department)
        d = local.date()
        for _ in range(n):
            d = self.next_working_day(d, department)
        return _local(d, local.time().replace(tzinfo=None))

    def working_time_between(self, a: datetime, b: datetime, department: str | None = None) -> timedelta:
        """Time from a to b that falls on working days (negative when b is before a)."""
        a, b = _aware(a, "a"), _aware(b, "b")
        if b < a:
            return -self.working_time_between(b, a, department)
        total = timedelta(0)
        d = a.astimezone(STOCKHOLM).date()
        last = b.astimezone(STOCKHOLM).date()
        while d <= last:
            if self.is_working_day(d, department):
                day_start = _local_midnight(d)
                day_end = _local_midnight(d + timedelta(days=1))
                overlap = min(b, day_end) - max(a, day_start)
                if overlap > timedelta(0):
                    total += overlap
            d += timedelta(days=1)
        return total

    def add_working_time(self, start: datetime, delta: timedelta, department: str | None = None) -> datetime:
        """The earliest moment by which `delta` of working time has passed since `start`."""
        if delta < timedelta(0):
            raise ValueError("add_working_time counts forwards only (delta >= 0)")
        current = self._working_start(start, department).astimezone(UTC)
        remaining = delta
        while True:
            d = current.astimezone(STOCKHOLM).date()
            day_end = _local_midnight(d + timedelta(days=1)).astimezone(UTC)
            if current + remaining <= day_end:
                return current + remaining
            remaining -= day_end - current
            current = _local_midnight(self.next_working_day(d, department)).astimezone(UTC)

    # -- opening hours ----------------------------------------------------------

    def has_own_hours(self, code: str) -> bool:
        """Whether `code` (a queue or service) has hours of its own, not the default."""
        return code in self._hours and code != "default"

    def hours_for(self, code: str) -> _Hours | None:
        return self._hours.get(code) or self._hours.get("default")

    def opening_hours(self, queue_code: str, d: date, department: str | None = None) -> tuple[time, time] | None:
        """Local (open, close) of a queue (or service) on `d`; None when it is closed all day.

        With `department`, that department's closing days close it too.
        """
        key = (queue_code, d, department)
        hours = self._hours_on.get(key, _UNKNOWN)  # one lookup: another thread may clear the dict
        if hours is _UNKNOWN:
            hours = self._hours_on[key] = _remembered(self._hours_on, self._opening_hours(queue_code, d, department))
        return hours

    def _opening_hours(self, queue_code: str, d: date, department: str | None) -> tuple[time, time] | None:
        if not self.is_working_day(d, department):
            return None
        hours = self.hours_for(queue_code)
        if hours is None or hours.closed:
            return None
        if self.is_eve(d, department):
            return hours.eve_open, hours.eve_close
        return hours.open, hours.close

    def is_open(self, queue_code: str, at: datetime, department: str | None = None) -> bool:
        local = _aware(at, "at").astimezone(STOCKHOLM)
        hours = self.opening_hours(queue_code, local.date(), department)
        if hours is None:
            return False
        return hours[0] <= local.time().replace(tzinfo=None) < hours[1]

    def next_opening(
        self, queue_code: str, at: datetime, horizon_days: int = 60, department: str | None = None
    ) -> datetime | None:
        """When the queue next opens at or after `at` (None if not within `horizon_days`)."""
        local = _aware(at, "at").astimezone(STOCKHOLM)
        d = local.date()
        for _ in range(horizon_days):
            hours = self.opening_hours(queue_code, d, department)
            if hours is not None:
                opens = _local(d, hours[0])
                closes = _local(d, hours[1])
                if at < closes:
                    return max(opens, at.astimezone(UTC))
            d += timedelta(days=1)
        return None


_UNKNOWN = object()
REMEMBERED = 50_000  # answers a calendar keeps before it starts over (a year of every queue's days)


def _remembered(answers: dict, value):
    """`value`, after making room for it in `answers`."""
    if len(answers) >= REMEMBERED:
        answers.clear()
    return value


def calendar_from_config(config: Mapping, directory_hours: Mapping[str, Mapping] | None = None) -> WorkCalendar:
    """The calendar described by config["calendar"] and the opening hours.

    Opening hours come from the directory (`directory_hours`, loaded from the directory
    file into the database), and config["opening_hours"] overrides them code by code.
    """
    section = config["calendar"]
    if not isinstance(section["closing_days"], list | tuple):
        raise ValueError("calendar.closing_days must be a list of dates")
    if not isinstance(section["department_closing_days"], Mapping):
        raise ValueError("calendar.department_closing_days must map department codes to lists of dates")
    hours = config["opening_hours"]
    if directory_hours:
        hours = {**DEFAULT_OPENING_HOURS, **directory_hours, **hours}
    return WorkCalendar(
        closing_days=section["closing_days"],
        opening_hours=hours or None,  # none configured: DEFAULT_OPENING_HOURS
        department_closing_days=section["department_closing_days"],
    )


def department_of(service) -> str | None:
    """The department code whose closing days apply to work on `service` (None: the city's only)."""
    department = getattr(service, "department", None) if service is not None else None
    return department.code if department is not None else None


def current_calendar() -> WorkCalendar:
    """The current application's calendar, built once from its config and directory.

    A process reads the directory's opening hours once: after `kontaktcenter directory
    load`, restart the web, worker and scheduler processes (the README says so).
    """
    from flask import current_app

    calendar = current_app.extensions.get(EXTENSION_KEY)
    if calendar is None:
        calendar = current_app.extensions[EXTENSION_KEY] = calendar_from_config(current_app.config, _directory_hours())
    return calendar


# The app names the function that reads the directory's opening hours (code → {"open": …})
# from a session: the directory sits above the calendar, so the calendar does not import it.
HOURS_SOURCE_KEY = "worktime.directory_hours"


def _directory_hours() -> dict[str, dict[str, object]]:
    from flask import current_app

    from ..database import AppSession

    read = current_app.extensions.get(HOURS_SOURCE_KEY)
    if read is None:
        return {}
    # A session of its own, ended at once: the calendar is first asked for in the middle
    # of someone's unit of work, which must not find a transaction it did not begin.
    with AppSession(join_transaction_mode="create_savepoint") as session:
        return read(session)


def forget_calendar(app) -> None:
    """Make the app build its calendar again (after this process loaded a directory)."""
    app.extensions.pop(EXTENSION_KEY, None)
