"""Fixtures for the channel tests: API tokens, a clean rate-limit slate, the recorded outbox."""

from __future__ import annotations

import pytest

from kontaktcenter.channels.tokens import create_token
from kontaktcenter.extensions import limiter
from kontaktcenter.notify.email import OUTBOX_KEY


@pytest.fixture(autouse=True)
def _fresh_limits(app):
    # Rate limits live in memory for the whole test session; each test starts from zero.
    limiter.reset()
    app.extensions.pop(OUTBOX_KEY, None)
    yield
    limiter.reset()


@pytest.fixture
def make_token(app, session):
    """Create an API token with a scope; returns the raw value (committed, so requests see it)."""

    def make(scope: str, name: str = "test system") -> str:
        _token, raw = create_token(session, name, scope)
        session.commit()
        return raw

    return make
