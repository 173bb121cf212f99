"""The service-development page, the department quarter report, and their commands."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from sqlalchemy import select

from kontaktcenter.casework.models import Escalation
from kontaktcenter.directory.models import ContactReason, Queue, Service, User
from kontaktcenter.metrics.development import FIGURE_NAMES
from kontaktcenter.metrics.labels import format_kronor as kronor
from kontaktcenter.metrics.quarter import parse_quarter
from tests.fixtures.factories import at


def _reason(session, service: str, code: str) -> ContactReason:
    return session.scalar(
        select(ContactReason).join(Service).where(Service.code == service, ContactReason.code == code)
    )


@pytest.fixture
def development_history(session, make_contact):
    """Q3 2026 (and Q3 2025): bygglov (sbk) with reasons and a repeat; försörjningsstöd (asf)."""
    chase = _reason(session, "bygglov", "status-arende")
    chase.category = "failure"
    first = make_contact(service="bygglov", phone="0705555555", arrived_at=at("2026-08-03 09:00")).contact
    again = make_contact(channel="email", service="bygglov", phone="0705555555", arrived_at=at("2026-08-04 09:00"))
    first.reason_id = chase.id
    again.contact.reason_id = chase.id
    make_contact(service="bygglov", arrived_at=at("2025-08-04 09:00"))  # last year
    asf = make_contact(service="forsorjningsstod", arrived_at=at("2026-08-05 09:00")).contact
    asf.reason_id = _reason(session, "forsorjningsstod", "annat-varde").id
    # An escalation the department sent back, with its reason.
    ticket = again.ticket
    agent = session.scalar(select(User).where(User.username == "agent"))
    session.add(
        Escalation(
            ticket_id=ticket.id,
            department_id=session.scalar(select(Service).where(Service.code == "bygglov")).department_id,
            from_queue_id=session.scalar(select(Queue.id).where(Queue.code == "kc-forsta-linjen")),
            to_queue_id=session.scalar(select(Queue.id).where(Queue.code == "sbk-bygglov")),
            citizen_wants="Status",
            created_by_id=agent.id,
            created_at=at("2026-08-04 10:00"),
            returned_at=at("2026-08-04 12:00"),
            return_reason="Kontaktcenter kan svara på status själv.",
        )
    )
    session.commit()


Q3 = {"start": "2026-07-01", "end": "2026-09-30"}


def test_development_page_for_a_manager_shows_figures_reasons_and_returned_escalations(
    client, auth, development_history
):
    auth.login("chef")
    page = client.get("/reports/utveckling", query_string=Q3)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Återkontakter inom 7 dagar" in html
    assert "Frågar hur det går med sitt ärende" in html  # the reason's name, with its category
    assert "Sviktefterfrågan" in html
    assert "Kontaktcenter kan svara på status själv." in html
    assert "Försörjningsstöd (ekonomiskt bistånd)" in html


def test_development_page_for_a_coordinator_shows_only_their_department(client, auth, development_history):
    auth.login("samordnare")  # asf
    html = client.get("/reports/utveckling", query_string={**Q3, "department": "sbk"}).get_data(as_text=True)
    assert "Försörjningsstöd (ekonomiskt bistånd)" in html
    assert "Bygglov</th>" not in html  # the filter cannot widen a coordinator's view
    assert "Kontaktcenter kan svara på status själv." not in html


def test_quarter_report_for_a_department(client, auth, development_history):
    auth.login("chef")
    page = client.get("/reports/kvartal", query_string={"department": "sbk", "quarter": "2026-Q3", "cost": "720000"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Kvartalsrapport 2026-Q3: Stadsbyggnadskontoret" in html
    assert "2025-Q3" in html  # the trend against the same quarter last year
    assert "Tillgänglighet mot målen" in html
    assert "720\u00a0000\u00a0kr" in html  # Swedish amounts, names not codes
    assert "Andel av kontaktcentrets kostnad" in html


def test_quarter_report_print_view_is_the_report_alone(client, auth, development_history):
    auth.login("chef")
    args = {"department": "sbk", "quarter": "2026-Q3", "cost": "720000"}
    screen = client.get("/reports/kvartal", query_string=args).get_data(as_text=True)
    assert "Utskriftsvy" in screen
    assert "<form" in screen
    printed = client.get("/reports/kvartal", query_string={**args, "print": "1"}).get_data(as_text=True)
    assert "Kvartalsrapport 2026-Q3: Stadsbyggnadskontoret" in printed
    assert "Underlag per" in printed
    assert "Källa:" in printed
    assert "<form" not in printed
    assert "<nav" not in printed
    assert "Tillbaka till sidan" in printed


def test_quarter_report_attack_coordinator_cannot_see_another_department(client, auth, development_history):
    auth.login("samordnare")  # asf
    other = client.get("/reports/kvartal", query_string={"department": "sbk", "quarter": "2026-Q3"})
    missing = client.get("/reports/kvartal", query_string={"department": "finns-inte", "quarter": "2026-Q3"})
    assert other.status_code == missing.status_code == 404
    assert "Bygglov" not in other.get_data(as_text=True)
    own = client.get("/reports/kvartal", query_string={"department": "asf", "quarter": "2026-Q3"})
    assert own.status_code == 200
    assert "Försörjningsstöd (ekonomiskt bistånd)" in own.get_data(as_text=True)


def test_quarter_report_refuses_a_bad_quarter(client, auth):
    auth.login("chef")
    bad = client.get("/reports/kvartal", query_string={"department": "sbk", "quarter": "2026-Q5"})
    assert bad.status_code == 400
    assert "ÅÅÅÅ-QN" in bad.get_data(as_text=True)


def test_quarter_helpers():
    assert parse_quarter("2026-q3") == (date(2026, 7, 1), date(2026, 9, 30))
    assert parse_quarter("2026-Q4") == (date(2026, 10, 1), date(2026, 12, 31))
    assert kronor(72000.0) == "72\u00a0000\u00a0kr"
    assert kronor(None) == "–"


def test_cli_development_csv_and_json(runner, development_history, tmp_path):
    result = runner.invoke(
        args=["report", "--set", "development", "--from", "2026-07-01", "--to", "2026-09-30", "--by", "service"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["service", *FIGURE_NAMES]
    bygglov = next(r for r in rows if r["service"] == "bygglov")
    assert (bygglov["contacts"], bygglov["repeat_contacts"], bygglov["repeat_rate"]) == ("2", "1", "0.5000")
    assert (bygglov["failure_demand"], bygglov["failure_demand_rate"]) == ("2", "1.0000")
    out = tmp_path / "d.json"
    result = runner.invoke(
        args=[
            "report", "--set", "development", "--from", "2026-07-01", "--to", "2026-09-30",
            "--format", "json", "--as-of", "2026-10-01T08:00", "-o", str(out),
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["set"] == "development"
    assert data["as_of"] == "2026-10-01T08:00:00+02:00"
    assert data["rows"][0]["contacts"] == 3


def test_cli_quarter_json_and_html(runner, development_history, tmp_path):
    result = runner.invoke(
        args=["report", "--set", "quarter", "--department", "sbk", "--quarter", "2026-Q3", "--cost", "720000"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["department"], data["quarter"], data["last_year"]) == ("Stadsbyggnadskontoret", "2026-Q3", "2025-Q3")
    assert data["contacts"] == 2
    assert data["development"]["repeat_contacts"] == 1
    assert data["cost"]["department"] == "sbk"
    out = tmp_path / "q.html"
    result = runner.invoke(
        args=[
            "report",
            "--set",
            "quarter",
            "--department",
            "sbk",
            "--quarter",
            "2026-Q3",
            "--format",
            "html",
            "-o",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Kvartalsrapport 2026-Q3: Stadsbyggnadskontoret" in out.read_text(encoding="utf-8")
    unknown = runner.invoke(args=["report", "--set", "quarter", "--department", "nope", "--quarter", "2026-Q3"])
    assert unknown.exit_code != 0
    assert "Okänd förvaltning" in unknown.output
