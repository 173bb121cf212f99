"""axe-core (WCAG 2.1 A/AA): 0 violations on every report page; usable with the keyboard."""

from __future__ import annotations

from datetime import date

import pytest

from tests.fixtures.browser import assert_accessible, login, press_and_wait

pytestmark = pytest.mark.browser

PERIOD = "start=2025-01-01&end=2025-01-31"


@pytest.fixture(scope="module")
def report_history(live_server):
    """A month of generated history (the demo's generator) in the live server's database."""
    from sqlalchemy import func, select

    from kontaktcenter.contacts.models import Contact
    from kontaktcenter.database import db
    from kontaktcenter.demo import generate_history
    from kontaktcenter.history.write import Directory, write_history

    with live_server.app.app_context():
        if not db.session.scalar(select(func.count()).select_from(Contact).where(Contact.external_id.like("a11y-%"))):
            rows = list(generate_history(date(2025, 2, 1), days=31, seed=11))
            for row in rows:
                row.external_id = "a11y-" + row.external_id
            write_history(db.session, rows, Directory(db.session))
            db.session.commit()
        db.session.remove()


# Every report page (and a few of their states), in one place: each is checked on screen
# and as its print view, at 1366 px and at 320 px. Add new report pages here.
PAGES = [
    f"/reports?{PERIOD}",
    f"/reports?{PERIOD}&period=week&channel=phone",
    f"/reports?{PERIOD}&department=sbk",
    f"/reports/drill?{PERIOD}&figure=escalated",
    f"/reports/likvardighet?{PERIOD}&dimension=language",
    f"/reports/likvardighet?{PERIOD}&dimension=needs&figure=answer_rate&figure=fcr_rate",
    f"/reports/likvardighet?{PERIOD}&dimension=location",
    f"/reports/lokal-service?{PERIOD}",
    f"/reports/bemanning?{PERIOD}&service=allmant&interval=30&target_level=80&target_seconds=20&shrinkage=30",
    f"/reports/kostnader?{PERIOD}&cost=1200000",
    f"/reports/samordnare?{PERIOD}&department=kultur",
    "/reports?start=2025-02-10&end=2025-01-01&service=nope",  # the error state
]
WIDTHS = [1366, 320]


@pytest.fixture(scope="module")
def chef_state(browser, live_server):
    """The manager signed in once (password and code) for the many page checks below."""
    context = browser.new_context(base_url=live_server.url, locale="sv-SE")
    page = context.new_page()
    login(page, "chef")
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def chef_page(browser, live_server, chef_state):
    context = browser.new_context(base_url=live_server.url, locale="sv-SE", storage_state=chef_state)
    yield context.new_page()
    context.close()


def _scroll_widths(page) -> list[int]:
    return page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("view", ["screen", "print"])
@pytest.mark.parametrize("path", PAGES)
def test_report_page_and_its_print_view_fit_and_have_no_wcag_violations(chef_page, report_history, path, view, width):
    """No sideways scrolling of the page itself (a wide table scrolls inside its own
    focusable, labelled region), and axe-core finds nothing."""
    page = chef_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(path + ("&print=1" if view == "print" else ""))
    assert page.locator("h1").count() == 1
    widths = _scroll_widths(page)
    assert widths[0] <= widths[1] + 1, f"{path} ({view}, {width} px) scrolls sideways: {widths}"
    for region in page.locator(".table-scroll").all():
        assert region.get_attribute("tabindex") == "0"
        assert region.get_attribute("role") == "region"
        assert region.get_attribute("aria-labelledby") or region.get_attribute("aria-label")
    if view == "print":
        assert page.locator("nav, form").count() == 0
        assert page.locator(".print-meta").count() == 1
    assert_accessible(page)


def test_printing_hides_navigation_and_forms(page, report_history):
    login(page, "chef")
    page.goto(f"/reports?{PERIOD}")
    page.emulate_media(media="print")
    assert not page.locator(".report-nav").is_visible()
    assert not page.locator(".report-filters").is_visible()
    assert not page.locator(".site-header").is_visible()
    assert page.locator("h1").is_visible()
    assert page.locator("table").first.is_visible()


def test_print_view_and_back_with_the_keyboard_alone(page, report_history):
    login(page, "chef")
    page.goto(f"/reports/likvardighet?{PERIOD}&dimension=language")
    # Choose a figure with the keyboard: the checkbox toggles with Space, the form sends with Enter.
    page.locator("#figure-fcr_rate").focus()
    page.keyboard.press("Space")
    page.locator(".report-filters button[type=submit]").focus()
    press_and_wait(page, "Enter")
    assert "figure=fcr_rate" in page.url
    assert page.locator("th[scope=colgroup]", has_text="Direktlösningsgrad").count() == 1
    page.locator(".print-link a").focus()
    press_and_wait(page, "Enter")
    assert "print=1" in page.url
    assert "figure=fcr_rate" in page.url  # the print view shows what was chosen
    assert page.locator("th[scope=colgroup]", has_text="Direktlösningsgrad").count() == 1
    page.locator(".print-back a").focus()
    press_and_wait(page, "Enter")
    assert "print=1" not in page.url


def test_coordinator_view_is_accessible(page, report_history):
    login(page, "kultursamordnare")
    page.goto(f"/reports/samordnare?{PERIOD}")
    assert "Kulturförvaltningen" in page.content()
    assert_accessible(page)


def test_english_dashboard_is_accessible(page, report_history):
    login(page, "chef")
    page.goto(f"/reports?{PERIOD}&lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert_accessible(page)


def test_filters_and_drill_down_with_the_keyboard_alone(page, report_history):
    login(page, "chef")
    page.goto(f"/reports?{PERIOD}")
    page.locator("#channel").focus()
    page.keyboard.press("ArrowDown")  # Alla → the first channel (telefon)
    page.locator(".report-filters button[type=submit]").focus()
    press_and_wait(page, "Enter")
    assert "channel=phone" in page.url
    link = page.locator("a[href*='/reports/drill'][href*='figure=phone_answered']").first
    link.focus()
    press_and_wait(page, "Enter")
    assert "/reports/drill" in page.url
    assert "Ärendena bakom" in page.content()


def test_dashboard_export_shows_progress_then_the_download_accessibly(page, report_history):
    login(page, "chef")
    page.goto(f"/reports?{PERIOD}")
    page.locator("#export-by").select_option("service,period:day")
    page.locator("#export-format").select_option("xlsx")
    page.locator(".export-form button[type=submit]").focus()
    press_and_wait(page, "Enter")
    assert "/reports/exports/" in page.url
    assert page.locator("progress#export-progress").count() == 1
    # The page polls the job's status and shows the download when the file is ready.
    page.locator("#export-download a").wait_for(state="visible", timeout=30_000)
    assert page.locator("#export-progress").get_attribute("value") == "100"
    assert "Exporten är klar." in page.locator("#export-state").inner_text()
    assert_accessible(page)
    with page.expect_download() as download:
        page.locator("#export-download a").click()
    assert download.value.suggested_filename == "tillganglighet_2025-01-01_2025-01-31.xlsx"


CHART_PAGES = [f"/reports?{PERIOD}&period=week", f"/reports/lokal-service?{PERIOD}&period=week"]


@pytest.mark.parametrize("width", [1366, 320])
@pytest.mark.parametrize("path", CHART_PAGES)
def test_charts_with_their_tables_at_desktop_and_phone_width(page, report_history, path, width):
    page.set_viewport_size({"width": width, "height": 800})
    login(page, "chef")
    page.goto(path)
    charts = page.locator("svg.chart[role=img]")
    assert charts.count() == (6 if path.startswith("/reports?") else 2)
    for i in range(charts.count()):
        chart = charts.nth(i)
        box = chart.bounding_box()
        assert 0 < box["width"] <= width - 16  # shrinks into the column
        assert box["height"] > 80
        assert page.locator(f"#{chart.get_attribute('aria-describedby')}").inner_text()
        # Its data table beside it, with a caption.
        block = page.locator(".chart-with-table").filter(has=page.locator(f"#{chart.get_attribute('aria-labelledby')}"))
        assert block.locator("table caption").count() == 1
    # Weeks 1 and 5 of 2025 are cut by 1 and 31 January: drawn hollow, named in the caption.
    assert "ofullständig period (v. 1 2025, v. 5 2025)" in page.locator("figcaption").first.inner_text()
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] == width, f"{path} scrolls sideways at {width} px: {widths}"
    assert_accessible(page)


def test_the_charts_are_there_with_javascript_off(browser, live_server, report_history):
    context = browser.new_context(base_url=live_server.url, locale="sv-SE", java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, "chef")
        page.goto(CHART_PAGES[0])
        charts = page.locator("svg.chart[role=img]")
        assert charts.count() == 6
        for i in range(charts.count()):
            assert charts.nth(i).is_visible()
            assert charts.nth(i).bounding_box()["height"] > 80
        assert page.locator("svg.chart text", has_text="Mål 80").count() == 1  # service level's target
    finally:
        context.close()
