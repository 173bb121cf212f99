"""The switchboard figures (METRICS.md), from a hand-computed fixture of rows.

Rows (Stockholm time, March 2026):

  calls: A allmant 03-02, B allmant 03-03, C skolval 03-03, D bygglov 03-04 (all phone)
  switchboard_requests: A speech connected 03-02; B digit not connected 03-03;
                        B2 (on A) agent connected 03-03; D speech connected 04-01 (outside)
  call_offers: C missed 03-03, C answered 03-03, B withdrawn 03-03, D missed 03-04
  call_transfers: C person answered 03-03, C queue not answered 03-03, D external answered 03-04

By hand, 2026-03-01..2026-03-31:
  allmant: switchboard_calls 3 (A, B, B2), connected 2 → rate 0.6667;
           offers 1 (B), missed 0 → 0.0; transfers 0
  bygglov: calls 0 → rate empty; offers 1, missed 1 → 1.0; transfers 1, completed 1
  skolval: calls 0; offers 2, missed 1 → 0.5; transfers 2, completed 1
  total:   calls 3, connected 2, 0.6667; transfers 3, completed 2; offers 4, missed 2, 0.5
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from kontaktcenter.contacts.calls import CallOffer, CallTransfer
from kontaktcenter.metrics.engine import ReportQuery, records
from kontaktcenter.metrics.switchboard import FIGURE_NAMES, switchboard_report
from kontaktcenter.switchboard.models import SwitchboardRequest
from tests.fixtures.factories import at

MARCH = ReportQuery(date(2026, 3, 1), date(2026, 3, 31))


@pytest.fixture
def rows(make_contact, make_user, session):
    def call(service: str, arrived: str):
        return make_contact(channel="phone", service=service, arrived_at=at(arrived)).contact

    agent = make_user("agent")
    a, b = call("allmant", "2026-03-02 09:00"), call("allmant", "2026-03-03 09:00")
    c, d = call("skolval", "2026-03-03 10:00"), call("bygglov", "2026-03-04 11:00")

    def request(contact, moment, via, connected):
        t = at(moment)
        session.add(
            SwitchboardRequest(
                contact_id=contact.id, at=t, via=via, connected_at=t + timedelta(seconds=20) if connected else None
            )
        )

    request(a, "2026-03-02 09:00", "speech", True)
    request(b, "2026-03-03 09:00", "digit", False)
    request(a, "2026-03-03 12:00", "agent", True)
    request(d, "2026-04-01 09:00", "speech", True)

    def offer(contact, moment, result):
        t = at(moment)
        session.add(
            CallOffer(
                contact_id=contact.id,
                user_id=agent.id,
                offered_at=t,
                expires_at=t + timedelta(seconds=15),
                result=result,
            )
        )

    offer(c, "2026-03-03 10:00", "missed")
    offer(c, "2026-03-03 10:01", "answered")
    offer(b, "2026-03-03 09:01", "withdrawn")
    offer(d, "2026-03-04 11:00", "missed")

    def transfer(contact, moment, kind, answered):
        t = at(moment)
        session.add(
            CallTransfer(
                contact_id=contact.id,
                user_id=agent.id,
                at=t,
                kind=kind,
                number="+46403410001",
                answered_at=t + timedelta(seconds=10) if answered else None,
            )
        )

    transfer(c, "2026-03-03 10:05", "person", True)
    transfer(c, "2026-03-03 10:06", "queue", False)
    transfer(d, "2026-03-04 11:05", "external", True)
    session.commit()


def test_the_figures_for_the_whole_period_are_as_computed_by_hand(session, rows):
    (row,) = records(switchboard_report(session, MARCH))
    assert row == {
        "switchboard_calls": 3,
        "switchboard_connected": 2,
        "switchboard_connect_rate": 0.6667,
        "transfers": 3,
        "transfers_completed": 2,
        "offers": 4,
        "offers_missed": 2,
        "offer_miss_rate": 0.5,
    }


def test_the_figures_per_service_are_as_computed_by_hand(session, rows):
    table = records(switchboard_report(session, ReportQuery(MARCH.start, MARCH.end, by=("service",))))
    by = {r["service"]: r for r in table}
    assert list(by) == ["allmant", "bygglov", "skolval"]
    assert by["allmant"] == {
        "service": "allmant",
        "switchboard_calls": 3,
        "switchboard_connected": 2,
        "switchboard_connect_rate": 0.6667,
        "transfers": 0,
        "transfers_completed": 0,
        "offers": 1,
        "offers_missed": 0,
        "offer_miss_rate": 0.0,
    }
    assert by["bygglov"]["switchboard_connect_rate"] is None  # no calls: empty, never 0
    assert (by["bygglov"]["offers"], by["bygglov"]["offers_missed"], by["bygglov"]["offer_miss_rate"]) == (1, 1, 1.0)
    assert (by["bygglov"]["transfers"], by["bygglov"]["transfers_completed"]) == (1, 1)
    assert (by["skolval"]["offers"], by["skolval"]["offers_missed"], by["skolval"]["offer_miss_rate"]) == (2, 1, 0.5)
    assert (by["skolval"]["transfers"], by["skolval"]["transfers_completed"]) == (2, 1)


def test_the_figures_per_day_follow_each_records_own_moment(session, rows):
    table = records(switchboard_report(session, ReportQuery(MARCH.start, MARCH.end, by=("period",), period="day")))
    by = {r["period"]: r for r in table}
    assert by["2026-03-02"]["switchboard_calls"] == 1
    assert by["2026-03-03"]["switchboard_calls"] == 2
    assert by["2026-03-03"]["offers"] == 3
    assert by["2026-03-04"]["transfers"] == 1


def test_an_empty_period_has_empty_rates(session, rows):
    (row,) = records(switchboard_report(session, ReportQuery(date(2026, 2, 1), date(2026, 2, 28))))
    assert row["switchboard_calls"] == 0
    assert row["switchboard_connect_rate"] is None
    assert row["offer_miss_rate"] is None


def test_the_cli_report_set_switchboard(runner, session, rows):
    result = runner.invoke(
        args=[
            "report",
            "--set",
            "switchboard",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--by",
            "service",
            "--format",
            "csv",
        ]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "service," + ",".join(FIGURE_NAMES)
    assert lines[1] == "allmant,3,2,0.6667,0,0,1,0,0.0000"
    result = runner.invoke(
        args=["report", "--set", "switchboard", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["set"] == "switchboard"
    assert document["rows"][0]["switchboard_calls"] == 3
    assert document["rows"][0]["offer_miss_rate"] == 0.5
