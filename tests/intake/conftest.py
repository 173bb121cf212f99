"""Intake fixtures: the inbound e-mail secret, the Twilio webhooks' clock, the channels' API tokens."""

import pytest

from tests.fixtures.inbound_email import SECRET
from tests.fixtures.tokens import make_token  # noqa: F401 - a fixture
from tests.fixtures.twilio import pinned_clock


@pytest.fixture(autouse=True)
def _inbound_secret(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_EMAIL_SECRET", SECRET)


@pytest.fixture
def clock(app):
    yield from pinned_clock(app)
