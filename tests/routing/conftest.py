"""Routing test helpers: a private copy of the shipped rules the test may change."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from kontaktcenter.config import PROJECT_ROOT
from kontaktcenter.directory.models import User
from kontaktcenter.routing.service import EXTENSION_KEY

SHIPPED = PROJECT_ROOT / "routing_rules"


@pytest.fixture
def rules_dir(app, tmp_path, monkeypatch) -> Path:
    """A copy of routing_rules/ that the app routes with for this test only."""
    directory = tmp_path / "rules"
    shutil.copytree(SHIPPED, directory)
    monkeypatch.setitem(app.config, "RULES_DIR", str(directory))
    saved = app.extensions.pop(EXTENSION_KEY, None)
    yield directory
    app.extensions.pop(EXTENSION_KEY, None)
    if saved is not None:
        app.extensions[EXTENSION_KEY] = saved


@pytest.fixture
def nobody_available(session):
    """Demo staff away, so tickets wait in their queues and routing alone is tested."""
    saved = {user.id: user.presence for user in session.scalars(select(User))}
    for user in session.scalars(select(User)):
        user.presence = "away"
    session.commit()
    yield
    for user in session.scalars(select(User).where(User.id.in_(saved))):
        user.presence = saved[user.id]
    session.commit()


_serial = itertools.count(100)


def new_personnummer() -> str:
    """A valid, unused personnummer (12 digits), so tests never meet each other's citizens."""
    n = next(_serial)
    body = f"85{(n // 28) % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"
    total = 0
    for i, digit in enumerate(body):
        product = int(digit) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return f"19{body}{(10 - total % 10) % 10}"
