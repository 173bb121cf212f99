"""The phone page of an agent who missed an offered call: axe-core in headless Chromium, back with the keyboard."""

import pytest
from sqlalchemy import select, update

from kontaktcenter.database import db
from kontaktcenter.directory.models import User
from tests.fixtures.browser import assert_accessible, login, press_and_wait

pytestmark = pytest.mark.browser


def _set_presence(live_server, username: str, presence: str) -> str:
    """Set the user's presence in the live server's database; returns the one it had."""
    with live_server.app.app_context():
        before = db.session.scalar(select(User.presence).where(User.username == username))
        db.session.execute(update(User).where(User.username == username).values(presence=presence))
        db.session.commit()
        return before


def test_missed_agent_reads_why_and_comes_back_with_the_keyboard(page, live_server):
    login(page, "agent2")
    before = _set_presence(live_server, "agent2", "missed")
    page.goto("/phone")
    status = page.locator("#presence-now")
    assert "Du svarade inte på ett samtal som erbjöds dig." in status.inner_text()
    assert_accessible(page)
    back = page.locator("form[action$='/phone/presence'] button")
    back.focus()
    assert back.inner_text() == "Gör mig tillgänglig"
    press_and_wait(page, "Enter")
    assert "Du är tillgänglig för samtal." in page.locator("#presence-now").inner_text()
    assert _set_presence(live_server, "agent2", before) == "available"  # as the other tests found it
