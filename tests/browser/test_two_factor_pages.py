"""Two-factor sign-in in a real browser: axe-core on the enrolment, recovery-codes, code and
account pages, and enrolment and sign-in with the keyboard alone."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from tests.fixtures.browser import assert_accessible, press_and_wait
from tests.fixtures.two_factor import code_for

pytestmark = pytest.mark.browser

PASSWORD = "en-lang-fras-att-minnas-2026"  # noqa: S105 - a test account's password


@pytest.fixture(scope="module")
def new_admin(live_server):
    """An administrator with no authenticator yet, as after `users create` or in a fresh demo."""
    from kontaktcenter.auth.service import hash_password
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import User

    with live_server.app.app_context():
        if db.session.scalar(select(User).where(User.username == "ny-admin")) is None:
            db.session.add(
                User(username="ny-admin", name="Nora Admin", role="admin", password_hash=hash_password(PASSWORD))
            )
            db.session.commit()
        db.session.remove()
    return "ny-admin"


def _type_password(page, username: str) -> None:
    """Username and password with the keyboard alone: Tab between fields, Enter to send."""
    page.goto("/login")
    page.locator("#username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    press_and_wait(page, "Enter")


def _sign_out(page) -> None:
    page.locator("form.logout button[type=submit]").focus()
    press_and_wait(page, "Enter")


def test_keyboard_only_enrolment_and_sign_in_with_code_and_recovery_code(page, live_server, new_admin):
    # A required role: right after the password, enrolment and nothing else.
    _type_password(page, new_admin)
    assert "/konto/tvastegsverifiering" in page.url
    assert page.locator("svg.qr-code[role=img]").is_visible()
    assert_accessible(page)  # the enrolment page, QR code and all
    page.goto("/admin/inloggningar")
    assert "/konto/tvastegsverifiering" in page.url

    # The secret as text, typed into an authenticator app: the app's code confirms it.
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.locator("#code").focus()
    page.keyboard.type(pyotp.TOTP(secret).now())
    press_and_wait(page, "Enter")
    codes = re.findall(
        r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", page.locator("ol.recovery-codes").inner_text()
    )
    assert len(codes) == 10
    assert_accessible(page)  # the recovery codes, shown once
    page.locator("a.button:has-text('Jag har sparat koderna')").focus()
    press_and_wait(page, "Enter")
    page.goto("/admin/inloggningar")
    assert page.url.endswith("/admin/inloggningar")
    assert "Tvåstegsverifiering påslagen" in page.content()
    _sign_out(page)

    # Signing in now takes the code.
    _type_password(page, new_admin)
    assert page.url.endswith("/login/kod")
    # The field has the focus (autofocus lands after load; a loaded machine showed it a moment late).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'code'", timeout=5000)
    assert_accessible(page)  # the code page
    page.keyboard.type("000000")
    press_and_wait(page, "Enter")
    assert page.locator("#error-summary[role=alert]").is_visible()
    assert page.locator("#code").get_attribute("aria-invalid") == "true"
    assert_accessible(page)  # the code page with its error
    page.locator("#code").fill("")
    page.locator("#code").focus()
    page.keyboard.type(code_for(live_server.app, new_admin))
    press_and_wait(page, "Enter")
    assert page.url.endswith("/admin/anvandare")  # the administrator's start page
    _sign_out(page)

    # And a recovery code instead, once.
    _type_password(page, new_admin)
    # The field takes the focus by itself; on a busy machine that can come a moment after the
    # page has loaded, and keys typed before it would go nowhere.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'code'")
    page.keyboard.type(codes[0])
    press_and_wait(page, "Enter")
    assert page.url.endswith("/admin/anvandare"), page.locator("main").inner_text()
    assert "Du har 9 kvar" in page.content()
    _sign_out(page)


def test_account_page_when_enrolled_is_accessible(page, live_server, new_admin):
    from tests.fixtures.browser import login

    login(page, "chef")  # enrolled by the fixture: the sign-in types the code
    page.goto("/konto/tvastegsverifiering")
    assert "Tvåstegsverifiering är på" in page.content()
    assert_accessible(page)
    # A wrong code for new recovery codes: the error is announced and tied to its field.
    page.locator("#renew-code").focus()
    page.keyboard.type("123456")
    press_and_wait(page, "Enter")
    assert page.locator("#renew-code").get_attribute("aria-invalid") == "true"
    assert_accessible(page)
