"""ISO 8601 durations for retention periods (`P2Y`, `P18M`, `P1Y6M`, `P90D`, `P6W`).

Only calendar parts (years, months, weeks, days): a retention period is counted in
dates, and a time part (`PT…`) would only invite mistakes such as `PT1M` for a month.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_PATTERN = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class Period:
    years: int = 0
    months: int = 0
    days: int = 0
    text: str = ""

    def before(self, moment: datetime) -> datetime:
        """`moment` minus the period: whole months first (clamped to the month's last day), then days."""
        total = moment.year * 12 + (moment.month - 1) - (self.years * 12 + self.months)
        year, month = divmod(total, 12)
        month += 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day) - timedelta(days=self.days)


def parse_period(text: str) -> Period:
    """A Period from an ISO 8601 duration of calendar parts; ValueError for anything else."""
    value = (text or "").strip().upper()
    match = _PATTERN.match(value)
    if not match:
        raise ValueError(f"not an ISO 8601 duration of years, months, weeks and days: {text!r}")
    years, months, weeks, days = (int(g or 0) for g in match.groups())
    if years == months == weeks == days == 0:
        raise ValueError(f"a retention period must be longer than zero: {text!r}")
    return Period(years, months, weeks * 7 + days, value)
