"""The /reports pages: roles, filters with clear messages, drill-down, exports."""
from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from kontaktcenter.metrics.engine import FIGURE_NAMES

PERIOD = {"start": "2026-03-02", "end": "2026-03-06"}


@pytest.fixture
def history(session, phone_call, written, visit, make_contact):
    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200, service="bygglov")
    phone_call("2026-03-02 09:20", "abandoned", wait=40, service="bygglov")
    written("2026-03-02 15:00", "2026-03-03 14:59")
    visit("2026-03-03 10:00", "served", wait=300)
    # A confidential errand (försörjningsstöd): counted, never listed.
    make_contact(channel="web", service="forsorjningsstod", arrived_at=__import__("tests.fixtures.factories", fromlist=["at"]).at("2026-03-04 10:00"))
    session.commit()


@pytest.mark.parametrize("path", ["/reports", "/reports/likvardighet", "/reports/lokal-service", "/reports/bemanning", "/reports/kostnader", "/reports/samordnare"])
def test_report_pages_are_for_managers_coordinators_and_admins(client, auth, path):
    assert client.get(path).status_code == 302  # to the sign-in page
    auth.login("agent")
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login("chef")
    assert client.get(path).status_code == 200


def test_dashboard_shows_key_figures_charts_and_tables(client, auth, history):
    auth.login("chef")
    page = client.get("/reports", query_string=PERIOD).get_data(as_text=True)
    assert "Besvarandegrad" in page
    assert "answer_rate" in page
    assert page.count("<svg") == 4
    assert page.count("<table") >= 4  # every chart has its data table
    assert "50,0 %" in page  # answer_rate: 1 answered of 2 offered


def test_bad_filters_get_a_clear_message_and_400(client, auth):
    auth.login("chef")
    response = client.get("/reports", query_string={"start": "2026-03-10", "end": "2026-03-01", "service": "nope"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Till-datumet ligger före från-datumet." in page
    assert "Okänt värde: nope" in page
    english = client.get("/reports", query_string={"start": "2026-13-10", "lang": "en"}).get_data(as_text=True)
    assert "Not a valid date value" in english or "valid date" in english.lower()


def test_drill_down_lists_tickets_but_only_counts_confidential_ones(client, auth, history):
    auth.login("chef")
    page = client.get("/reports/drill", query_string={**PERIOD, "figure": "written_received"}).get_data(as_text=True)
    assert "2 ärenden, varav 1 med sekretess" in page
    assert page.count("/tickets/KC-") == 1


def test_csv_export_has_metrics_columns_in_order(client, auth, history):
    auth.login("chef")
    response = client.get("/reports/export", query_string={**PERIOD, "format": "csv", "by": "service,period:day"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["service", "period", *FIGURE_NAMES]
    bygglov = [r for r in rows[1:] if r[0] == "bygglov" and r[1] == "2026-03-02"][0]
    record = dict(zip(rows[0], bygglov, strict=True))
    assert record["answer_rate"] == "0.5000"
    assert record["asa_seconds"] == "30.0"
    assert record["median_first_response_hours"] == "23.98"
    assert record["walkin_wait_mean_seconds"] == ""  # no visits: empty, not 0


def test_json_and_xlsx_exports_carry_the_same_figures(client, auth, history):
    auth.login("chef")
    data = json.loads(client.get("/reports/export", query_string={**PERIOD, "format": "json", "by": "service"}).data)
    assert data["columns"] == ["service", *FIGURE_NAMES]
    bygglov = next(r for r in data["rows"] if r["service"] == "bygglov")
    assert bygglov["answer_rate"] == 0.5
    assert bygglov["walkin_wait_mean_seconds"] is None
    book = load_workbook(io.BytesIO(client.get("/reports/export", query_string={**PERIOD, "format": "xlsx", "by": "service"}).data))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header == ["service", *FIGURE_NAMES]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "bygglov")
    assert row[header.index("answer_rate")] == 0.5


def test_export_refuses_unknown_grouping_and_format(client, auth):
    auth.login("chef")
    response = client.get("/reports/export", query_string={**PERIOD, "format": "pdf", "by": "colour"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Okänd gruppering" in text
    assert "Okänt format" in text


def test_coordinator_sees_own_department(client, auth, history):
    auth.login("samordnare")
    page = client.get("/reports/samordnare", query_string={**PERIOD, "department": "sbk"}).get_data(as_text=True)
    assert "Arbetsmarknads- och socialförvaltningen" in page
    assert "forsorjningsstod" in page
