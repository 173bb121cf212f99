"""The department quarter report for the budget dialogue: one förvaltning, one quarter.

Volumes by service and channel, tillgänglighet against the targets, the trend against the
same quarter last year, repeat contacts and failure demand with the top reasons, and the
department's share of the contact center's cost (Bas + Tjänstebaserat, costs.py). Names,
not codes; amounts in kronor with Swedish formatting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..directory.models import Department
from ..errors import DomainError
from ..vocabulary import CHANNELS
from .costs import CostConfigError, cost_allocation
from .development import development_report, top_reasons, total
from .engine import Filters, ReportQuery, records
from .report import report

QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
TARGET_FIGURES = ("answer_rate", "service_level", "response_within_1wd_rate")
TREND_FIGURES = (
    ("contacts", "development"),
    ("phone_offered", "core"),
    ("written_received", "core"),
    ("walkin_visits", "core"),
    ("tickets", "core"),
    ("answer_rate", "core"),
    ("service_level", "core"),
    ("response_within_1wd_rate", "core"),
    ("fcr_rate", "core"),
    ("escalation_rate", "core"),
    ("repeat_rate", "development"),
    ("failure_demand_rate", "development"),
)


class QuarterError(DomainError):
    """A quarter that cannot be read; the message says how to write it."""


def parse_quarter(text: str) -> tuple[date, date]:
    """ "2026-Q3" → (1 July 2026, 30 September 2026), local dates, both included."""
    match = QUARTER.match((text or "").strip().upper())
    if not match:
        raise QuarterError("Ange kvartalet som ÅÅÅÅ-QN, t.ex. 2026-Q3.", field="quarter")
    year, q = int(match.group(1)), int(match.group(2))
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def current_quarter(today: date) -> str:
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def _one(table) -> dict[str, Any]:
    (row,) = records(table)
    return row


def quarter_report(
    session: Session,
    calendar,
    config: Mapping,
    department: Department,
    quarter: str,
    as_of: datetime,
    *,
    total_cost: float | None = None,
    targets: Mapping[str, float] | None = None,
    locale: str = "sv",
) -> dict[str, Any]:
    start, end = parse_quarter(quarter)
    last_start, last_end = parse_quarter(f"{start.year - 1}-Q{(start.month - 1) // 3 + 1}")
    mine = Filters(department=department.code)
    query = ReportQuery(start, end, filters=mine, as_of=as_of)
    last_year = replace(query, start=last_start, end=last_end)
    names = {s.code: s.name(locale) for s in department.services}

    # Volumes: every contact, by service and channel.
    volume_rows = records(development_report(session, replace(query, by=("service", "channel"))))
    channels = [ch for ch in CHANNELS if any(r["channel"] == ch and r["contacts"] for r in volume_rows)]
    volumes: dict[str, dict[str, int]] = {}
    for r in volume_rows:
        volumes.setdefault(r["service"], {})[r["channel"]] = r["contacts"]
    volume_table = sorted(
        (
            {
                "service": names.get(code, code or "–"),
                "by_channel": [counts.get(ch, 0) for ch in channels],
                "total": sum(counts.values()),
            }
            for code, counts in volumes.items()
        ),
        key=lambda r: (-r["total"], r["service"]),
    )
    channel_totals = [sum(r["by_channel"][i] for r in volume_table) for i in range(len(channels))]

    core = _one(report(session, query, calendar))
    development = total(volume_rows)  # the counts add up: no second pass over the rows
    core_last = _one(report(session, last_year, calendar))
    development_last = _one(development_report(session, last_year))

    targets = dict(targets or {})
    availability = [
        {
            "figure": name,
            "value": core[name],
            "target": targets.get(name),
            "met": None if core[name] is None or name not in targets else core[name] >= targets[name],
        }
        for name in TARGET_FIGURES
    ]
    trend = []
    for name, source in TREND_FIGURES:
        now_value = (development if source == "development" else core)[name]
        then_value = (development_last if source == "development" else core_last)[name]
        change = None if now_value is None or then_value is None else now_value - then_value
        trend.append({"figure": name, "value": now_value, "last_year": then_value, "change": change})

    reasons = []
    for entry in top_reasons(session, query, per_service=3):
        for reason in entry["reasons"]:
            reasons.append(
                {
                    "service": names.get(entry["service"], entry["service"]),
                    "reason": reason["name_en"] if locale != "sv" else reason["name_sv"],
                    "category": reason["category"],
                    "contacts": reason["contacts"],
                    "share": reason["share"],
                }
            )
    reasons.sort(key=lambda r: -r["contacts"])

    cost, cost_error = None, None
    try:
        allocation = cost_allocation(session, calendar, config, ReportQuery(start, end, as_of=as_of), total_cost or 0.0)
        cost = next((r for r in allocation if r["department"] == department.code), None)
    except CostConfigError as exc:
        cost_error = str(exc)
    return {
        "department": department.name(locale),
        "department_code": department.code,
        "quarter": quarter.strip().upper(),
        "from": start,
        "to": end,
        "last_year": f"{last_start.year}-Q{(last_start.month - 1) // 3 + 1}",
        "as_of": as_of,
        "channels": channels,
        "volumes": volume_table,
        "channel_totals": channel_totals,
        "contacts": development["contacts"],
        "availability": availability,
        "trend": trend,
        "development": development,
        "top_reasons": reasons[:10],
        "total_cost": total_cost,
        "cost": cost,
        "cost_error": cost_error,
    }
