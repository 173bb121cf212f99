"""kc_resolution_rate as METRICS.md defines it: resolved by the kontaktcenter, never escalated, / tickets."""

from datetime import date

from kontaktcenter.metrics.engine import ReportQuery, parse_by, rate, records
from kontaktcenter.metrics.report import report
from kontaktcenter.tickets.service import resolve
from kontaktcenter.worktime.calendar import WorkCalendar
from tests.fixtures.factories import at


def test_empty_denominator_is_empty_not_zero():
    assert rate(0, 0) is None
    assert rate(1, 3) == 0.3333


def test_resolution_figures_per_service(session, make_contact):
    for i in range(4):
        received = make_contact(service="skolval", arrived_at=at(f"2030-01-1{i} 10:00"))
        if i < 3:
            resolve(session, received.ticket, actor=None)
    escalated = make_contact(service="skolval", arrived_at=at("2030-01-15 10:00")).ticket
    escalated.escalated = True
    resolve(session, escalated, actor=None)
    session.commit()
    query = ReportQuery(date(2030, 1, 1), date(2030, 1, 31), *parse_by("service"))
    (row,) = [r for r in records(report(session, query, WorkCalendar())) if r["service"] == "skolval"]
    assert (row["tickets"], row["resolved_kontaktcenter"], row["resolved_first_contact"], row["escalated"]) == (
        5,
        3,
        3,
        1,
    )
    assert row["kc_resolution_rate"] == 0.6
    assert row["escalation_rate"] == 0.2
