"""The tillgänglighet report: every figure of METRICS.md per group, settled days from the rollups, the rest from the rows."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.orm import Session

from .engine import ReportQuery, check_period, counts, empty_counts, shape, short_abandon_setting
from .rollups import counts_with_rollups


def report(
    session: Session,
    query: ReportQuery,
    calendar,
    short_abandon_seconds: float | None = None,
    *,
    use_rollups: bool = True,
) -> pd.DataFrame:
    """The tillgänglighet report: one row per group, every figure (METRICS.md).

    Without `short_abandon_seconds`: the setting (short_abandon_setting).
    """
    if short_abandon_seconds is None:
        short_abandon_seconds = short_abandon_setting()
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
