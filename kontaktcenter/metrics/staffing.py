"""Staffing with Erlang C (METRICS.md): agents needed per interval from arrivals and AHT."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..directory.models import Service
from ..vocabulary import QUEUE_OUTCOMES
from .engine import Filters, ReportQuery, _frame, period_bounds, records
from .report import report
from .sqlfuncs import local_part

MAX_AGENTS = 2000


def erlang_c(traffic: float, agents: int) -> float:
    """P_w: the probability that a call waits, for offered load A = traffic and N agents > A.

    Computed through the Erlang B recursion, which equals METRICS.md's formula
    (Aᴺ/N!·N/(N−A)) / (Σ_{k<N} Aᵏ/k! + Aᴺ/N!·N/(N−A)) without overflowing factorials.
    """
    if agents <= traffic:
        return 1.0
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(traffic: float, agents: int, aht: float, target_seconds: float) -> float:
    """SL(T) = 1 − P_w · e^(−(N−A)·T/AHT); 0 when N ≤ A (the queue grows without bound)."""
    if agents <= traffic:
        return 0.0
    return 1 - erlang_c(traffic, agents) * math.exp(-(agents - traffic) * target_seconds / aht)


def asa(traffic: float, agents: int, aht: float) -> float | None:
    """ASA = P_w · AHT / (N − A); None when N ≤ A."""
    if agents <= traffic:
        return None
    return erlang_c(traffic, agents) * aht / (agents - traffic)


@dataclass(frozen=True)
class Requirement:
    calls: float
    traffic: float  # offered load A in erlangs
    agents: int  # N: the smallest N > A meeting the target
    service_level: float
    asa_seconds: float | None
    scheduled: int  # ⌈N / (1 − shrinkage)⌉


def required_agents(
    calls: float,
    interval_seconds: float,
    aht: float,
    target_level: float,
    target_seconds: float,
    shrinkage: float = 0.0,
) -> Requirement:
    """The smallest N > A with SL(T) ≥ target, and the agents to schedule for it."""
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be at least 0 and below 1")
    if not 0 < target_level < 1:
        raise ValueError("the service-level target must lie between 0 and 1")
    if calls <= 0 or aht <= 0:
        return Requirement(calls, 0.0, 0, 1.0, 0.0, 0)
    traffic = calls / interval_seconds * aht
    agents = math.floor(traffic) + 1
    while service_level(traffic, agents, aht, target_seconds) < target_level:
        agents += 1
        if agents > MAX_AGENTS:
            raise ValueError("more than 2000 agents needed: check the arrivals and AHT")
    return Requirement(
        calls,
        traffic,
        agents,
        service_level(traffic, agents, aht, target_seconds),
        asa(traffic, agents, aht),
        math.ceil(agents / (1 - shrinkage)),
    )


def arrival_pattern(
    session: Session, service_code: str | None, start: date, end: date, interval_minutes: int = 30
) -> pd.DataFrame:
    """Mean offered calls per (ISO weekday, interval start) over the period's days with calls.

    Offered as in METRICS.md's phone figures: calls that reached a queue (short abandons
    included, since they take the queue's capacity too: a conservative plan).
    Also returns the history's AHT (mean of ended_at − answered_at over answered calls).
    """
    c = Contact
    lo, hi = period_bounds(start, end)
    weekday = local_part(c.arrived_at, "ID").label("weekday")
    clock = local_part(c.arrived_at, "HH24:MI").label("clock")
    day = local_part(c.arrived_at, "YYYY-MM-DD").label("day")
    conditions = [
        c.arrived_at >= lo,
        c.arrived_at < hi,
        c.channel == "phone",
        c.outcome.in_(QUEUE_OUTCOMES),
    ]
    stmt = select(day, weekday, clock, func.count(c.id).label("calls")).select_from(c)
    if service_code:
        stmt = stmt.join(Service, and_(Service.id == c.service_id, Service.code == service_code))
    frame = _frame(session, stmt.where(*conditions).group_by(day, weekday, clock), ["day", "weekday", "clock", "calls"])
    if frame.empty:
        return pd.DataFrame(columns=["weekday", "interval", "calls"])
    minutes = frame["clock"].str.slice(0, 2).astype(int) * 60 + frame["clock"].str.slice(3, 5).astype(int)
    start_minute = minutes // interval_minutes * interval_minutes
    frame["interval"] = [f"{m // 60:02d}:{m % 60:02d}" for m in start_minute]
    frame["weekday"] = frame["weekday"].astype(int)
    days_per_weekday = frame.groupby("weekday")["day"].nunique()
    totals = frame.groupby(["weekday", "interval"], as_index=False)["calls"].sum()
    totals["calls"] = totals["calls"] / totals["weekday"].map(days_per_weekday)
    return totals.sort_values(["weekday", "interval"]).reset_index(drop=True)


def history_aht(session: Session, calendar, service_code: str | None, start: date, end: date) -> float | None:
    query = ReportQuery(start, end, filters=Filters(service=service_code))
    (row,) = records(report(session, query, calendar))
    return row["aht_seconds"]


def staffing_plan(
    pattern: pd.DataFrame,
    aht: float,
    interval_minutes: int,
    target_level: float,
    target_seconds: float,
    shrinkage: float,
) -> list[dict]:
    plan = []
    for row in pattern.to_dict(orient="records"):
        need = required_agents(row["calls"], interval_minutes * 60, aht, target_level, target_seconds, shrinkage)
        plan.append(
            {
                "weekday": row["weekday"],
                "interval": row["interval"],
                "calls": round(row["calls"], 1),
                "traffic": round(need.traffic, 2),
                "agents": need.agents,
                "service_level": round(need.service_level, 4),
                "asa_seconds": None if need.asa_seconds is None else round(need.asa_seconds, 1),
                "scheduled": need.scheduled,
            }
        )
    return plan
