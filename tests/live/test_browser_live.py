"""Live pages in headless Chromium: a change made elsewhere appears on the console without a
reload, focus stays put; the wallboard passes axe-core and works with the keyboard."""

from __future__ import annotations

import pytest

from tests.browser.test_casework_flows import seed
from tests.fixtures.browser import assert_accessible, login

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _presence_restored(live_server):
    """The seeding here sets every agent away (so nobody is handed the ticket); later tests on
    the same live server expect the presence they had."""
    from sqlalchemy import select

    from kontaktcenter.database import db
    from kontaktcenter.directory.models import User

    with live_server.app.app_context():
        before = dict(db.session.execute(select(User.id, User.presence)).all())
        db.session.remove()
    yield
    with live_server.app.app_context():
        for user in db.session.scalars(select(User)):
            user.presence = before.get(user.id, user.presence)
        db.session.commit()
        db.session.remove()


def wait_until(page, expression: str, arg=None, seconds: float = 10.0) -> None:
    """Poll `expression` (a function of `arg`) in the page until it is true. Not Playwright's
    wait_for_function: that evaluates a string in the page, which the pages' CSP forbids."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if page.evaluate(expression, arg):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"not true within {seconds} s: {expression}")


def test_a_ticket_made_in_another_session_appears_on_the_console_without_reload(page, live_server):
    login(page, "agent")
    page.goto("/console")
    page.wait_for_selector("html[data-live='on']")
    page.evaluate("window.__sameDocument = true")
    page.focus("#console-q")
    page.keyboard.type("halv")  # a search being typed: the form keeps it, focus stays
    page.wait_for_timeout(300)  # the stream is open
    reference = seed(live_server, "allmant", "Live: en fråga som kom in just nu.")
    wait_until(page, "ref => document.getElementById('live-tickets').textContent.includes(ref)", reference)
    assert page.evaluate("window.__sameDocument === true")  # no reload
    assert page.evaluate("document.activeElement.id") == "console-q"
    assert page.input_value("#console-q") == "halv"
    wait_until(page, "() => document.getElementById('live-announce').textContent.length > 0")
    assert page.text_content("#live-announce") == "Sidan har uppdaterats."


def test_the_wallboard_passes_axe_and_updates_live(page, live_server):
    login(page, "chef")
    page.goto("/wallboard")
    assert_accessible(page)
    page.wait_for_selector("html[data-live='on']")
    before = page.text_content("#wallboard")
    page.evaluate("window.__sameDocument = true")
    from tests.fixtures.twilio import call_sid

    _queue_a_call(live_server, call_sid())
    wait_until(page, "b => document.getElementById('wallboard').textContent !== b", before)
    assert page.evaluate("window.__sameDocument === true")
    assert_accessible(page)
    # The kiosk link with the keyboard alone; the kiosk page has no staff header and passes too.
    page.focus("a[href*='kiosk=1']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".site-header").count() == 0
    assert_accessible(page)
    page.goto("/wallboard?lang=en")
    assert_accessible(page)


def _queue_a_call(live_server, sid: str) -> None:
    """A caller reaches the first-line queue, as the /menu webhook stores it."""
    from kontaktcenter.database import db
    from kontaktcenter.intake.incoming import IncomingContact
    from kontaktcenter.intake.receive import receive

    with live_server.app.app_context():
        receive(
            db.session,
            IncomingContact(channel="phone", service_code="allmant", phone="+46705550123", provider_sid=sid),
        )
        db.session.commit()
        db.session.remove()


def test_the_phone_page_with_its_pop_slot_passes_axe(page, live_server):
    login(page, "agent")
    page.goto("/phone")
    page.wait_for_selector("html[data-live='on']")
    assert_accessible(page)
    page.goto("/phone/samtal")
    assert_accessible(page)


def test_a_server_that_sends_no_live_updates_leaves_the_refresh_link(page, live_server):
    # What a sync web worker answers a misrouted stream (live/views.py): the page stops
    # listening, says nothing about signing out, and shows its refresh link.
    from kontaktcenter.live.stream import UNAVAILABLE

    page.route(
        "**/live/stream*",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=UNAVAILABLE),
    )
    login(page, "agent")
    page.goto("/console")
    page.wait_for_selector("html[data-live='off']")
    assert page.is_visible("#live-off a")
    assert page.text_content("#live-announce") == ""
    assert_accessible(page)
