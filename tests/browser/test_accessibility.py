"""WCAG 2.1 AA with axe-core in headless Chromium, and keyboard-only use."""

import re

import pytest

from tests.fixtures.browser import assert_accessible, login, press_and_wait

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_contact_form_is_accessible(page, lang):
    page.goto(f"/kontakt?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    assert_accessible(page)


def test_contact_form_errors_are_accessible_and_announced(page):
    page.goto("/kontakt")
    page.click(".contact-form button[type=submit]")
    assert page.locator("#error-summary[role=alert]").is_visible()
    assert page.locator("#text").get_attribute("aria-invalid") == "true"
    assert "text-error" in page.locator("#text").get_attribute("aria-describedby")
    assert_accessible(page)


def test_login_page_is_accessible(page):
    page.goto("/login")
    assert_accessible(page)


def test_keyboard_only_errand_then_agent_resolves_it(page):
    """A citizen sends an errand with the keyboard alone; an agent resolves it with the keyboard alone."""
    page.goto("/kontakt")
    page.keyboard.press("Tab")  # skip link first
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.locator("#q").focus()  # narrow the service list by searching, then choose with the arrows
    page.keyboard.type("bibliotekskort")
    press_and_wait(page, "Enter")
    page.locator("#service").focus()
    page.keyboard.press("ArrowDown")
    assert page.locator("#service").input_value() == "bibliotekskort"
    page.keyboard.press("Tab")
    page.keyboard.type("Hur förnyar jag mitt bibliotekskort?")
    page.locator("#reply_channel-3").focus()  # "no answer needed"
    page.keyboard.press("Space")
    page.locator(".contact-form button[type=submit]").focus()
    press_and_wait(page, "Enter")
    assert "/kontakt/kvitto" in page.url
    reference = re.search(r"KC-\d{4}-\d{6}", page.content()).group(0)
    assert_accessible(page)

    login(page, "agent")
    assert_accessible(page)  # the agent queue
    page.locator(f"a:has-text('{reference}')").first.focus()
    press_and_wait(page, "Enter")
    assert page.url.endswith(f"/tickets/{reference}")
    assert_accessible(page)  # the ticket page
    # Routing offered the ticket to the available agent with the right skills: no "take" needed.
    assert "Ta ärendet" not in page.content()
    page.locator("#body").focus()
    page.keyboard.type("Kortet förnyas på Stadsbiblioteket.")
    page.locator("#send").focus()  # "Skicka" (beside it: "Skicka och lös")
    press_and_wait(page, "Enter")
    page.locator("button:has-text('Markera som löst')").focus()
    press_and_wait(page, "Enter")
    assert "Ärendet är löst." in page.content()
    assert_accessible(page)
