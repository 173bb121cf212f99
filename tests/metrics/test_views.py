"""The /reports pages: roles, filters with clear messages, drill-down, exports."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook

from kontaktcenter.metrics.engine import FIGURE_NAMES
from tests.conftest import csrf_token

PERIOD = {"start": "2026-03-02", "end": "2026-03-06"}


@pytest.fixture
def history(session, phone_call, written, visit, make_contact):
    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200, service="bygglov")
    phone_call("2026-03-02 09:20", "abandoned", wait=40, service="bygglov")
    written("2026-03-02 15:00", "2026-03-03 14:59")
    visit("2026-03-03 10:00", "served", wait=300)
    # A confidential errand (försörjningsstöd): counted, never listed.
    make_contact(
        channel="web",
        service="forsorjningsstod",
        arrived_at=__import__("tests.fixtures.factories", fromlist=["at"]).at("2026-03-04 10:00"),
    )
    session.commit()


@pytest.mark.parametrize(
    "path",
    [
        "/reports",
        "/reports/likvardighet",
        "/reports/lokal-service",
        "/reports/bemanning",
        "/reports/kostnader",
        "/reports/samordnare",
    ],
)
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
    # Six charts (three target figures compared, volume, weekday, hour), each an image with a
    # name and a description, each with its data table.
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 6
    assert page.count('role="img"') == 6
    assert page.count("<table") >= 7
    for figure in ("service_level", "answer_rate", "response_within_1wd_rate"):
        assert f'<figcaption id="trend-{figure}-desc">' in page
        assert f'aria-labelledby="trend-{figure}-caption"' in page  # its table
    assert '<th scope="col">föregående period</th>' in page
    assert '<th scope="col">samma period i fjol</th>' in page
    assert "Föregående period: 2026-02-25 – 2026-03-01." in page
    assert "Samma period i fjol: 2025-03-03 – 2025-03-07." in page
    assert "Senaste värdet (6 mars)" in page  # period names a person reads, not 2026-03-06
    assert "50,0 %" in page  # answer_rate: 1 answered of 2 offered
    assert re.search(r"Siffror per \d{4}-\d\d-\d\d \d\d:\d\d<", page)


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
    assert "2 ärenden." in page
    (link,) = re.findall(r'href="(/tickets/KC-[^"]+)"', page)  # the confidential one is counted, not listed
    assert client.get(link).status_code == 200  # a link that works for the manager


def test_drill_down_counts_a_restricted_ticket_but_does_not_list_it(client, auth, session, history):
    from sqlalchemy import select

    from kontaktcenter.directory.models import User
    from kontaktcenter.privacy.rights import restrict
    from kontaktcenter.tickets.models import Ticket

    auth.login("chef")
    page = client.get("/reports/drill", query_string={**PERIOD, "figure": "written_received"}).get_data(as_text=True)
    (reference,) = re.findall(r'href="/tickets/(KC-[^"]+)"', page)
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    restrict(session, ticket, session.scalar(select(User).where(User.username == "dataskydd")), "Begäran")
    session.commit()
    page = client.get("/reports/drill", query_string={**PERIOD, "figure": "written_received"}).get_data(as_text=True)
    assert "2 ärenden." in page  # the figure is unchanged
    assert reference not in page


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
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00", data["as_of"])
    book = load_workbook(
        io.BytesIO(client.get("/reports/export", query_string={**PERIOD, "format": "xlsx", "by": "service"}).data)
    )
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


@pytest.fixture
def inline_exports(app):
    """Run dashboard exports in the request (the test's connection sees the test's data)."""
    from kontaktcenter.metrics.export_jobs import SUBMIT_KEY

    app.extensions[SUBMIT_KEY] = lambda fn, *args: fn(*args)
    yield
    app.extensions.pop(SUBMIT_KEY, None)


def test_dashboard_export_of_the_csv_for_people_gives_the_same_file(client, auth, history, inline_exports):
    auth.login("chef")
    form = {**PERIOD, "format": "csv-sv", "by": "service", "csrf_token": csrf_token(client, "/reports")}
    started = client.post("/reports/exports", data=form)
    assert started.status_code == 303
    downloaded = client.get(started.headers["Location"] + "/file")
    assert 'filename="tillganglighet_2026-03-02_2026-03-06_sv.csv"' in downloaded.headers["Content-Disposition"]
    direct = client.get("/reports/export", query_string={**PERIOD, "format": "csv-sv", "by": "service"})
    assert downloaded.data == direct.data
    assert downloaded.data.startswith("\ufeffTjänst;".encode())


def test_dashboard_export_runs_with_progress_and_gives_the_same_file(client, auth, history, inline_exports):
    auth.login("chef")
    form = {**PERIOD, "format": "csv", "by": "service,period:day", "csrf_token": csrf_token(client, "/reports")}
    started = client.post("/reports/exports", data=form)
    assert started.status_code == 303
    progress_url = started.headers["Location"]
    page = client.get(progress_url).get_data(as_text=True)
    assert '<progress id="export-progress" max="100" value="100">' in page
    assert "Exporten är klar." in page
    status = client.get(progress_url, query_string={"format": "json"}).get_json()
    assert status["state"] == "done"
    assert status["percent"] == 100
    assert status["rows"] >= 1
    downloaded = client.get(progress_url + "/file")
    assert downloaded.status_code == 200
    assert 'filename="tillganglighet_2026-03-02_2026-03-06.csv"' in downloaded.headers["Content-Disposition"]
    direct = client.get("/reports/export", query_string={**PERIOD, "format": "csv", "by": "service,period:day"})
    assert downloaded.data == direct.data
    # The file is only the requester's.
    auth.logout()
    auth.login("admin")
    assert client.get(progress_url).status_code == 404
    assert client.get(progress_url + "/file").status_code == 404


def test_dashboard_export_refuses_bad_input(client, auth, session, inline_exports):
    from sqlalchemy import func, select

    from kontaktcenter.metrics.models import ReportExport

    auth.login("chef")
    response = client.post(
        "/reports/exports",
        data={**PERIOD, "format": "pdf", "by": "colour", "csrf_token": csrf_token(client, "/reports")},
    )
    assert response.status_code == 400
    assert "Okänd gruppering" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ReportExport)) == 0
    assert client.get("/reports/exports/" + "x" * 32).status_code == 404
    assert client.get("/reports/exports/../../etc").status_code == 404


def _people_csv(client, by: str) -> tuple[bytes, list[list[str]]]:
    response = client.get("/reports/export", query_string={**PERIOD, "format": "csv-sv", "by": by})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('_sv.csv"')
    data = response.data
    return data, list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_csv_for_people_opens_in_swedish_excel_with_names(client, auth, session, history):
    from sqlalchemy import select

    from kontaktcenter.directory.models import Department, Service

    auth.login("chef")
    data, rows = _people_csv(client, "service,department,channel,period:day")
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    assert rows[0][:5] == ["Tjänst", "Förvaltning", "Kanal", "Period", "Samtal i kö"]
    assert "Besvarandegrad" in rows[0]
    assert "answer_rate" not in rows[0]
    assert len(rows[0]) == 4 + len(FIGURE_NAMES)
    bygglov = session.scalar(select(Service).where(Service.code == "bygglov"))
    department = session.get(Department, bygglov.department_id)
    record = dict(zip(rows[0], next(r for r in rows[1:] if r[2] == "Telefon"), strict=True))
    assert (record["Förvaltning"], record["Tjänst"], record["Period"]) == (
        department.name_sv,
        bygglov.name_sv,
        "2026-03-02",
    )
    assert record["Besvarandegrad"] == "0,5000"  # decimal comma
    assert record["Medelväntetid (s)"] == "30,0"
    assert record["Samtal i kö"] == "2"
    assert record["Medelväntetid besök (s)"] == ""  # empty, not 0
    assert "bygglov" not in data.decode("utf-8-sig")  # names, not codes
    _, web = _people_csv(client, "channel,language")
    assert {(r[0], r[1]) for r in web[1:]} >= {("Webbformulär", "svenska"), ("Besök", "svenska")}


def test_machine_csv_is_unchanged_beside_the_csv_for_people(client, auth, history):
    auth.login("chef")
    machine = client.get("/reports/export", query_string={**PERIOD, "format": "csv", "by": "channel"}).data
    # Byte for byte what the machine CSV was before the CSV for people came.
    assert (
        machine
        == (
            "channel," + ",".join(FIGURE_NAMES) + "\n"
            "phone,2,0,2,1,0,0,1,0.5000,0.5000,0.5000,30.0,30.0,200.0,0,0,0,,,0,,0,2,0,0,0,0.0000,0.0000,0.0000\n"
            "walk_in,0,0,0,0,0,0,0,,,,,,,0,0,0,,,1,300.0,0,1,0,0,0,0.0000,0.0000,0.0000\n"
            "web,0,0,0,0,0,0,0,,,,,,,2,2,1,0.5000,23.98,0,,0,2,0,0,0,0.0000,0.0000,0.0000\n"
        ).encode()
    )
    page = client.get("/reports", query_string=PERIOD).get_data(as_text=True)
    assert '<option value="csv">CSV</option><option value="csv-sv">CSV för svenska Excel</option>' in page


def test_as_of_and_the_csv_for_people_are_translated(client, auth, history):
    auth.login("chef")
    english = client.get("/reports", query_string={**PERIOD, "lang": "en"}).get_data(as_text=True)
    assert "Figures as of " in english
    assert ">CSV for Swedish Excel<" in english
    arabic = client.get("/reports", query_string={**PERIOD, "lang": "ar"}).get_data(as_text=True)
    assert "الأرقام حتى " in arabic
