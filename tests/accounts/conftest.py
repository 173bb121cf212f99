"""Fixtures for user administration: a clean rate-limit slate, the sessions' clock, an admin's browser."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from kontaktcenter.accounts.models import UserChange
from kontaktcenter.directory.models import User
from kontaktcenter.extensions import limiter
from kontaktcenter.notify.email import OUTBOX_KEY
from tests.auth.conftest import clock  # noqa: F401 - the same moved clock as the sign-in tests
from tests.conftest import AuthActions

LINK_RE = re.compile(r"http://localhost/konto/satt-losenord/[A-Za-z0-9_-]+")
GOOD_PASSWORD = "lingon-spårvagn-ekorre-7"


@pytest.fixture(autouse=True)
def _fresh(app):
    limiter.reset()
    app.extensions.pop(OUTBOX_KEY, None)
    yield
    limiter.reset()
    app.extensions.pop(OUTBOX_KEY, None)


@pytest.fixture
def admin(app, session):
    """A browser signed in as the demo admin."""
    browser = AuthActions(app.test_client())
    assert browser.login("admin").status_code == 302
    return browser


def user(session, username: str) -> User | None:
    session.expire_all()
    return session.scalar(select(User).where(User.username == username))


def mails(app) -> list[EmailMessage]:
    """The e-mails the app recorded instead of sending (no SMTP_URL), oldest first."""
    return list(app.extensions.get(OUTBOX_KEY, []))


def changes_of(session, username: str) -> list[UserChange]:
    return list(session.scalars(select(UserChange).where(UserChange.username == username).order_by(UserChange.id)))
