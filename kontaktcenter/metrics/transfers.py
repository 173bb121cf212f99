"""METRICS.md's `transfers` and `transfers_completed`, counted from the call_transfers rows.

Grouped and filtered like the core report through the transferred call's contact: by
service means the service of the queue or line the call came in on; a transfer falls in
the period (and the `period` group) of the moment the agent made it. The switchboard
report calls `transfer_figures` for its two columns.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..contacts.calls import CallTransfer
from ..contacts.models import Contact
from ..directory.models import Department, Location, Service
from .engine import (
    ReportQuery,
    _filter_conditions,
    _key_columns,
    _needs_department,
    _needs_location,
    _sum,
    period_bounds,
)

FIGURES = ("transfers", "transfers_completed")


def transfer_statement(query: ReportQuery):
    t, c, s, d, loc = CallTransfer, Contact, Service, Department, Location
    lo, hi = period_bounds(query.start, query.end)
    keys = _key_columns(query, c, s, d, loc, t.at)
    stmt = (
        select(*keys, _sum(t.id.is_not(None)).label("transfers"), _sum(t.answered_at.is_not(None)).label(FIGURES[1]))
        .select_from(t)
        .join(c, c.id == t.contact_id)
        .outerjoin(s, s.id == c.service_id)
    )
    if _needs_department(query):
        stmt = stmt.outerjoin(d, d.id == s.department_id)
    if _needs_location(query):
        stmt = stmt.outerjoin(loc, loc.id == c.location_id)
    stmt = stmt.where(t.at >= lo, t.at < hi, *_filter_conditions(query.filters, c, s, d, loc))
    if keys:
        stmt = stmt.group_by(*keys).order_by(*keys)
    return stmt


def transfer_figures(session: Session, query: ReportQuery) -> pd.DataFrame:
    """One row per group (the query's `by`) with `transfers` and `transfers_completed`.

    Without grouping there is always one row, zeros included.
    """
    keys = query.group_columns
    result = session.execute(transfer_statement(query))
    frame = pd.DataFrame(result.all(), columns=[*keys, *FIGURES])
    if frame.empty and not keys:
        frame = pd.DataFrame([dict.fromkeys(FIGURES, 0)])
    for name in FIGURES:
        frame[name] = frame[name].fillna(0).astype(int)
    return frame
