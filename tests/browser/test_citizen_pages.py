"""The citizen pages on personal data and accessibility in headless Chromium: axe-core WCAG 2.1
AA in sv/en/ar, no horizontal scrolling at 320 px (WCAG 1.4.10 Reflow), and the keyboard alone."""

from __future__ import annotations

import pytest

from tests.browser.test_casework_flows import tab_to
from tests.fixtures.browser import assert_accessible, press_and_wait

pytestmark = pytest.mark.browser

PAGES = ["/personuppgifter", "/tillganglighet"]


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
@pytest.mark.parametrize("path", PAGES)
def test_the_citizen_pages_are_accessible(page, path, lang):
    page.goto(f"{path}?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
    assert_accessible(page)


@pytest.mark.parametrize("lang", ["sv", "ar"])
@pytest.mark.parametrize("path", PAGES)
def test_the_citizen_pages_reflow_at_320_px(page, path, lang):
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(f"{path}?lang={lang}")
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] == 320, f"{path}?lang={lang} scrolls sideways: {widths}"


def test_from_the_form_to_both_pages_with_the_keyboard_alone(page):
    page.goto("/kontakt")
    tab_to(page, ".contact-form a[href='/personuppgifter']")
    press_and_wait(page, "Enter")
    assert page.url.endswith("/personuppgifter")
    # The table of contents moves the focus to its section.
    tab_to(page, "nav.toc a[href='#hur-lange']")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'hur-lange'")
    tab_to(page, "main a[href='/tillganglighet']")
    press_and_wait(page, "Enter")
    assert page.url.endswith("/tillganglighet")
    assert "Tillgänglighetsredogörelse" in page.locator("h1").inner_text()
    tab_to(page, "main a[href='/personuppgifter']")
    press_and_wait(page, "Enter")
    assert page.url.endswith("/personuppgifter")
