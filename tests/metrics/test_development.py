"""The Service development report (METRICS.md "Service development") on hand-built data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from kontaktcenter.casework import knowledge
from kontaktcenter.casework.models import KnowledgeArticle
from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import ContactReason, Service, User
from kontaktcenter.metrics.development import FIGURE_NAMES, development_report
from kontaktcenter.metrics.engine import Filters, ReportQuery, records
from kontaktcenter.metrics.repeats import same_citizen
from kontaktcenter.tickets.service import resolve
from tests.fixtures.factories import at

MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def rows(session, *, by=(), period=None, start=MARCH[0], end=MARCH[1], **filters):
    query = ReportQuery(start, end, by=by, period=period, filters=Filters(**filters), as_of=at("2026-04-30 12:00"))
    return records(development_report(session, query))


def one(session, **kw):
    (row,) = rows(session, **kw)
    return row


@pytest.fixture
def contact(make_contact, session):
    def make(when: str, service: str = "bygglov", channel: str = "web", key: str | None = None, **kw):
        received = make_contact(channel=channel, service=service, arrived_at=at(when), **kw)
        if key:
            received.contact.citizen_key = key
            session.commit()
        return received.contact

    return make


def reason(session, service: str, code: str) -> ContactReason:
    return session.scalar(
        select(ContactReason).join(Service).where(Service.code == service, ContactReason.code == code)
    )


def test_columns_follow_metrics_md_and_an_empty_period_gives_empty_rates(session):
    row = one(session, start=date(2030, 1, 1), end=date(2030, 1, 31))
    assert list(row) == FIGURE_NAMES
    assert FIGURE_NAMES == [
        "contacts",
        "identified_contacts",
        "repeat_contacts",
        "repeat_rate",
        "reasoned_contacts",
        "failure_demand",
        "failure_demand_rate",
        "kb_answered",
    ]
    assert row["contacts"] == 0
    assert row["repeat_rate"] is None  # 0 denominators: empty, never 0
    assert row["failure_demand_rate"] is None


def test_repeat_contacts_same_citizen_same_service_within_168_hours(session, contact):
    phone = "0701111111"
    contact("2026-03-02 09:00", phone=phone)  # the first: not a repeat
    contact("2026-03-05 09:00", channel="email", phone=phone)  # 3 days later: repeat
    contact("2026-03-12 09:00", phone=phone)  # exactly 168 h after the previous: repeat
    contact("2026-03-06 09:00", service="skolval", phone=phone)  # another service: not a repeat
    contact("2026-03-02 10:00", email="b@example.se")
    contact("2026-03-09 10:01", email="b@example.se")  # 168 h and a minute: not a repeat
    contact("2026-03-03 11:00")  # anonymous: never a repeat, not identified
    contact("2026-03-03 11:05")
    row = one(session, service="bygglov")
    assert row["contacts"] == 7
    assert row["identified_contacts"] == 5
    assert row["repeat_contacts"] == 2
    assert row["repeat_rate"] == 0.4


def test_earlier_contact_before_the_period_counts_and_any_identifier_matches(session, contact):
    contact("2026-02-27 15:00", personnummer="19850709-9805")  # before the period
    contact("2026-03-02 09:00", personnummer="19850709-9805")  # repeat of the February one
    contact("2026-03-10 09:00", phone="0702222222", email="c@example.se")
    contact("2026-03-11 09:00", email="c@example.se")  # shares only the e-mail: repeat
    contact("2026-03-16 09:00", key="K-77")
    contact("2026-03-17 09:00", key="K-77")  # the import's citizen_key: repeat
    row = one(session, service="bygglov")
    assert (row["contacts"], row["identified_contacts"], row["repeat_contacts"]) == (5, 5, 3)
    assert row["repeat_rate"] == 0.6


def test_same_citizen_expression_matches_any_identifier_and_never_missing_ones(session, contact):
    from sqlalchemy.orm import aliased

    first = contact("2026-03-02 09:00", phone="0703333333", email="d@example.se")
    second = contact("2026-03-02 10:00", email="d@example.se")
    anonymous_a = contact("2026-03-02 11:00")
    anonymous_b = contact("2026-03-02 12:00")
    a, b = aliased(Contact), aliased(Contact)

    def matches(x, y) -> bool:
        return bool(session.scalar(select(same_citizen(a, b)).select_from(a).join(b, b.id == y.id).where(a.id == x.id)))

    assert matches(first, second)
    assert not matches(anonymous_a, anonymous_b)  # no identifier: never the same citizen
    assert not matches(first, anonymous_a)


def test_reasoned_contacts_and_failure_demand(session, contact):
    chasing = contact("2026-03-02 09:00")
    other_failure = contact("2026-03-02 10:00")
    value = contact("2026-03-02 11:00")
    contact("2026-03-02 12:00")  # no reason
    session.add(ContactReason(service=chasing.service, code="jaga-beslut", name_sv="Jagar beslut", category="failure"))
    session.flush()
    chasing.reason_id = reason(session, "bygglov", "jaga-beslut").id
    other_failure.reason_id = reason(session, "bygglov", "annat-fel").id
    value.reason_id = reason(session, "bygglov", "annat-varde").id
    session.commit()
    row = one(session, service="bygglov")
    assert (row["contacts"], row["reasoned_contacts"], row["failure_demand"]) == (4, 3, 2)
    assert row["failure_demand_rate"] == 0.6667


def test_kb_answered_counts_kontaktcenter_resolutions_with_an_article_used(session, contact):
    agent = session.scalar(select(User).where(User.username == "agent"))
    article = KnowledgeArticle(
        service=session.scalar(select(Service).where(Service.code == "bygglov")), title="T", body="B"
    )
    session.add(article)
    used = contact("2026-03-02 09:00").ticket
    not_used = contact("2026-03-02 10:00").ticket
    used_not_resolved = contact("2026-03-02 11:00").ticket
    used_escalated = contact("2026-03-02 12:00").ticket
    for ticket in (used, used_not_resolved, used_escalated):
        knowledge.record_use(session, ticket, agent, article)
    used_escalated.escalated = True
    for ticket in (used, not_used, used_escalated):
        if ticket.queue.kind != "first_line":
            pytest.skip("bygglov web contacts are routed to the first line in the Malmö rules")
        resolve(session, ticket, actor=agent, at=ticket.first_arrived_at + timedelta(hours=1))
    session.commit()
    assert one(session, service="bygglov")["kb_answered"] == 1


def test_grouping_by_service_channel_and_month(session, contact):
    contact("2026-03-02 09:00", phone="0704444444")
    contact("2026-03-03 09:00", channel="email", phone="0704444444")
    contact("2026-04-01 09:00", phone="0704444444", service="skolval")
    got = rows(
        session, by=("service", "channel", "period"), period="month", start=date(2026, 3, 1), end=date(2026, 4, 30)
    )
    assert [(r["service"], r["channel"], r["period"], r["contacts"], r["repeat_contacts"]) for r in got] == [
        ("bygglov", "email", "2026-03", 1, 1),
        ("bygglov", "web", "2026-03", 1, 0),
        ("skolval", "web", "2026-04", 1, 0),
    ]
    by_department = rows(session, by=("department",), start=date(2026, 3, 1), end=date(2026, 4, 30))
    assert {r["department"]: r["contacts"] for r in by_department} == {"sbk": 2, "grundskola": 1}


def test_the_report_s_repeat_rule_equals_same_citizen_contact_by_contact(session, contact):
    """repeat_ids (sorting, for speed) gives exactly the contacts is_repeat (same_citizen) names."""
    from kontaktcenter.metrics.engine import period_bounds
    from kontaktcenter.metrics.repeats import is_repeat, repeat_ids

    contact("2026-02-27 15:00", personnummer="19850709-9805")
    contact("2026-03-02 09:00", personnummer="19850709-9805", phone="0706666666")
    contact("2026-03-02 09:00", phone="0706666666")  # the same instant: the later id repeats
    contact("2026-03-10 09:00", phone="0707777777", email="e@example.se")
    contact("2026-03-11 09:00", email="e@example.se", key="K-1")
    contact("2026-03-18 08:59", key="K-1")  # 167 h 59 min after: repeat
    contact("2026-03-19 09:00", service="skolval", key="K-1")
    contact("2026-03-20 09:00")
    lo, hi = period_bounds(*MARCH)
    by_exists = set(
        session.scalars(select(Contact.id).where(Contact.arrived_at >= lo, Contact.arrived_at < hi, is_repeat(Contact)))
    )
    by_sorting = set(session.scalars(select(repeat_ids(lo, hi).c.id)))
    assert by_exists == by_sorting
    assert len(by_sorting) == 4


def test_a_department_report_counts_the_same_repeats_as_the_whole_city_s(session, contact):
    from kontaktcenter.metrics.development import total

    contact("2026-03-02 09:00", phone="0708888888")
    contact("2026-03-03 09:00", phone="0708888888")
    contact("2026-03-03 10:00", service="skolval", phone="0708888888")
    contact("2026-03-04 10:00", service="skolval", phone="0708888888")
    city = rows(session, by=("service",))
    sbk = one(session, department="sbk")
    assert sbk["repeat_contacts"] == next(r for r in city if r["service"] == "bygglov")["repeat_contacts"] == 1
    assert total(city)["repeat_contacts"] == one(session)["repeat_contacts"] == 2
    assert total(city)["repeat_rate"] == one(session)["repeat_rate"] == 0.5
