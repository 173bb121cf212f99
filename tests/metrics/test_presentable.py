"""Report pages people can read and print (issue 19 part 4): names instead of codes,
kronor written the Swedish way, an equity table that fits a screen, a coordinator's own
department first, a print view of every page, and drill-down links that never end in
"Åtkomst nekad" nor let a coordinator read another department's tickets."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from kontaktcenter.metrics.labels import format_kronor
from kontaktcenter.tickets.models import AccessLog, Ticket

PERIOD = "start=2026-03-02&end=2026-03-06"
NBSP = "\u00a0"

# Every report page with the parameters that show its figures; the print view of each is tested too.
REPORT_PAGES = [
    "/reports",
    "/reports/likvardighet?dimension=language",
    "/reports/likvardighet?dimension=location",
    "/reports/lokal-service",
    "/reports/bemanning",
    "/reports/kostnader?cost=1200000",
    "/reports/samordnare?department=sbk",
    "/reports/drill?figure=tickets",
]


def _with_period(path: str) -> str:
    return path + ("&" if "?" in path else "?") + PERIOD


@pytest.fixture
def history(session, phone_call, written, visit):
    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200, service="bygglov")
    phone_call("2026-03-02 09:20", "abandoned", wait=40, service="bygglov")
    written("2026-03-02 15:00", "2026-03-03 14:59")
    visit("2026-03-03 10:00", "served", wait=300)
    # A non-confidential errand of the labour-market department (ASF), escalated there.
    asf = written("2026-03-04 10:00", None, service="arbetsmarknad")
    session.commit()
    return {"asf": asf.ticket}


def test_kronor_are_written_the_swedish_way():
    assert format_kronor(72000) == f"72{NBSP}000{NBSP}kr"
    assert format_kronor(72000.0) == f"72{NBSP}000{NBSP}kr"
    assert format_kronor(1234.5) == f"1{NBSP}234,50{NBSP}kr"
    assert format_kronor(1234567.891) == f"1{NBSP}234{NBSP}567,89{NBSP}kr"
    assert format_kronor(72000, "en") == f"72,000{NBSP}kr"
    assert format_kronor(None) == "–"


def test_cost_page_names_departments_and_shows_kronor(client, auth, history):
    auth.login("chef")
    page = client.get(_with_period("/reports/kostnader?cost=1200000")).get_data(as_text=True)
    # 1 200 000 kr: 3 % base to Serviceförvaltningen; 2 of 3 handled contacts are Stadsbyggnadskontoret's.
    assert "<td>Stadsbyggnadskontoret</td>" in page
    assert "<td>Serviceförvaltningen</td>" in page
    assert f"14{NBSP}400{NBSP}kr" in page
    assert re.search(r"<td>sbk</td>|<td>serviceforvaltningen</td>", page) is None
    assert re.search(r"\d{4,}\.\d\d", page) is None  # never "72000.00"


def test_dashboard_and_coordinator_view_name_services(client, auth, history):
    auth.login("chef")
    page = client.get(_with_period("/reports")).get_data(as_text=True)
    assert '<th scope="row">Bygglov</th>' in page
    assert '<th scope="row">Jobb och arbetsmarknadsinsatser</th>' in page
    assert '<th scope="row">bygglov</th>' not in page
    coordinator = client.get(_with_period("/reports/samordnare?department=sbk")).get_data(as_text=True)
    assert '<th scope="row">Bygglov</th>' in coordinator


def test_drill_down_names_the_service(client, auth, history):
    auth.login("chef")
    page = client.get(_with_period("/reports/drill?figure=phone_queued")).get_data(as_text=True)
    assert "<td>Bygglov</td>" in page


def test_equity_shows_a_few_key_figures_until_the_reader_chooses(client, auth, history):
    auth.login("chef")
    page = client.get(_with_period("/reports/likvardighet?dimension=language")).get_data(as_text=True)
    assert page.count('scope="colgroup"') == 3  # answer rate, written in a working day, walk-in wait
    assert '<th scope="row">svenska' in page  # the language's name, not "sv"
    chosen = client.get(_with_period("/reports/likvardighet?dimension=language&figure=fcr_rate")).get_data(as_text=True)
    assert chosen.count('scope="colgroup"') == 1
    assert '<th scope="colgroup" colspan="3">Direktlösningsgrad</th>' in chosen
    assert 'id="figure-fcr_rate" name="figure" value="fcr_rate" checked' in chosen
    # An unknown figure is ignored, not an error: the defaults are shown.
    odd = client.get(_with_period("/reports/likvardighet?figure=colour")).get_data(as_text=True)
    assert odd.count('scope="colgroup"') == 3
    places = client.get(_with_period("/reports/likvardighet?dimension=location")).get_data(as_text=True)
    assert "Kontaktcenter filial Rosengård" in places
    assert '<th scope="row">filial-rosengard' not in places


def test_a_coordinators_dashboard_opens_on_their_department(client, auth, history):
    auth.login("samordnare")  # Arbetsmarknads- och socialförvaltningen (asf)
    page = client.get(_with_period("/reports")).get_data(as_text=True)
    assert '<option selected value="asf">' in page
    assert "Förvaltning: Arbetsmarknads- och socialförvaltningen" in page
    assert '<th scope="row">Bygglov</th>' not in page  # another department's service
    # "Alla" is a choice they can make, and the report links keep it.
    everyone = client.get(_with_period("/reports") + "&department=").get_data(as_text=True)
    assert '<th scope="row">Bygglov</th>' in everyone
    assert "Förvaltning:" not in everyone
    assert re.search(r'href="/reports/likvardighet\?[^"]*department=&', unescape(everyone)) or re.search(
        r'href="/reports/likvardighet\?[^"]*department="', unescape(everyone)
    )
    # A manager's dashboard opens on the whole city.
    auth.logout()
    auth.login("chef")
    assert "Förvaltning:" not in client.get(_with_period("/reports")).get_data(as_text=True)


@pytest.mark.parametrize("path", REPORT_PAGES)
def test_every_report_page_has_a_print_view(client, auth, history, path):
    auth.login("chef")
    screen = client.get(_with_period(path)).get_data(as_text=True)
    (print_link,) = re.findall(r'<p class="print-link"><a href="([^"]+)">Utskriftsvy</a>', screen)
    print_link = unescape(print_link)
    assert "print=1" in print_link
    assert "start=2026-03-02" in print_link
    response = client.get(print_link)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    main = page.split("<main", 1)[1]
    assert "<nav" not in page  # no menus
    assert "<form" not in page  # no filters or export form
    assert page.count("<h1>") == 1
    assert "<dt>Period</dt><dd>2026-03-02 – 2026-03-06</dd>" in main
    assert re.search(r"<dt>Siffror per</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d \(svensk tid\)</dd>", main)
    assert "Nyckeltal enligt METRICS.md" in main
    assert re.search(r"<dt>Utskriven</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d</dd>", main)
    assert "reports-print.css" in page
    if path == "/reports":
        assert 'class="export-name"' in page  # the export's column names, hidden on paper
    (back,) = re.findall(r'<p class="print-back"><a href="([^"]+)">', page)
    assert "print=" not in unescape(back)
    assert client.get(unescape(back)).status_code == 200


def test_the_print_stylesheet_sets_a4_and_keeps_rows_whole(client):
    css = client.get("/static/reports-print.css").get_data(as_text=True)
    assert "size: A4" in css
    media = css.split("@media print", 1)[1]
    assert ".report-nav" in media
    assert "break-inside: avoid" in media
    assert "thead { display: table-header-group; }" in media


@pytest.mark.parametrize("username", ["chef", "samordnare", "kultursamordnare"])
def test_no_report_link_ends_in_access_denied(client, auth, history, username):
    """Every link on every report page, and every ticket the drill-down lists, opens for
    the reader who sees it (no 403 "Åtkomst nekad", no 404)."""
    auth.login(username)
    seen: set[str] = set()
    todo = [(_with_period(p), 0) for p in REPORT_PAGES]
    while todo:
        url, depth = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if depth == 2:
            continue
        for href in re.findall(r'href="(/(?:reports|tickets)[^"#]*)"', response.get_data(as_text=True)):
            href = unescape(href)
            if "/reports/exports" not in href and "print=1" not in href:
                todo.append((href, depth + 1))
    assert any(u.startswith("/tickets/") for u in seen)  # the walk reached the tickets themselves


def test_a_coordinator_cannot_read_another_departments_tickets_through_the_drill_down(client, auth, session, history):
    """The attack: Kultur's coordinator drills into ASF's figures to see its citizens' errands."""
    reference = history["asf"].reference
    auth.login("samordnare")  # ASF's own coordinator sees it listed
    own = client.get(_with_period("/reports/drill?figure=written_received&department=asf")).get_data(as_text=True)
    assert f">{reference}<" in own
    auth.logout()
    auth.login("kultursamordnare")
    before = session.scalar(select(AccessLog.id).order_by(AccessLog.id.desc()).limit(1)) or 0
    for figure in ("written_received", "tickets", "written_due"):
        page = client.get(_with_period(f"/reports/drill?figure={figure}&department=asf")).get_data(as_text=True)
        assert reference not in page
        assert "/tickets/" not in page
    assert "1 ärenden." in client.get(_with_period("/reports/drill?figure=written_received&department=asf")).get_data(
        as_text=True
    )  # counted, like every figure, but not listed
    # Nothing of the ticket was read: no access was logged for it.
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.reference == reference))
    assert session.scalars(select(AccessLog).where(AccessLog.id > before, AccessLog.ticket_id == ticket_id)).all() == []


def test_the_csv_for_swedish_excel_is_offered_beside_the_machine_csv(client, auth, history):
    auth.login("chef")
    page = client.get(_with_period("/reports")).get_data(as_text=True)
    select_html = page.split('<select id="export-format" name="format">', 1)[1].split("</select>", 1)[0]
    values = re.findall(r'<option value="([^"]+)">', select_html)
    assert values[:2] == ["csv", "csv-sv"]
    assert "CSV för svenska Excel" in select_html
