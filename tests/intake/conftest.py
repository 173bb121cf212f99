"""Intake fixtures: the inbound e-mail secret, the Twilio webhooks' clock, the channels' API tokens."""

import pytest

from tests.fixtures.inbound_email import SECRET
from tests.fixtures.tokens import make_token  # noqa: F401 - a fixture
from tests.fixtures.twilio import clock  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def _inbound_secret(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_EMAIL_SECRET", SECRET)
