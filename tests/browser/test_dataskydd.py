"""The dataskydd pages in headless Chromium: axe-core WCAG 2.1 AA in sv/en/ar, and the
keyboard alone — finding a ticket, rättelse, begränsning, a refused radering, and the
access log's person filter."""

from __future__ import annotations

import pytest

from tests.browser.test_casework_flows import seed, tab_to
from tests.fixtures.browser import assert_accessible, login, press_and_wait

pytestmark = pytest.mark.browser

PNR = "19900101-0017"


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
def test_rights_pages_are_accessible_and_work_by_keyboard(page, live_server, lang):
    reference = seed(live_server, "allmant", "Fråga om sophämtning.", citizen_name="Anna Svensson", phone="0701234567")
    login(page, "dataskydd")
    page.goto(f"/dataskydd?lang={lang}")
    assert_accessible(page)
    tab_to(page, "#reference")
    page.keyboard.type(reference)
    press_and_wait(page, "Enter")
    assert page.url.endswith(f"/dataskydd/arenden/{reference}")
    assert_accessible(page)

    # Rättelse of the name (the first choice of the list) by keyboard.
    tab_to(page, "#value")
    page.keyboard.type("Anna Berg")
    tab_to(page, "#correct_reason")
    page.keyboard.type("Begäran per telefon")
    tab_to(page, "form[action$='/rattelse'] button[type=submit]")
    press_and_wait(page, "Enter")
    assert "Anna Berg" in page.locator("table").first.inner_text()
    assert_accessible(page)

    # Radering of an open ticket: refused, with the reason shown, nothing changed.
    tab_to(page, "#erase_reason")
    page.keyboard.type("Begäran om radering")
    tab_to(page, "form[action$='/radering'] button[type=submit]")
    press_and_wait(page, "Enter")
    assert page.locator("form[action$='/radering']").locator("xpath=..").locator("[role=alert]").is_visible()
    assert "Anna Berg" in page.locator("table").first.inner_text()
    assert_accessible(page)

    # Begränsning by keyboard.
    tab_to(page, "#restrict_reason")
    page.keyboard.type("Medborgaren bestrider uppgifterna")
    tab_to(page, "form[action$='/begransning'] button[type=submit]")
    press_and_wait(page, "Enter")
    assert "Medborgaren bestrider uppgifterna" in page.locator("dl").inner_text()
    assert_accessible(page)


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
def test_access_log_filters_and_errors_are_accessible_and_work_by_keyboard(page, live_server, lang):
    reference = seed(live_server, "forsorjningsstod", "Hyran", personnummer=PNR)
    login(page, "handlaggare")
    page.goto(f"/tickets/{reference}")  # a logged read of a confidential ticket
    page.context.clear_cookies()
    login(page, "dataskydd")
    page.goto(f"/admin/atkomstlogg?lang={lang}")
    assert_accessible(page)
    tab_to(page, "#personnummer")
    page.keyboard.type(PNR)
    press_and_wait(page, "Enter")  # the form's first button: Filtrera
    assert reference in page.locator("table").inner_text()
    assert PNR not in page.url
    assert_accessible(page)
    tab_to(page, "#personnummer")
    page.keyboard.press("Control+A")
    page.keyboard.type("123")
    press_and_wait(page, "Enter")
    assert page.locator("[role=alert]").is_visible()
    assert_accessible(page)
