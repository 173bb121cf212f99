"""The switchboard report (METRICS.md "Switchboard (växel), transfers and call distribution").

Computed from the records only: switchboard_requests, call_offers and call_transfers,
each joined to its call (the contact). Grouped like the core report; `service` is the
service of the line or queue the call came in on (the contact's service), and each row
belongs to the period of its own moment: the request's `at`, the offer's `offered_at`,
the transfer's `at`. Three aggregate queries, merged by pandas.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..contacts.calls import CallOffer, CallTransfer
from ..contacts.models import Contact
from ..directory.models import Department, Location, Service
from ..switchboard.models import SwitchboardRequest
from .engine import (
    ReportQuery,
    _filter_conditions,
    _frames,
    _key_columns,
    _needs_department,
    _needs_location,
    _sum,
    check_period,
    merge_count_frames,
    period_bounds,
    rate,
    records,
)

FIGURES: list[tuple[str, str]] = [
    ("switchboard_calls", "count"),
    ("switchboard_connected", "count"),
    ("switchboard_connect_rate", "rate"),
    ("transfers", "count"),
    ("transfers_completed", "count"),
    ("offers", "count"),
    ("offers_missed", "count"),
    ("offer_miss_rate", "rate"),
]
FIGURE_NAMES = [name for name, _kind in FIGURES]
FIGURE_KINDS = dict(FIGURES)
COUNTS = tuple(name for name, kind in FIGURES if kind == "count")


def _statement(query: ReportQuery, table, moment, counts: list):
    """`counts` per group over `table`'s rows in the period, each through its call."""
    c = Contact
    lo, hi = period_bounds(query.start, query.end)
    keys = _key_columns(query, c, Service, Department, Location, moment)
    stmt = (
        select(*keys, *counts)
        .select_from(table)
        .join(c, c.id == table.contact_id)
        .outerjoin(Service, Service.id == c.service_id)
    )
    if _needs_department(query):
        stmt = stmt.outerjoin(Department, Department.id == Service.department_id)
    if _needs_location(query):
        stmt = stmt.outerjoin(Location, Location.id == c.location_id)
    stmt = stmt.where(moment >= lo, moment < hi, *_filter_conditions(query.filters, c, Service, Department, Location))
    return stmt.group_by(*keys) if keys else stmt


def request_statement(query: ReportQuery):
    r = SwitchboardRequest
    return _statement(
        query,
        r,
        r.at,
        [
            func.count(r.id).label("switchboard_calls"),
            _sum(r.connected_at.is_not(None)).label("switchboard_connected"),
        ],
    )


def offer_statement(query: ReportQuery):
    o = CallOffer
    return _statement(
        query,
        o,
        o.offered_at,
        [func.count(o.id).label("offers"), _sum(o.result == "missed").label("offers_missed")],
    )


def transfer_statement(query: ReportQuery):
    t = CallTransfer
    return _statement(
        query,
        t,
        t.at,
        [func.count(t.id).label("transfers"), _sum(t.answered_at.is_not(None)).label("transfers_completed")],
    )


def switchboard_report(session: Session, query: ReportQuery) -> pd.DataFrame:
    """One row per group: every figure of the switchboard section, in METRICS.md's order."""
    check_period(query.start, query.end)
    keys = query.group_columns
    frames = _frames(session, [request_statement(query), offer_statement(query), transfer_statement(query)], keys)
    return shape(merge_count_frames(frames, keys, COUNTS), keys)


def shape(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({k: frame[k].fillna("").astype(str) for k in keys}, index=frame.index)
    for name in COUNTS:
        out[name] = frame[name]
    out["switchboard_connect_rate"] = [
        rate(n, d) for n, d in zip(frame["switchboard_connected"], frame["switchboard_calls"], strict=True)
    ]
    out["offer_miss_rate"] = [rate(n, d) for n, d in zip(frame["offers_missed"], frame["offers"], strict=True)]
    out = out[list(keys) + FIGURE_NAMES]
    if keys:
        out = out.sort_values(list(keys), kind="stable")
    return out.reset_index(drop=True)


def total(session: Session, query: ReportQuery) -> dict[str, Any]:
    (row,) = records(switchboard_report(session, query.__class__(query.start, query.end, filters=query.filters)))
    return row
