"""The channels' clock: webhooks and pages ask it for the time, so a test can pin it (opening hours depend on it)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..database import utcnow

CLOCK_KEY = "kontaktcenter.clock"


def now() -> datetime:
    """The current time; an app may install another clock (tests of opening hours do)."""
    return current_app.extensions.get(CLOCK_KEY, utcnow)()
