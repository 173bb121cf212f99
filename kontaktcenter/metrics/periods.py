"""The report's periods (day, week, month): their keys, their dates, their names for people, and
whether the chosen dates or the as-of time cut them (a partial period)."""

from __future__ import annotations

from datetime import date, timedelta

from babel.dates import format_date
from flask_babel import gettext as _


def period_span(key: str, kind: str) -> tuple[date, date]:
    """A period key as the report writes it (2026-03-03, 2026-W09, 2026-03) → its first and last day."""
    if kind == "day":
        day = date.fromisoformat(key)
        return day, day
    if kind == "week":
        year, _sep, week = key.partition("-W")
        monday = date.fromisocalendar(int(year), int(week), 1)
        return monday, monday + timedelta(days=6)
    if kind == "month":
        first = date.fromisoformat(key + "-01")
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first, following - timedelta(days=1)
    raise ValueError(f"unknown period kind {kind!r}")


def period_key(day: date, kind: str) -> str:
    """The key of the period a local date falls in (the same text as engine.PERIODS gives)."""
    if kind == "day":
        return day.isoformat()
    if kind == "week":
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{day.year}-{day.month:02d}"
    raise ValueError(f"unknown period kind {kind!r}")


def period_keys(start: date, end: date, kind: str) -> list[str]:
    """Every period the dates touch, in order, also those without a contact (a gap is a value too)."""
    keys: list[str] = []
    day = start
    while day <= end:
        key = period_key(day, kind)
        keys.append(key)
        day = period_span(key, kind)[1] + timedelta(days=1)
    return keys


def is_partial(key: str, kind: str, start: date, end: date, as_of_day: date) -> bool:
    """A period the chosen dates cut, or one not over on the as-of day (today is not over yet)."""
    first, last = period_span(key, kind)
    return first < start or last > end or last >= as_of_day


def period_label(key: str, kind: str, locale: str) -> str:
    """A name a person reads: "3 mars", "v. 9 2026", "mars 2026" (in the reader's language)."""
    first, _last = period_span(key, kind)
    if kind == "day":
        return format_date(first, "d MMMM", locale=locale)
    if kind == "week":
        year, week, _weekday = first.isocalendar()
        return _("v. %(week)s %(year)s", week=week, year=year)
    return format_date(first, "LLLL y", locale=locale)
