"""Fixtures for the live tests: short streams, the feed's hub, the pinned clock, Twilio."""

from __future__ import annotations

import pytest

from kontaktcenter.live.feed import feed_of
from tests.fixtures.twilio import clock, twilio  # noqa: F401 - fixtures


@pytest.fixture
def live_settings(app, monkeypatch):
    """Streams that beat every 0.2 s and end after `lifetime` (default 1 s)."""

    def install(lifetime: float = 1.0, heartbeat: float = 0.2):
        monkeypatch.setitem(
            app.config,
            "live",
            {**app.config["live"], "heartbeat_seconds": heartbeat, "stream_lifetime_seconds": lifetime},
        )

    install()
    return install


@pytest.fixture
def hub(app):
    """This process's hub, its feed listening (on PostgreSQL the notices come back through NOTIFY)."""
    feed = feed_of(app)
    feed.start()
    if hasattr(feed, "connected"):
        assert feed.connected.wait(20)
    return feed.hub


def drain(sub, app) -> list:
    """The notices waiting for `sub`, after giving a server-carried feed time to deliver."""
    settle = 0.0 if feed_of(app).backend == "memory" else 0.5
    out = []
    while (n := sub.get(timeout=settle)) is not None:
        out.append(n)
    return out
