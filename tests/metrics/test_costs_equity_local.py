"""Cost allocation, likvärdighet and lokal service on hand-computed data."""

from __future__ import annotations

from datetime import date

import pytest

from kontaktcenter.metrics.costs import CostConfigError, CostKeys, allocate, cost_allocation, cost_keys
from kontaktcenter.metrics.engine import ReportQuery
from kontaktcenter.metrics.equity import equity
from kontaktcenter.metrics.local_service import local_service
from kontaktcenter.worktime.calendar import WorkCalendar
from tests.fixtures.factories import at

CAL = WorkCalendar()


def test_allocation_splits_base_and_service_parts():
    keys = CostKeys(0.4, {"asf": 0.75, "sbk": 0.25})
    rows = {r["department"]: r for r in allocate(1000.0, keys, {"asf": 10, "sbk": 30})}
    # Base 400 by 75/25; service-based 600 by 10/30 contacts.
    assert (rows["asf"]["base_cost"], rows["asf"]["service_cost"], rows["asf"]["total_cost"]) == (300.0, 150.0, 450.0)
    assert (rows["sbk"]["base_cost"], rows["sbk"]["service_cost"], rows["sbk"]["total_cost"]) == (100.0, 450.0, 550.0)
    assert sum(r["total_cost"] for r in rows.values()) == 1000.0


def test_allocation_without_contacts_has_empty_share():
    rows = allocate(1000.0, CostKeys(0.4, {"asf": 1.0}), {})
    assert rows[0]["contact_share"] is None
    assert rows[0]["base_cost"] == 400.0


def test_bad_cost_keys_are_refused_with_a_message():
    with pytest.raises(CostConfigError, match="add up to 0.9000"):
        cost_keys({"cost_allocation": {"base_share": 0.4, "base_key": {"asf": 0.9}}}, {"asf"})
    with pytest.raises(CostConfigError, match="not in the directory"):
        cost_keys({"cost_allocation": {"base_share": 0.4, "base_key": {"nope": 1}}}, {"asf"})


def test_shipped_base_key_covers_the_catalogue_departments(app):
    from kontaktcenter.directory.catalogue import malmo

    departments = set(malmo().codes("departments"))
    keys = cost_keys(app.config, departments)
    assert set(keys.base_key) == departments


def test_cost_allocation_per_month_from_contacts_handled(app, session, phone_call, written):
    phone_call("2026-03-02 09:00", "answered", wait=5, talk=60, service="bygglov")  # sbk, handled
    phone_call("2026-03-02 09:10", "abandoned", wait=60, service="bygglov")  # not handled
    written("2026-03-02 10:00", None, service="skolval")  # grundskola, handled
    written("2026-04-01 10:00", None, service="skolval")
    query = ReportQuery(date(2026, 3, 1), date(2026, 4, 30), by=("period",), period="month")
    rows = cost_allocation(session, CAL, app.config, query, 1000.0)
    march = {r["department"]: r for r in rows if r["period"] == "2026-03"}
    april = {r["department"]: r for r in rows if r["period"] == "2026-04"}
    assert (march["sbk"]["contacts_handled"], march["grundskola"]["contacts_handled"]) == (1, 1)
    assert march["sbk"]["service_cost"] == 300.0  # half of the 600 service-based part
    assert april["grundskola"]["service_cost"] == 600.0
    assert round(sum(r["total_cost"] for r in march.values()), 2) == 1000.0


def test_equity_compares_each_group_with_everyone_and_marks_small_groups(session, phone_call, make_contact):
    for i in range(30):
        phone_call(f"2026-03-02 09:{i:02d}", "answered", wait=10, talk=60, service="bygglov")
    for i in range(4):
        received = make_contact(
            channel="phone",
            service="bygglov",
            arrived_at=at(f"2026-03-02 10:{i:02d}"),
            language="so",
            needs=["interpreter"],
        )
        received.contact.outcome = "abandoned"
        received.contact.ended_at = at(f"2026-03-02 10:{i:02d}").replace(second=50)
    session.commit()
    query = ReportQuery(date(2026, 3, 2), date(2026, 3, 2))
    result = equity(session, CAL, query, "language")
    rows = {r["group"]: r for r in result["rows"]}
    assert (rows["sv"]["contacts"], rows["sv"]["too_small"]) == (30, False)
    assert (rows["so"]["contacts"], rows["so"]["too_small"]) == (4, True)
    cell = rows["so"]["cells"]["answer_rate"]
    assert (cell.value, cell.everyone, cell.difference, cell.worse) == (0.0, 0.8824, -0.8824, True)
    needs = {r["group"]: r for r in equity(session, CAL, query, "needs")["rows"]}
    assert needs["interpreter"]["contacts"] == 4
    assert needs["none"]["contacts"] == 30


def test_local_service_counts_visits_per_location_and_period(session, visit):
    visit("2026-03-02 10:00", "served", wait=120, location="bibl-stadsbiblioteket")
    visit("2026-03-03 10:00", "served", wait=240, location="bibl-stadsbiblioteket", service="digital-hjalp")
    visit("2026-04-01 10:00", "left", location="filial-rosengard")
    result = local_service(session, CAL, ReportQuery(date(2026, 3, 1), date(2026, 4, 30), period="month"))
    assert result["periods"] == ["2026-03", "2026-04"]
    rows = {r["location"]: r for r in result["rows"]}
    assert rows["bibl-stadsbiblioteket"]["visits"] == [2, 0]
    assert rows["bibl-stadsbiblioteket"]["kind"] == "library"
    assert rows["bibl-stadsbiblioteket"]["wait_mean_seconds"] == 180.0
    assert (rows["filial-rosengard"]["visits"], rows["filial-rosengard"]["left_unserved"]) == ([0, 1], 1)
    assert {(t["service"], t["visits"]) for t in result["topics"]} >= {("utskrift-hjalp", 1), ("digital-hjalp", 1)}


def test_equity_compares_every_rate_and_time_and_never_marks_handling_time(session, phone_call, make_contact):
    from kontaktcenter.metrics.engine import FIGURE_KINDS, FIGURE_NAMES
    from kontaktcenter.metrics.equity import COMPARED

    comparable = [n for n in FIGURE_NAMES if FIGURE_KINDS[n] != "count"]
    assert [name for name, _better in COMPARED] == comparable
    for i in range(30):
        phone_call(f"2026-03-02 09:{i:02d}", "answered", wait=10, talk=60, service="bygglov")
    for i in range(30):
        received = make_contact(
            channel="phone", service="bygglov", arrived_at=at(f"2026-03-02 11:{i:02d}"), language="ar"
        )
        received.contact.outcome = "answered"
        received.contact.answered_at = at(f"2026-03-02 11:{i:02d}").replace(second=40)
        received.contact.ended_at = at(f"2026-03-02 11:{i:02d}").replace(second=40) + __import__("datetime").timedelta(
            seconds=300
        )
    session.commit()
    rows = {
        r["group"]: r for r in equity(session, CAL, ReportQuery(date(2026, 3, 2), date(2026, 3, 2)), "language")["rows"]
    }
    arabic = rows["ar"]["cells"]
    # Arabic speakers waited 40 s against 25 s for everyone: 60 % longer, a gap.
    assert (arabic["asa_seconds"].value, arabic["asa_seconds"].everyone, arabic["asa_seconds"].difference) == (
        40.0,
        25.0,
        15.0,
    )
    assert arabic["asa_seconds"].worse
    assert arabic["service_level"].difference == 0.0
    assert not arabic["service_level"].worse
    # Longer calls (an interpreter, a harder errand) are not marked as worse service.
    assert arabic["aht_seconds"].difference == 120.0
    assert not arabic["aht_seconds"].worse
    assert not rows["sv"]["cells"]["asa_seconds"].worse


def test_local_service_shows_topics_over_time_and_location_kinds(session, visit):
    visit("2026-03-02 10:00", "served", wait=120, location="bibl-stadsbiblioteket")
    visit("2026-03-03 10:00", "served", wait=240, location="bibl-stadsbiblioteket", service="digital-hjalp")
    visit("2026-04-01 10:00", "left", location="filial-rosengard")
    result = local_service(session, CAL, ReportQuery(date(2026, 3, 1), date(2026, 4, 30), period="month"))
    topics = {t["service"]: (t["visits"], t["total"]) for t in result["topic_periods"]}
    assert topics == {"utskrift-hjalp": ([1, 1], 2), "digital-hjalp": ([1, 0], 1)}
    assert dict(result["kinds"]) == {"library": [2, 0], "branch": [0, 1]}


def test_coordinator_sees_knowledge_beside_first_contact_resolution(session, make_contact):
    from sqlalchemy import select

    from kontaktcenter.casework.models import KnowledgeArticle
    from kontaktcenter.directory.models import Department, Service
    from kontaktcenter.metrics.coordinator import coordinator_view
    from kontaktcenter.tickets.service import resolve

    resolve(session, make_contact(service="bygglov", arrived_at=at("2026-03-02 10:00")).ticket, actor=None)
    make_contact(service="bygglov", arrived_at=at("2026-03-02 11:00"))
    service = session.scalar(select(Service).where(Service.code == "bygglov"))
    session.add(KnowledgeArticle(service=service, title="Behöver jag bygglov för altan?", body="Oftast inte …"))
    session.commit()
    department = session.get(Department, service.department_id)
    view = coordinator_view(
        session, CAL, department, ReportQuery(date(2026, 3, 1), date(2026, 3, 31), as_of=at("2026-04-01 12:00"))
    )
    rows = {k["service"]: k for k in view["knowledge"]}
    bygglov = rows["bygglov"]
    assert (bygglov["tickets"], bygglov["resolved_first_contact"], bygglov["fcr_rate"]) == (2, 1, 0.5)
    assert "Behöver jag bygglov för altan?" in [a["title"] for a in bygglov["articles"]]
    assert view["knowledge"][0]["service"] == "bygglov"  # services with tickets first
    assert all(k["tickets"] == 0 for k in view["knowledge"][1:])
