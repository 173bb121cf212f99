"""Likvärdighet: each figure per language, need and location beside everyone's, with the gap."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..vocabulary import NEEDS
from .engine import DECIMALS, FIGURE_KINDS, Filters, ReportQuery, half_up, records
from .report import report

MIN_GROUP = 30
DIMENSIONS = ("language", "needs", "location")
# Every figure that can be compared between groups of different size (the rates, the
# times), in METRICS.md's order, with the direction that is better for the citizen.
# Handling time has none: a longer call with an interpreter is not a worse service.
COMPARED = [
    ("answer_rate", "higher"),
    ("abandon_rate", "lower"),
    ("service_level", "higher"),
    ("asa_seconds", "lower"),
    ("wait_p90_seconds", "lower"),
    ("aht_seconds", None),
    ("response_within_1wd_rate", "higher"),
    ("median_first_response_hours", "lower"),
    ("walkin_wait_mean_seconds", "lower"),
    ("fcr_rate", "higher"),
    ("kc_resolution_rate", "higher"),
    ("escalation_rate", "lower"),
]
# Shown until the reader chooses: one figure per channel group, so the table fits a screen.
DEFAULT_FIGURES = ("answer_rate", "response_within_1wd_rate", "walkin_wait_mean_seconds")


def chosen_figures(requested: list[str]) -> list[str]:
    """The compared figures the reader asked for, in METRICS.md's order; the defaults if none."""
    wanted = set(requested)
    chosen = [name for name, _ in COMPARED if name in wanted]
    return chosen or list(DEFAULT_FIGURES)


# A gap worth a manager's attention: 5 percentage points on a rate, 20 % on a time.
RATE_GAP = 0.05
TIME_GAP = 0.20


@dataclass
class Cell:
    value: float | None
    everyone: float | None
    difference: float | None
    worse: bool


def contacts_of(row: dict) -> int:
    return row["phone_queued"] + row["written_received"] + row["walkin_visits"]


def _cell(name: str, better: str | None, value, everyone) -> Cell:
    if value is None or everyone is None:
        return Cell(value, everyone, None, False)
    decimals = DECIMALS[FIGURE_KINDS[name]]
    difference = half_up(value - everyone, decimals)
    gap = everyone - value if better == "higher" else value - everyone
    if better is None:
        worse = False
    elif FIGURE_KINDS[name] == "rate":
        worse = gap >= RATE_GAP - 1e-9
    else:
        worse = everyone > 0 and gap / everyone >= TIME_GAP - 1e-9
    return Cell(value, everyone, difference, worse)


def equity(session: Session, calendar, query: ReportQuery, dimension: str) -> dict:
    """Rows per group of `dimension` with contacts, a too-small mark and a Cell per figure."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
    (everyone,) = records(
        report(session, ReportQuery(query.start, query.end, filters=query.filters, as_of=query.as_of), calendar)
    )
    groups: list[tuple[str, dict]] = []
    if dimension == "needs":
        for need in (*NEEDS, "none"):
            filters = Filters(**{**query.filters.__dict__, "need": need})
            (row,) = records(
                report(session, ReportQuery(query.start, query.end, filters=filters, as_of=query.as_of), calendar)
            )
            groups.append((need, row))
    else:
        by = (dimension,)
        for row in records(
            report(
                session, ReportQuery(query.start, query.end, by=by, filters=query.filters, as_of=query.as_of), calendar
            )
        ):
            groups.append((row[dimension], row))
    rows = []
    for group, row in groups:
        n = contacts_of(row)
        if dimension == "needs" and n == 0:
            continue
        rows.append(
            {
                "group": group,
                "contacts": n,
                "too_small": n < MIN_GROUP,
                "cells": {name: _cell(name, better, row[name], everyone[name]) for name, better in COMPARED},
            }
        )
    return {
        "everyone": everyone,
        "everyone_contacts": contacts_of(everyone),
        "rows": rows,
        "figures": [n for n, _ in COMPARED],
    }
