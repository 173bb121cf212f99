"""Dirty days and repeat contacts: past days' changes reach the report, and a citizen's
later contact on the same service within 7 days takes a ticket out of first-contact resolution."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import delete, select

from kontaktcenter.history.write import HistoryRow, write_history
from kontaktcenter.metrics.engine import ReportQuery, records
from kontaktcenter.metrics.models import MetricDirtyDay
from kontaktcenter.metrics.report import report
from kontaktcenter.metrics.rollups import compute_rollups, rollup_job, usable_days
from kontaktcenter.tickets.models import Ticket
from kontaktcenter.tickets.service import resolve
from kontaktcenter.worktime.calendar import WorkCalendar
from tests.fixtures.factories import at

CAL = WorkCalendar()
JAN = (date(2026, 1, 1), date(2026, 1, 31))
JOB_AT = at("2026-03-20 02:30")
AS_OF = at("2026-03-20 12:00")


def _row(n: int, arrived: str, *, service="skolval", key=None, resolved: str | None = None) -> HistoryRow:
    return HistoryRow(
        external_id=f"dirty-{n}",
        channel="web",
        service_code=service,
        arrived_at=at(arrived),
        first_response_at=at(arrived) + timedelta(hours=1),
        resolution="first_contact" if resolved else "unresolved",
        resolved_at=at(resolved) if resolved else None,
        citizen_key=key,
    )


def _one(session, *, use_rollups: bool, by=(), period=None) -> list[dict]:
    query = ReportQuery(*JAN, by=by, period=period, as_of=AS_OF)
    return records(report(session, query, CAL, 5, use_rollups=use_rollups))


def _marked(session) -> set[date]:
    return set(session.scalars(select(MetricDirtyDay.day)))


def test_import_into_rolled_up_days_is_counted(app, session):
    write_history(session, [_row(i, "2026-01-12 10:00") for i in range(3)])
    with app.app_context():
        rollup_job(session, JOB_AT)
    session.commit()
    assert _marked(session) == set()
    assert _one(session, use_rollups=True)[0]["tickets"] == 3

    # More history for the same day, after its rollup: marked in the import's transaction.
    write_history(session, [_row(10 + i, "2026-01-12 14:00") for i in range(4)])
    session.commit()
    assert _marked(session) == {date(2026, 1, 12)}
    assert date(2026, 1, 12) not in usable_days(session, ReportQuery(*JAN, as_of=AS_OF), CAL)
    assert _one(session, use_rollups=True)[0]["tickets"] == 7
    assert _one(session, use_rollups=True, by=("period",), period="day") == _one(
        session, use_rollups=False, by=("period",), period="day"
    )

    with app.app_context():
        rollup_job(session, JOB_AT)
    session.commit()
    assert _marked(session) == set()
    assert date(2026, 1, 12) in usable_days(session, ReportQuery(*JAN, as_of=AS_OF), CAL)
    assert _one(session, use_rollups=True)[0]["tickets"] == 7


def test_a_resolution_months_later_marks_the_tickets_day(app, session):
    write_history(session, [_row(1, "2026-01-07 09:00")])
    with app.app_context():
        rollup_job(session, JOB_AT)
    session.commit()
    ticket = session.scalar(select(Ticket).where(Ticket.reference.isnot(None)).order_by(Ticket.id.desc()))
    resolve(session, ticket, actor=None, at=at("2026-03-15 10:00"))  # 67 days after it arrived
    session.commit()
    assert _marked(session) == {date(2026, 1, 7)}
    assert _one(session, use_rollups=True)[0]["kc_resolution_rate"] == 1.0
    # The job recomputes the day, however old; no fixed window.
    with app.app_context():
        rollup_job(session, at("2026-06-01 02:30"))
    session.commit()
    assert _marked(session) == set()
    query = ReportQuery(*JAN, as_of=at("2026-06-01 12:00"))
    assert date(2026, 1, 7) in usable_days(session, query, CAL)
    assert records(report(session, query, CAL, 5))[0]["kc_resolution_rate"] == 1.0


def test_a_mark_written_while_the_rollups_are_computed_survives(app, session, monkeypatch):
    write_history(session, [_row(1, "2026-01-08 09:00")])
    session.commit()
    # This test's marks: on a shared PostgreSQL database other tests' committed marks (for
    # other days, which the computation below must leave alone) may be in the table too.
    marks = set(session.scalars(select(MetricDirtyDay.id).where(MetricDirtyDay.day == date(2026, 1, 8))))
    assert marks

    # Another transaction marks the day after the job has read the marks: simulated by
    # adding the mark from inside the computation (after the read, before the delete).
    from kontaktcenter.metrics import rollups

    original = rollups.merge_counts

    written = []

    def merge_and_mark(*args, **kw):
        if not written:  # once: the computation may merge more than one frame
            mark = MetricDirtyDay(day=date(2026, 1, 8), service_id=None, marked_at=AS_OF)
            session.add(mark)
            session.flush()
            written.append(mark.id)
        return original(*args, **kw)

    monkeypatch.setattr(rollups, "merge_counts", merge_and_mark)
    compute_rollups(session, date(2026, 1, 8), date(2026, 1, 8), CAL, 5, JOB_AT)
    left = set(session.scalars(select(MetricDirtyDay.id)))
    assert written[0] in left
    assert not left & marks
    assert date(2026, 1, 8) not in usable_days(session, ReportQuery(*JAN, as_of=AS_OF), CAL)


def test_repeat_contact_within_seven_days_is_not_first_contact_resolution(app, session):
    rows = [
        _row(1, "2026-01-05 09:00", key="anna", resolved="2026-01-05 09:30"),
        _row(2, "2026-01-06 09:00", key="bo", resolved="2026-01-06 09:30"),
        _row(3, "2026-01-07 09:00", key="cem", resolved="2026-01-07 09:30"),
        _row(4, "2026-01-08 09:00", key=None, resolved="2026-01-08 09:30"),
        _row(5, "2026-01-09 09:00", key="dana", resolved="2026-01-09 09:30"),
    ]
    write_history(session, rows)
    with app.app_context():
        rollup_job(session, JOB_AT)
    session.commit()
    assert _one(session, use_rollups=True)[0]["resolved_first_contact"] == 5

    later = [
        _row(11, "2026-01-12 09:29", key="anna"),  # 6 days 23:59 after anna's resolution: a repeat
        _row(12, "2026-01-13 09:31", key="bo"),  # 7 days and a minute after bo's: not
        _row(13, "2026-01-08 10:00", key="cem", service="bygglov"),  # another service: not
        _row(14, "2026-01-08 10:00", key=None),  # no identifier: never a repeat
        _row(15, "2026-01-09 09:00", key="dana"),  # before dana's resolution: not a repeat
    ]
    write_history(session, later)
    session.commit()
    # The earlier ticket's day is marked with the new contact's own.
    assert {date(2026, 1, 5)} <= _marked(session)
    by_day = {r["period"]: r for r in _one(session, use_rollups=True, by=("period",), period="day")}
    assert by_day["2026-01-05"]["resolved_first_contact"] == 0
    assert by_day["2026-01-05"]["resolved_kontaktcenter"] == 1
    assert [by_day[f"2026-01-0{d}"]["resolved_first_contact"] for d in (6, 7, 8, 9)] == [1, 1, 1, 1]
    assert by_day == {r["period"]: r for r in _one(session, use_rollups=False, by=("period",), period="day")}


def test_repeat_by_phone_through_the_intake(app, session, make_contact):
    first = make_contact(channel="web", service="skolval", phone="+46701112233", arrived_at=at("2026-01-14 10:00"))
    resolve(session, first.ticket, actor=None, at=at("2026-01-14 10:05"))
    session.commit()
    with app.app_context():
        rollup_job(session, JOB_AT)
    session.commit()
    assert _one(session, use_rollups=True, by=("service",))[0]["resolved_first_contact"] == 1
    make_contact(channel="web", service="skolval", phone="+46701112233", arrived_at=at("2026-01-16 08:00"))
    # The ticket it repeats (a known citizen's), and its own past day with its new ticket's.
    assert {date(2026, 1, 14), date(2026, 1, 16)} <= _marked(session)
    row = _one(session, use_rollups=True, by=("service",))[0]
    assert row["resolved_first_contact"] == 0
    assert _one(session, use_rollups=False, by=("service",)) == _one(session, use_rollups=True, by=("service",))


def test_a_new_citizens_contact_marks_its_own_past_day_and_nothing_it_cannot_repeat(app, session, make_contact):
    """The intake marks only where a mark can follow (metrics.dirty.mark_new_contacts): a
    citizen with no earlier ticket repeats none, so only the contact's own day is marked."""
    session.execute(delete(MetricDirtyDay))  # what earlier tests left
    make_contact(channel="web", service="skolval", phone="+46701119999", arrived_at=at("2026-01-20 08:00"))
    assert _marked(session) == {date(2026, 1, 20)}
    session.execute(delete(MetricDirtyDay))
    make_contact(channel="web", service="skolval", email="ny@example.se")  # arriving now: today is never marked
    assert _marked(session) == set()


def test_deleting_a_contact_marks_its_day(app, session):
    write_history(session, [_row(1, "2026-01-20 09:00")])
    with app.app_context():
        rollup_job(session, JOB_AT)
    session.commit()
    ticket = session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    session.delete(ticket.contacts[0])
    session.commit()
    assert _marked(session) == {date(2026, 1, 20)}
    assert _one(session, use_rollups=True) == _one(session, use_rollups=False)
    assert _one(session, use_rollups=True)[0]["written_received"] == 0


def test_correcting_a_citizens_number_marks_the_tickets_it_repeated_before_and_after(app, session, make_contact):
    # Rättelse of a contact's phone: the earlier ticket of the old number is no longer repeated,
    # that of the new number now is; both their days, and the contact's own, change.
    anna = make_contact(channel="web", service="skolval", phone="+46701110001", arrived_at=at("2026-01-13 10:00"))
    bo = make_contact(channel="web", service="skolval", phone="+46701110002", arrived_at=at("2026-01-14 10:00"))
    resolve(session, anna.ticket, actor=None, at=at("2026-01-13 10:05"))
    resolve(session, bo.ticket, actor=None, at=at("2026-01-14 10:05"))
    later = make_contact(
        channel="web", service="skolval", phone="+46701110001", arrived_at=at("2026-01-16 08:00")
    ).contact
    session.commit()
    with app.app_context():
        rollup_job(session, JOB_AT)
    session.commit()
    assert _marked(session) == set()
    assert _one(session, use_rollups=True)[0]["resolved_first_contact"] == 1  # bo's; anna's was repeated

    later.citizen_phone = "+46701110002"
    session.commit()
    assert _marked(session) == {date(2026, 1, 13), date(2026, 1, 14), date(2026, 1, 16)}
    assert _one(session, use_rollups=True)[0]["resolved_first_contact"] == 1  # now anna's
    by_day = {r["period"]: r for r in _one(session, use_rollups=True, by=("period",), period="day")}
    assert by_day == {r["period"]: r for r in _one(session, use_rollups=False, by=("period",), period="day")}


def test_a_calls_late_outcome_marks_only_its_own_and_its_tickets_day(app, session, make_contact):
    # A Twilio status that arrives after the rollup (a call's end, a changed outcome) does not
    # change which tickets the call repeats: its own day is marked, no earlier ticket's.
    earlier = make_contact(channel="web", service="skolval", phone="+46701110003", arrived_at=at("2026-01-12 10:00"))
    resolve(session, earlier.ticket, actor=None, at=at("2026-01-12 10:05"))
    call = make_contact(
        channel="phone", service="skolval", phone="+46701110003", arrived_at=at("2026-01-15 09:00")
    ).contact
    session.commit()
    with app.app_context():
        rollup_job(session, JOB_AT)
    session.commit()

    call.ended_at = at("2026-01-15 09:04")
    call.outcome = "abandoned"
    session.commit()
    assert _marked(session) == {date(2026, 1, 15)}
    assert _one(session, use_rollups=True) == _one(session, use_rollups=False)
