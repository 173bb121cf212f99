"""Every figure of METRICS.md against hand-computed fixtures."""

from __future__ import annotations

from datetime import date

import pytest

from kontaktcenter.metrics.engine import FIGURE_NAMES, Filters, ReportError, ReportQuery, parse_by, records
from kontaktcenter.metrics.report import report
from kontaktcenter.worktime.calendar import WorkCalendar
from tests.fixtures.factories import at

CAL = WorkCalendar()


def one_row(session, start, end, *, as_of="2027-01-31 12:00", **filters):
    table = report(
        session, ReportQuery(start, end, filters=Filters(**filters), as_of=at(as_of)), CAL, 5, use_rollups=False
    )
    (row,) = records(table)
    return row


def test_phone_figures_with_short_abandon_and_ivr_drop(session, phone_call):
    # Monday 2 March 2026: seven calls, one of them dropped in the IVR.
    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200)
    phone_call("2026-03-02 09:10", "answered", wait=90, talk=100)
    phone_call("2026-03-02 09:20", "abandoned", wait=3)  # short abandon (< 5 s)
    phone_call("2026-03-02 09:30", "abandoned", wait=40)
    phone_call("2026-03-02 09:40", "callback_requested", wait=120, callback_done=True)
    phone_call("2026-03-02 09:50", "callback_requested", wait=60)
    phone_call("2026-03-02 09:55", "ivr_dropped")
    row = one_row(session, date(2026, 3, 2), date(2026, 3, 2), service="skolval")
    assert row["phone_queued"] == 6
    assert row["phone_short_abandoned"] == 1
    assert row["phone_offered"] == 5
    assert row["phone_answered"] == 2
    assert row["callbacks_requested"] == 2
    assert row["callbacks_completed"] == 1
    assert row["phone_abandoned"] == 1
    assert row["answer_rate"] == 0.6  # (2 answered + 1 callback) / 5
    assert row["abandon_rate"] == 0.2
    assert row["service_level"] == 0.2  # only the 30 s call is within 60 s
    assert row["asa_seconds"] == 60.0
    assert row["wait_p90_seconds"] == 84.0  # 30 + 0.9 × (90 − 30)
    assert row["aht_seconds"] == 150.0


def test_short_abandon_threshold_comes_from_config(session, phone_call):
    phone_call("2026-03-03 09:00", "abandoned", wait=3)
    phone_call("2026-03-03 09:05", "abandoned", wait=7)
    q = ReportQuery(
        date(2026, 3, 3), date(2026, 3, 3), filters=Filters(service="skolval"), as_of=at("2026-04-01 00:00")
    )
    (five,) = records(report(session, q, CAL, 5, use_rollups=False))
    (ten,) = records(report(session, q, CAL, 10, use_rollups=False))
    assert (five["phone_short_abandoned"], five["phone_offered"]) == (1, 1)
    assert (ten["phone_short_abandoned"], ten["phone_offered"], ten["abandon_rate"]) == (2, 0, None)


def test_written_answered_next_working_day_at_1459_is_in_time_and_1501_is_late(session, written):
    written("2026-03-02 15:00", "2026-03-03 14:59")
    written("2026-03-02 15:00", "2026-03-03 15:01")
    written("2026-03-02 10:00", None)
    row = one_row(session, date(2026, 3, 2), date(2026, 3, 2), service="bygglov")
    assert (row["written_received"], row["written_due"], row["responded_within_1wd"]) == (3, 3, 1)
    assert row["response_within_1wd_rate"] == 0.3333
    # 23 h 59 min and 24 h 1 min: the median is 24 hours.
    assert row["median_first_response_hours"] == 24.0


def test_friday_afternoon_contact_is_due_monday_same_time(session, written):
    written("2026-03-06 15:00", "2026-03-09 14:59")  # Friday → Monday 15:00
    written("2026-03-06 15:00", "2026-03-09 15:01")
    row = one_row(session, date(2026, 3, 6), date(2026, 3, 6), service="bygglov")
    assert (row["written_due"], row["responded_within_1wd"]) == (2, 1)


def test_contact_on_julafton_counts_from_midnight_of_next_working_day(session, written):
    # Julafton (Thursday) is not a working day; nor are juldagen, annandag jul and the
    # weekend: the contact counts as arriving Monday 28 Dec 00:00, due Tuesday 00:00.
    written("2026-12-24 10:00", "2026-12-28 23:59")
    written("2026-12-24 10:00", "2026-12-29 00:01")
    row = one_row(session, date(2026, 12, 24), date(2026, 12, 24), service="bygglov")
    assert (row["written_due"], row["responded_within_1wd"], row["response_within_1wd_rate"]) == (2, 1, 0.5)


def test_written_not_yet_due_is_not_counted_and_rate_is_empty(session, written):
    written("2026-12-24 10:00", None)
    row = one_row(session, date(2026, 12, 24), date(2026, 12, 24), as_of="2026-12-28 12:00", service="bygglov")
    assert (row["written_received"], row["written_due"]) == (1, 0)
    assert row["response_within_1wd_rate"] is None
    assert row["median_first_response_hours"] is None


def test_walk_in_figures(session, visit):
    visit("2026-03-04 10:00", "served", wait=300)
    visit("2026-03-04 10:05", "served", wait=600)
    visit("2026-03-04 10:10", "left")
    row = one_row(session, date(2026, 3, 4), date(2026, 3, 4), location="filial-rosengard")
    assert (row["walkin_visits"], row["walkin_wait_mean_seconds"], row["walkin_left_unserved"]) == (3, 450.0, 1)


def test_resolution_figures(session, make_contact):
    from kontaktcenter.tickets.service import resolve

    tickets = [make_contact(service="skolval", arrived_at=at(f"2026-03-0{d} 10:00")).ticket for d in (2, 3, 4, 5, 6)]
    resolve(session, tickets[0], actor=None)  # first contact
    resolve(session, tickets[1], actor=None)
    tickets[1].resolution = "kontaktcenter"  # needed a second contact
    tickets[2].escalated = True
    resolve(session, tickets[2], actor=None)  # resolved by the department
    tickets[3].escalated = True
    session.commit()
    row = one_row(session, date(2026, 3, 2), date(2026, 3, 6), service="skolval")
    assert (row["tickets"], row["resolved_first_contact"], row["resolved_kontaktcenter"], row["escalated"]) == (
        5,
        1,
        2,
        2,
    )
    assert (row["fcr_rate"], row["kc_resolution_rate"], row["escalation_rate"]) == (0.2, 0.4, 0.4)


def test_empty_period_has_one_row_with_empty_rates_not_zero(session):
    row = one_row(session, date(2019, 1, 1), date(2019, 1, 31))
    for name in (
        "answer_rate",
        "abandon_rate",
        "service_level",
        "asa_seconds",
        "wait_p90_seconds",
        "aht_seconds",
        "response_within_1wd_rate",
        "median_first_response_hours",
        "walkin_wait_mean_seconds",
        "fcr_rate",
        "kc_resolution_rate",
        "escalation_rate",
    ):
        assert row[name] is None, name
    assert row["phone_queued"] == 0
    assert row["tickets"] == 0
    assert list(row) == FIGURE_NAMES


def test_period_is_local_dates_both_ends_included(session, written):
    written("2026-03-01 00:00", None)  # local midnight = 23:00 UTC the day before
    written("2026-03-31 23:59", None)
    written("2026-04-01 00:00", None)
    row = one_row(session, date(2026, 3, 1), date(2026, 3, 31), service="bygglov")
    assert row["written_received"] == 2


def test_grouping_by_period_uses_local_day_iso_week_and_month(session, written):
    written("2026-03-01 00:30", None)  # Sunday, ISO week 9 in Stockholm (still 28 Feb in UTC)
    written("2026-03-02 10:00", None)  # Monday, week 10
    for kind, expected in (
        ("day", ["2026-03-01", "2026-03-02"]),
        ("week", ["2026-W09", "2026-W10"]),
        ("month", ["2026-03"]),
    ):
        by, period = parse_by(f"service,period:{kind}")
        q = ReportQuery(
            date(2026, 2, 1),
            date(2026, 3, 31),
            by=by,
            period=period,
            filters=Filters(service="bygglov"),
            as_of=at("2026-04-30 00:00"),
        )
        rows = records(report(session, q, CAL, 5, use_rollups=False))
        assert [r["period"] for r in rows] == expected
        assert all(r["service"] == "bygglov" for r in rows)


def test_grouping_by_department_channel_location_language_sorted(session, written, visit):
    written("2026-03-02 10:00", None, language="ar")
    written("2026-03-02 10:00", None, channel="email", service="forskoleplats")
    visit("2026-03-02 11:00", "served", wait=60, location="bibl-stadsbiblioteket")
    by, period = parse_by("language,location,channel,department")
    q = ReportQuery(date(2026, 3, 2), date(2026, 3, 2), by=by, period=period, as_of=at("2026-04-30 00:00"))
    rows = records(report(session, q, CAL, 5, use_rollups=False))
    keys = [(r["department"], r["channel"], r["location"], r["language"]) for r in rows]
    assert keys == [
        ("forskola", "email", "", "sv"),
        ("kultur", "walk_in", "bibl-stadsbiblioteket", "sv"),
        ("sbk", "web", "", "ar"),
    ]
    assert list(rows[0])[:4] == ["department", "channel", "location", "language"]


def test_tickets_grouped_by_the_channel_of_their_first_contact(session, phone_call, written):
    phone_call("2026-03-02 09:00", "answered", wait=10, talk=60, service="bygglov")
    written("2026-03-02 10:00", None)
    by, period = parse_by("channel")
    q = ReportQuery(
        date(2026, 3, 2),
        date(2026, 3, 2),
        by=by,
        period=period,
        filters=Filters(service="bygglov"),
        as_of=at("2026-04-30 00:00"),
    )
    rows = {r["channel"]: r for r in records(report(session, q, CAL, 5, use_rollups=False))}
    assert (rows["phone"]["tickets"], rows["web"]["tickets"]) == (1, 1)


@pytest.mark.parametrize("text", ["colour", "period", "period:year", "service,service", "service:x"])
def test_unknown_grouping_is_refused_with_a_message(text):
    with pytest.raises(ReportError) as info:
        parse_by(text)
    assert "gruppering" in info.value.sv.lower() or "två gånger" in info.value.sv


def test_from_after_to_is_refused(session):
    with pytest.raises(ReportError, match="Från-datumet"):
        report(session, ReportQuery(date(2026, 3, 2), date(2026, 3, 1)), CAL)


def test_vectorised_deadlines_agree_with_the_calendar_for_every_day_of_2026():
    from kontaktcenter.metrics.engine import deadline_rows
    from kontaktcenter.metrics.sqlfuncs import deadline_at

    for day, deadline_day, midnight in deadline_rows(CAL, date(2026, 1, 1), date(2026, 12, 31)):
        for clock in ("00:00", "09:30", "15:00", "23:59"):
            arrived = at(f"{day.isoformat()} {clock}")
            assert deadline_at(arrived, deadline_day, midnight) == CAL.one_working_day_deadline(arrived), arrived


def test_independent_queries_run_side_by_side_on_an_engine_and_give_the_same_frames(app, session):
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from kontaktcenter.database import ENGINE_KEY
    from kontaktcenter.directory.models import Department, Service
    from kontaktcenter.metrics.engine import _frames, query_progress

    statements = [
        select(Department.code, func.count(Service.id).label("services"))
        .join(Service, Service.department_id == Department.id)
        .group_by(Department.code)
        .order_by(Department.code),
        select(func.count(Department.id).label("departments")),
    ]
    ticks = []
    with Session(bind=app.extensions[ENGINE_KEY]) as on_engine, query_progress(lambda: ticks.append(1)):
        side_by_side = _frames(on_engine, statements, [])
    one_by_one = _frames(session, statements, [])
    assert len(ticks) == 2
    for a, b in zip(side_by_side, one_by_one, strict=True):
        assert a.to_dict(orient="records") == b.to_dict(orient="records")
    assert side_by_side[1]["departments"][0] == len(side_by_side[0]) > 3


# -- a department's own klämdag ---------------------------------------------------------
# Friday 15 May 2026 (after Ascension Thursday) is a klämdag for kultur only; sbk works.
KLAM = WorkCalendar(department_closing_days={"kultur": ["2026-05-15"]})


@pytest.fixture
def klamdag_week(written):
    for service in ("bygglov", "bibliotekskort"):  # sbk's and kultur's
        written("2026-05-13 10:00", "2026-05-15 09:00", service=service)  # in time for both: due Fri / Mon 10:00
        written("2026-05-13 10:00", "2026-05-18 09:00", service=service)  # sbk due Fri 10:00; kultur Mon 10:00
        written("2026-05-15 10:00", "2026-05-18 20:00", service=service)  # sbk due Mon 10:00; kultur Tue 00:00


def by_department(session, calendar, as_of="2026-06-01 12:00"):
    q = ReportQuery(date(2026, 5, 13), date(2026, 5, 15), by=("department",), as_of=at(as_of))
    return {r["department"]: r for r in records(report(session, q, calendar, 5, use_rollups=False))}


def test_a_department_klamdag_moves_its_one_working_day_deadline_only(session, klamdag_week):
    rows = by_department(session, KLAM)
    assert (
        rows["sbk"]["written_due"],
        rows["sbk"]["responded_within_1wd"],
        rows["sbk"]["response_within_1wd_rate"],
    ) == (3, 1, 0.3333)
    assert (rows["kultur"]["written_due"], rows["kultur"]["responded_within_1wd"]) == (3, 3)
    assert rows["kultur"]["response_within_1wd_rate"] == 1.0
    # Without kultur's klämdag its contacts are as late as sbk's.
    plain = by_department(session, CAL)
    assert (plain["kultur"]["responded_within_1wd"], plain["kultur"]["response_within_1wd_rate"]) == (1, 0.3333)
    assert plain["sbk"] == rows["sbk"]


def test_a_department_klamdag_decides_when_its_contacts_fall_due(session, klamdag_week):
    # Monday 18 May 12:00: sbk's Friday contact (due Mon 10:00) has fallen due, kultur's
    # (due Tue 00:00) has not; Wednesday's kultur contacts fell due at Mon 10:00.
    rows = by_department(session, KLAM, as_of="2026-05-18 12:00")
    assert (rows["sbk"]["written_received"], rows["sbk"]["written_due"]) == (3, 3)
    assert (rows["kultur"]["written_received"], rows["kultur"]["written_due"]) == (3, 2)


def test_the_late_drill_down_follows_the_department_klamdag(session, klamdag_week):
    from kontaktcenter.metrics.drilldown import drill

    query = ReportQuery(
        date(2026, 5, 13), date(2026, 5, 15), filters=Filters(department="kultur"), as_of=at("2026-06-01 12:00")
    )
    assert drill(session, query, "written_late", KLAM, 5).total == 0
    assert drill(session, query, "written_late", CAL, 5).total == 2
    assert drill(session, query, "responded_within_1wd", KLAM, 5).total == 3


def test_vectorised_deadlines_agree_with_the_calendar_for_a_department_with_klamdagar():
    from kontaktcenter.metrics.engine import department_deadline_rows
    from kontaktcenter.metrics.sqlfuncs import deadline_at

    rows = department_deadline_rows(KLAM, date(2026, 5, 1), date(2026, 6, 30))
    assert {department for department, *_ in rows} == {"", "kultur"}
    for department, day, deadline_day, midnight in rows:
        for clock in ("00:00", "10:00", "23:59"):
            arrived = at(f"{day.isoformat()} {clock}")
            expected = KLAM.one_working_day_deadline(arrived, department or None)
            assert deadline_at(arrived, deadline_day, midnight) == expected, (department, arrived)
