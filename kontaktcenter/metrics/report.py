"""The tillgänglighet report: every figure of METRICS.md per group, settled days from the rollups, the rest from the rows."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.orm import Session

from .engine import DEFAULT_SHORT_ABANDON_SECONDS, ReportQuery, check_period, counts, empty_counts, shape
from .rollups import counts_with_rollups


def report(
    session: Session,
    query: ReportQuery,
    calendar,
    short_abandon_seconds: float = DEFAULT_SHORT_ABANDON_SECONDS,
    *,
    use_rollups: bool = True,
) -> pd.DataFrame:
    """The tillgänglighet report: one row per group, every figure (METRICS.md)."""
    check_period(query.start, query.end)
    query = query.with_as_of()
    if use_rollups:
        frame = counts_with_rollups(session, query, calendar, short_abandon_seconds)
    else:
        frame = counts(session, query, calendar, short_abandon_seconds)
    keys = query.group_columns
    if frame.empty and not keys:
        frame = empty_counts(keys)
    return shape(frame, keys)
