"""Fixtures for the sign-in tests: a clean rate-limit slate, a clock the test moves, a second browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kontaktcenter.auth import sessions
from kontaktcenter.extensions import limiter

STAFF_PAGE = "/console"


@pytest.fixture(autouse=True)
def _fresh_limits(app):
    # Sign-in failures are counted in the limiter's memory for the whole test session.
    limiter.reset()
    yield
    limiter.reset()


class Clock:
    """The sessions' clock, moved by the test instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock(monkeypatch):
    moved = Clock(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    monkeypatch.setattr(sessions, "now", moved)
    return moved


@pytest.fixture
def thief(app, client):
    """Another browser holding a copy of `client`'s session cookie, taken when called."""

    def copy():
        stolen = app.test_client()
        cookie = client.get_cookie("session")
        assert cookie is not None, "the victim has no session cookie to copy"
        stolen.set_cookie("session", cookie.value)
        return stolen

    return copy


def signed_in(browser) -> bool:
    response = browser.get(STAFF_PAGE)
    if response.status_code == 200:
        return True
    assert response.status_code == 302, response.status_code
    assert "/login" in response.headers["Location"]
    return False
