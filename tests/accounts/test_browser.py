"""axe-core on the user administration pages and the set-password page; the flows by keyboard alone."""

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from kontaktcenter.database import db
from kontaktcenter.directory.models import User
from kontaktcenter.notify.email import OUTBOX_KEY
from tests.fixtures.browser import assert_accessible, login, press_and_wait

from .conftest import GOOD_PASSWORD

pytestmark = pytest.mark.browser
LINK_RE = re.compile(r"https?://[^\s]+/konto/satt-losenord/[A-Za-z0-9_-]+")


def _mails(live_server) -> list:
    return list(live_server.app.extensions.get(OUTBOX_KEY, []))


def _user_id(live_server, username: str) -> int:
    with live_server.app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def test_user_pages_are_accessible(page, live_server):
    login(page, "admin")
    for path in (
        "/admin/anvandare",
        "/admin/anvandare/ny",
        f"/admin/anvandare/{_user_id(live_server, 'agent2')}",
        f"/admin/anvandare/{_user_id(live_server, 'agent2')}/historik",
        "/admin/andringslogg",
    ):
        page.goto(path)
        assert_accessible(page)
    page.goto("/admin/anvandare/ny")
    page.click("form.user-form button[type=submit]")  # empty: the errors are announced and accessible
    assert page.locator("#error-summary[role=alert]").is_visible()
    assert_accessible(page)
    page.goto("/konto/satt-losenord/no-such-link")
    assert "Länken fungerar inte" in page.content()
    assert_accessible(page)


def test_keyboard_only_admin_creates_a_user_and_sends_a_reset_who_sets_a_password(page, live_server):
    login(page, "admin")
    page.goto("/admin/anvandare")
    page.locator("a:has-text('Ny användare')").focus()
    press_and_wait(page, "Enter")
    page.locator("#username").focus()
    page.keyboard.type("tangent")
    page.keyboard.press("Tab")
    page.keyboard.type("Tove Tangent")
    page.keyboard.press("Tab")
    page.keyboard.type("tove@malmo.example")
    page.keyboard.press("Tab")  # role: agent is first
    page.keyboard.press("Tab")  # department
    page.keyboard.type("Serv")  # a select takes typed letters
    page.locator("#queues-0").focus()
    page.keyboard.press("Space")
    page.locator("form.user-form button[type=submit]").focus()
    press_and_wait(page, "Enter")
    assert "Kontot tangent är skapat" in page.content()
    assert_accessible(page)  # the edit page with its message

    page.locator("button:has-text('Skicka länk för nytt lösenord')").focus()
    press_and_wait(page, "Enter")
    assert "En länk för att välja nytt lösenord har skickats till tove@malmo.example" in page.content()
    mails = [m for m in _mails(live_server) if m["To"] == "tove@malmo.example"]
    assert len(mails) == 2  # the welcome link, then the reset that replaced it
    # The link is absolute on PUBLIC_BASE_URL; the live server listens on another port.
    link = urlsplit(LINK_RE.search(mails[-1].get_content()).group(0)).path

    page.context.clear_cookies()
    page.goto(link)
    assert_accessible(page)
    page.locator("#new").focus()
    page.keyboard.type(GOOD_PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type(GOOD_PASSWORD)
    press_and_wait(page, "Enter")
    assert "/login" in page.url
    assert "Ditt lösenord är sparat" in page.content()
    page.fill("#username", "tangent")
    page.fill("#password", GOOD_PASSWORD)
    press_and_wait(page, "Enter")
    assert "/login" not in page.url
