"""Daily rollups give exactly the on-the-fly figures; the nightly job is registered."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from kontaktcenter.metrics.engine import Filters, ReportQuery, parse_by, records, report
from kontaktcenter.metrics.models import MetricRollup, MetricRollupDay
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
        visit(f"{d} 11:00", "served" if day % 5 else "left", wait=200 + day, location="bibl-stadsbiblioteket" if day % 2 else "filial-rosengard")
        received = make_contact(service="skolval", arrived_at=at(f"{d} 13:00"))
        if day % 2:
            resolve(session, received.ticket, actor=None)
    session.commit()


GROUPINGS = ["", "service", "service,period:month", "department,period:week", "channel,location,language,period:day", "language"]


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
    assert session.scalar(select(func.sum(MetricRollup.phone_queued)).where(MetricRollup.day.between(START, END))) == 14 * 3


def test_rerun_replaces_rows_and_never_duplicates(session, fortnight):
    compute_rollups(session, START, END, CAL, 5, at("2026-04-15 03:00"))
    first = session.scalar(select(func.count(MetricRollup.id)))
    compute_rollups(session, START, END, CAL, 5, at("2026-04-16 03:00"))
    assert session.scalar(select(func.count(MetricRollup.id))) == first
