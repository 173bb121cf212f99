"""Fixtures for the phone channel's tests: the pinned clock and the signed Twilio driver."""

from __future__ import annotations

import pytest

from tests.fixtures.twilio import pinned_clock, twilio_driver


@pytest.fixture
def clock(app):
    yield from pinned_clock(app)


@pytest.fixture
def twilio(app, client, clock):
    return twilio_driver(app, client)
