"""WCAG 2.1 AA (axe-core in headless Chromium) and keyboard use of the citizen form and the walk-in screens."""

import re

import pytest

from tests.fixtures.browser import assert_accessible, login, press_and_wait

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
def test_contact_form_is_accessible_in_each_language(page, lang):
    page.goto(f"/kontakt?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
    assert_accessible(page)


@pytest.mark.parametrize("lang", ["sv", "ar"])
def test_form_errors_are_accessible_in_the_chosen_language(page, lang):
    page.goto(f"/kontakt?lang={lang}")
    page.check("#needs-0")  # interpreter, but no language chosen
    page.click(".contact-form button[type=submit]")  # the send button, not a language button
    assert page.locator("#error-summary[role=alert]").is_visible()
    assert page.locator("#interpreter_language").get_attribute("aria-invalid") == "true"
    assert_accessible(page)


def test_search_then_send_with_the_keyboard_and_get_a_receipt(page):
    page.goto("/kontakt")
    page.locator("#q").focus()
    page.keyboard.type("bygglov")
    press_and_wait(page, "Enter")
    assert page.locator("#service option[value=bygglov]").count() == 1
    assert_accessible(page)
    page.locator("#service").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type("Behöver jag bygglov för en altan?")
    page.locator("#reply_channel-3").focus()
    page.keyboard.press("Space")
    page.locator(".contact-form button[type=submit]").focus()
    press_and_wait(page, "Enter")
    assert "/kontakt/kvitto" in page.url
    assert re.search(r"KC-\d{4}-\d{6}", page.content())
    assert_accessible(page)


def test_personnummer_field_appears_only_for_a_service_that_uses_it(page):
    page.goto("/kontakt")
    assert page.locator("#personnummer").is_hidden()
    page.select_option("#service", "skolval")
    assert page.locator("#personnummer").is_hidden()
    page.select_option("#service", "forskoleplats")
    assert page.locator("#personnummer").is_visible()
    assert_accessible(page)


def test_honeypot_is_hidden_from_assistive_technology(page):
    page.goto("/kontakt")
    assert page.locator("div:has(> #website)").get_attribute("aria-hidden") == "true"
    assert page.locator("#website").get_attribute("tabindex") == "-1"


def test_walk_in_screens_are_accessible_and_keyboard_only(page):
    login(page, "bibliotek")
    page.goto("/besok/bibl-stadsbiblioteket")
    assert_accessible(page)
    # The service list has focus on arrival: choose with the arrows, register with Enter.
    assert page.evaluate("document.activeElement.id") == "service"
    page.keyboard.press("ArrowDown")
    page.locator("#note").focus()
    page.keyboard.type("Skriva ut")
    page.locator(".visit-form button[type=submit]").focus()
    press_and_wait(page, "Enter")
    assert "könummer" in page.content()
    assert_accessible(page)
    page.locator("button:has-text('Hjälp nu')").first.focus()
    press_and_wait(page, "Enter")
    assert_accessible(page)
    page.goto("/besok/bibl-stadsbiblioteket/skarm")
    assert page.locator(".now-serving li").count() >= 1
    assert_accessible(page)


def test_location_choice_and_display_in_arabic_are_accessible(page):
    login(page, "agent")
    page.goto("/besok")
    assert_accessible(page)
    page.goto("/besok/filial-rosengard/skarm?lang=ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert_accessible(page)


def test_token_page_is_accessible(page):
    login(page, "admin")
    page.goto("/admin/api-tokens")
    assert_accessible(page)
