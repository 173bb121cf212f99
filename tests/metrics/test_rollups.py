"""Daily rollups give exactly the on-the-fly figures; the nightly job is registered."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from kontaktcenter.metrics.engine import Filters, ReportQuery, parse_by, records
from kontaktcenter.metrics.models import MetricRollup, MetricRollupDay
from kontaktcenter.metrics.report import report
from kontaktcenter.metrics.rollups import compute_rollups, rollup_job, usable_days
from kontaktcenter.worktime.calendar import WorkCalendar
from tests.fixtures.factories import at

CAL = WorkCalendar()
START, END = date(2026, 3, 2), date(2026, 3, 15)


@pytest.fixture
def fortnight(session, phone_call, written, visit, make_contact):
    from kontaktcenter.tickets.service import resolve

    for day in range(2, 16):
        d = f"2026-03-{day:02d}"
        phone_call(f"{d} 09:00", "answered", wait=10 + day, talk=100 + day, service="skolval")
        phone_call(f"{d} 09:30", "abandoned", wait=2 if day % 2 else 45, service="bygglov")
        phone_call(f"{d} 10:00", "callback_requested", wait=80, callback_done=day % 3 == 0, service="skolval")
        written(f"{d} 15:00", f"2026-03-{day + 1:02d} 1{4 + day % 2}:59", language="ar" if day % 4 else "sv")
        visit(
            f"{d} 11:00",
            "served" if day % 5 else "left",
            wait=200 + day,
            location="bibl-stadsbiblioteket" if day % 2 else "filial-rosengard",
        )
        received = make_contact(service="skolval", arrived_at=at(f"{d} 13:00"))
        if day % 2:
            resolve(session, received.ticket, actor=None)
    session.commit()


GROUPINGS = [
    "",
    "service",
    "service,period:month",
    "department,period:week",
    "channel,location,language,period:day",
    "language",
]


@pytest.mark.parametrize("by", GROUPINGS)
def test_rollups_equal_on_the_fly_computation(session, fortnight, by):
    compute_rollups(session, START, END, CAL, 5, at("2026-04-15 03:00"))
    session.commit()
    dims, period = parse_by(by)
    query = ReportQuery(START, END, by=dims, period=period, as_of=at("2026-04-20 12:00"))
    assert usable_days(session, query, CAL) == [date(2026, 3, d) for d in range(2, 16)]
    from_rollups = records(report(session, query, CAL, 5, use_rollups=True))
    on_the_fly = records(report(session, query, CAL, 5, use_rollups=False))
    assert from_rollups == on_the_fly
    assert any(r["phone_queued"] for r in on_the_fly)


def test_rollups_combine_with_rows_for_days_not_rolled_up(session, fortnight):
    compute_rollups(session, START, date(2026, 3, 8), CAL, 5, at("2026-04-15 03:00"))
    session.commit()
    query = ReportQuery(START, END, by=("service",), filters=Filters(channel="phone"), as_of=at("2026-04-20 12:00"))
    assert records(report(session, query, CAL, 5)) == records(report(session, query, CAL, 5, use_rollups=False))


def test_unsettled_days_are_counted_from_rows(session, fortnight):
    # Computed on 10 March: the written contacts of 9–15 March were not yet all due.
    compute_rollups(session, START, END, CAL, 5, at("2026-03-10 03:00"))
    session.commit()
    query = ReportQuery(START, END, as_of=at("2026-04-20 12:00"))
    assert max(usable_days(session, query, CAL)) < date(2026, 3, 9)
    assert records(report(session, query, CAL, 5)) == records(report(session, query, CAL, 5, use_rollups=False))


def test_nightly_job_is_registered_and_rolls_up_history(app, session, fortnight):
    from kontaktcenter.scheduling.jobs import discover_jobs

    assert "metrics.rollup" in discover_jobs()
    with app.app_context():
        rollup_job(session, at("2026-03-20 02:30"))
    session.commit()
    days = session.scalars(select(MetricRollupDay.day).order_by(MetricRollupDay.day)).all()
    assert days[-1] == date(2026, 3, 19)
    assert days[0] <= START
    assert (
        session.scalar(select(func.sum(MetricRollup.phone_queued)).where(MetricRollup.day.between(START, END)))
        == 14 * 3
    )


def test_rerun_replaces_rows_and_never_duplicates(session, fortnight):
    compute_rollups(session, START, END, CAL, 5, at("2026-04-15 03:00"))
    first = session.scalar(select(func.count(MetricRollup.id)))
    compute_rollups(session, START, END, CAL, 5, at("2026-04-16 03:00"))
    assert session.scalar(select(func.count(MetricRollup.id))) == first


# -- a department's own klämdag ---------------------------------------------------------
# Friday 15 May 2026 (after Ascension Thursday) is a klämdag for kultur only.
KLAM = WorkCalendar(department_closing_days={"kultur": ["2026-05-15"]})
MAY_START, MAY_END = date(2026, 5, 11), date(2026, 5, 22)


@pytest.fixture
def klamdag_fortnight(session, written, phone_call):
    for day in range(11, 23):
        for service in ("bygglov", "bibliotekskort"):  # sbk's and kultur's
            written(f"2026-05-{day:02d} 10:00", f"2026-05-{day + 1:02d} 11:00", service=service)
            written(f"2026-05-{day:02d} 15:00", f"2026-05-{day + 4:02d} 09:00", service=service)
        phone_call(f"2026-05-{day:02d} 09:00", "answered", wait=20, talk=120, service="bibliotekskort")
    session.commit()


def test_a_day_is_settled_only_when_the_departments_deadlines_have_passed_too(session, klamdag_fortnight):
    compute_rollups(session, MAY_START, MAY_END, KLAM, 5, at("2026-05-19 03:00"))
    session.commit()
    query = ReportQuery(MAY_START, MAY_END, as_of=at("2026-06-10 12:00"))
    # Computed Tuesday 19 May 03:00. The city's deadlines of 11–15 May had passed by
    # Monday 18 May 24:00; kultur's contacts of Thursday 14 and Friday 15 (its klämdag)
    # are due only on Tuesday 19 May, so those days are not settled for kultur.
    assert usable_days(session, query, CAL) == [date(2026, 5, d) for d in range(11, 16)]
    assert usable_days(session, query, KLAM) == [date(2026, 5, 11), date(2026, 5, 12), date(2026, 5, 13)]
    assert records(report(session, query, KLAM, 5)) == records(report(session, query, KLAM, 5, use_rollups=False))


@pytest.mark.parametrize("computed", ["2026-05-19 03:00", "2026-06-01 03:00"])
@pytest.mark.parametrize("by", ["", "department", "service,period:day", "department,channel,period:week"])
def test_rollups_equal_on_the_fly_with_department_closing_days(session, klamdag_fortnight, computed, by):
    compute_rollups(session, MAY_START, MAY_END, KLAM, 5, at(computed))
    session.commit()
    dims, period = parse_by(by)
    query = ReportQuery(MAY_START, MAY_END, by=dims, period=period, as_of=at("2026-06-10 12:00"))
    from_rollups = records(report(session, query, KLAM, 5, use_rollups=True))
    on_the_fly = records(report(session, query, KLAM, 5, use_rollups=False))
    assert from_rollups == on_the_fly


def test_rolled_up_rates_differ_between_departments_by_the_klamdag(session, klamdag_fortnight):
    compute_rollups(session, MAY_START, MAY_END, KLAM, 5, at("2026-06-01 03:00"))
    session.commit()
    query = ReportQuery(date(2026, 5, 13), date(2026, 5, 13), by=("department",), as_of=at("2026-06-10 12:00"))
    assert usable_days(session, query, KLAM) == [date(2026, 5, 13)]
    rows = {r["department"]: r for r in records(report(session, query, KLAM, 5))}
    # Wednesday 13 May, replied Thursday 11:00 and Sunday 09:00: the Sunday reply is late
    # for sbk (due Friday 15:00) but in time for kultur (due Monday 15:00).
    assert (rows["sbk"]["responded_within_1wd"], rows["sbk"]["response_within_1wd_rate"]) == (1, 0.5)
    assert (rows["kultur"]["responded_within_1wd"], rows["kultur"]["response_within_1wd_rate"]) == (2, 1.0)
