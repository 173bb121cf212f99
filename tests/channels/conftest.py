"""Fixtures for the channel tests: API tokens (tests/fixtures/tokens.py), a clean rate-limit slate, the recorded outbox,
the pinned clock and the signed Twilio driver."""

from __future__ import annotations

import pytest

from kontaktcenter.extensions import limiter
from kontaktcenter.notify.email import OUTBOX_KEY
from tests.fixtures.tokens import make_token  # noqa: F401 - a fixture
from tests.fixtures.twilio import clock, twilio  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _fresh_limits(app):
    # Rate limits live in memory for the whole test session; each test starts from zero.
    limiter.reset()
    app.extensions.pop(OUTBOX_KEY, None)
    yield
    limiter.reset()
