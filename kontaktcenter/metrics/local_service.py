"""Lokal service: walk-in demand by location (libraries included) and service over time."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..directory.models import Location, Service
from .engine import Filters, ReportQuery, records
from .report import report


def local_service(session: Session, calendar, query: ReportQuery) -> dict:
    """Visits per location and period, per location and service, with wait and walk-outs."""
    filters = Filters(**{**query.filters.__dict__, "channel": "walk_in"})
    period = query.period or "month"
    by_period = records(
        report(
            session,
            ReportQuery(
                query.start, query.end, by=("location", "period"), period=period, filters=filters, as_of=query.as_of
            ),
            calendar,
        )
    )
    by_service = records(
        report(
            session,
            ReportQuery(query.start, query.end, by=("service", "location"), filters=filters, as_of=query.as_of),
            calendar,
        )
    )
    locations = {
        code: (name, kind) for code, name, kind in session.execute(select(Location.code, Location.name, Location.kind))
    }
    services = {code: name for code, name in session.execute(select(Service.code, Service.name_sv))}
    periods = sorted({r["period"] for r in by_period})
    grid: dict[str, dict[str, int]] = {}
    totals: dict[str, dict] = {}
    for r in by_period:
        grid.setdefault(r["location"], {})[r["period"]] = r["walkin_visits"]
    for r in records(
        report(
            session, ReportQuery(query.start, query.end, by=("location",), filters=filters, as_of=query.as_of), calendar
        )
    ):
        totals[r["location"]] = r
    rows = []
    for code in sorted(grid, key=lambda c: (locations.get(c, ("", ""))[1], c)):
        name, kind = locations.get(code, (code or "–", ""))
        total = totals.get(code, {})
        rows.append(
            {
                "location": code,
                "name": name,
                "kind": kind,
                "visits": [grid[code].get(p, 0) for p in periods],
                "total": total.get("walkin_visits", 0),
                "wait_mean_seconds": total.get("walkin_wait_mean_seconds"),
                "left_unserved": total.get("walkin_left_unserved", 0),
            }
        )
    topics = [
        {
            "service": r["service"],
            "service_name": services.get(r["service"], r["service"]),
            "location": r["location"],
            "location_name": locations.get(r["location"], (r["location"], ""))[0],
            "visits": r["walkin_visits"],
        }
        for r in by_service
        if r["walkin_visits"]
    ]
    topics.sort(key=lambda t: (-t["visits"], t["location"], t["service"]))
    # The same demand per service/topic over time: what people bring to the desks.
    by_topic = records(
        report(
            session,
            ReportQuery(
                query.start, query.end, by=("service", "period"), period=period, filters=filters, as_of=query.as_of
            ),
            calendar,
        )
    )
    topic_grid: dict[str, dict[str, int]] = {}
    for r in by_topic:
        if r["walkin_visits"]:
            topic_grid.setdefault(r["service"], {})[r["period"]] = r["walkin_visits"]
    topic_periods = [
        {
            "service": code,
            "service_name": services.get(code, code or "–"),
            "visits": [grid_row.get(p, 0) for p in periods],
            "total": sum(grid_row.values()),
        }
        for code, grid_row in topic_grid.items()
    ]
    topic_periods.sort(key=lambda t: (-t["total"], t["service"]))
    kinds: dict[str, list[int]] = {}
    for row in rows:
        totals_of_kind = kinds.setdefault(row["kind"], [0] * len(periods))
        for i, n in enumerate(row["visits"]):
            totals_of_kind[i] += n
    return {
        "periods": periods,
        "rows": rows,
        "topics": topics,
        "topic_periods": topic_periods,
        "period_kind": period,
        "kinds": sorted(kinds.items()),
    }
