"""Erlang C exactly as METRICS.md gives it, with its worked example."""

from __future__ import annotations

import math
from datetime import date

import pytest

from kontaktcenter.metrics.staffing import arrival_pattern, asa, erlang_c, required_agents, service_level, staffing_plan


def erlang_c_by_the_formula(a: float, n: int) -> float:
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def test_worked_example_100_calls_per_30_min_aht_180_needs_14_agents():
    need = required_agents(100, 30 * 60, 180, 0.80, 20)
    assert need.traffic == 10.0
    assert need.agents == 14
    assert round(need.service_level * 100, 1) == 88.8
    assert round(service_level(10.0, 13, 180, 20) * 100, 1) == 79.6


@pytest.mark.parametrize(("a", "n"), [(10.0, 11), (10.0, 14), (2.5, 3), (37.2, 45)])
def test_recursion_equals_the_formula(a, n):
    assert erlang_c(a, n) == pytest.approx(erlang_c_by_the_formula(a, n), rel=1e-12)


def test_asa_and_shrinkage():
    assert asa(10.0, 14, 180) == pytest.approx(erlang_c(10.0, 14) * 180 / 4)
    assert required_agents(100, 1800, 180, 0.8, 20, shrinkage=0.3).scheduled == math.ceil(14 / 0.7)
    assert required_agents(0, 1800, 180, 0.8, 20).agents == 0


def test_too_few_agents_never_meet_a_target():
    assert service_level(10.0, 10, 180, 20) == 0.0
    assert asa(10.0, 9, 180) is None


def test_arrivals_per_interval_from_history(session, phone_call):
    # Two Mondays; 09:00–09:29 gets 3 calls on one and 1 on the other → mean 2.
    for when in ("2026-03-02 09:05", "2026-03-02 09:10", "2026-03-02 09:29", "2026-03-09 09:15", "2026-03-09 09:45"):
        phone_call(when, "answered", wait=5, talk=180, service="bygglov")
    pattern = arrival_pattern(session, "bygglov", date(2026, 3, 1), date(2026, 3, 15), 30)
    rows = {(r["weekday"], r["interval"]): r["calls"] for r in pattern.to_dict(orient="records")}
    assert rows == {(1, "09:00"): 2.0, (1, "09:30"): 0.5}
    plan = staffing_plan(pattern, 180, 30, 0.8, 20, 0.3)
    assert plan[0]["agents"] >= 1
    assert plan[0]["scheduled"] >= plan[0]["agents"]
