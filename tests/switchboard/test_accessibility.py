"""axe-core (WCAG 2.1 AA), reflow at 320 px and keyboard use of the switchboard's pages, in headless Chromium."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.browser import assert_accessible, login, press_and_wait

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def directory(live_server):
    """The demo staff, one of them away with an alternative."""
    from sqlalchemy import select

    from kontaktcenter.database import db, utcnow
    from kontaktcenter.switchboard.models import StaffMember
    from kontaktcenter.switchboard.staff_import import DEMO_STAFF, import_file

    with live_server.app.app_context():
        import_file(db.session, DEMO_STAFF, full=False)
        erik = db.session.scalar(select(StaffMember).where(StaffMember.employee_id == "MS10002"))
        erik.absent_until = utcnow() + timedelta(days=30)
        db.session.commit()
        ids = {m.employee_id: m.id for m in db.session.scalars(select(StaffMember))}
        db.session.remove()
    return ids


PAGES = [
    ("agent", "/vaxel"),
    ("agent", "/vaxel?q=bygglov"),
    ("agent", "/vaxel?q=" + "x" * 300),  # the error state
    ("samordnare", "/vaxel/katalog"),
    ("samordnare", "/vaxel/katalog/ny?department=asf"),
    ("admin", "/vaxel/katalog?department=sbk"),
    ("chef", "/reports/vaxel?start=2026-03-01&end=2026-03-31"),
]


@pytest.mark.parametrize("width", [1366, 320])
@pytest.mark.parametrize(("user", "path"), PAGES)
def test_page_is_accessible_and_reflows(page, directory, user, path, width):
    page.set_viewport_size({"width": width, "height": 800})
    login(page, user)
    page.goto(path)
    assert page.locator("h1").count() == 1
    assert_accessible(page)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] == width, f"{path} scrolls sideways at {width} px: {widths}"


def test_the_edit_form_with_an_error_is_accessible(page, directory):
    login(page, "admin")
    page.goto(f"/vaxel/katalog/{directory['MS10001']}")
    page.fill("#phone", "12")
    press_and_wait(page, "Enter")
    assert page.locator(".error-summary").count() == 1
    assert page.locator("#phone[aria-invalid=true]").count() == 1
    assert_accessible(page)


def test_an_agent_searches_with_the_keyboard_alone(page, directory):
    login(page, "agent")
    page.goto("/vaxel")
    page.focus("#q")
    page.keyboard.type("Erik Johanson")
    press_and_wait(page, "Enter")
    result = page.locator(".staff-result").first
    assert "Erik Johansson" in result.inner_text()
    assert "Frånvarande" in result.inner_text()
    assert "Hänvisning: Anna Svensson" in result.inner_text()


def test_a_coordinator_sets_an_absence_notice_with_the_keyboard_alone(page, directory):
    login(page, "admin")
    page.goto(f"/vaxel/katalog/{directory['MS10003']}")
    # The native date field (keyboard operable by the browser itself), filled as ISO.
    page.fill("#absent_until", "2027-12-31")
    page.focus("#absence_message")
    page.keyboard.type("Fatima är på tjänsteresa.")
    page.focus("#alternative_id")
    page.keyboard.press("ArrowDown")
    page.focus("button[type=submit]:has-text('Spara')")
    typed = page.input_value("#absent_until")
    press_and_wait(page, "Enter")
    summary = page.locator(".error-summary")
    assert summary.count() == 0, f"{typed!r}: {summary.inner_text()}"
    assert "sparade" in page.locator(".flashes").inner_text()
    page.goto("/vaxel?q=Fatima")
    assert "Fatima är på tjänsteresa." in page.locator(".staff-result").first.inner_text()
