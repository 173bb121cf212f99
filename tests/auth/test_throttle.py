"""Password guessing is throttled per account and per client address, on Flask-Limiter's
storage, with a lockout that grows; every attempt is in the audit log, never the password."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
import redis
from limits.storage import MemoryStorage
from sqlalchemy import select

from kontaktcenter.auth import throttle
from kontaktcenter.auth.models import AuthEvent
from kontaktcenter.extensions import limiter
from tests.auth.conftest import signed_in
from tests.conftest import AuthActions, csrf_token

RIGHT = "amira-malmo-demo-2026"  # the demo agent's password


def _browser(app, ip: str):
    """A browser at its own address (the per-client limit is per address)."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = ip
    return browser, AuthActions(browser)


def _events(session, **where) -> list[AuthEvent]:
    session.expire_all()
    stmt = select(AuthEvent).order_by(AuthEvent.id)
    for column, value in where.items():
        stmt = stmt.where(getattr(AuthEvent, column) == value)
    return list(session.scalars(stmt))


def test_eleventh_attempt_in_a_minute_is_refused_even_with_the_right_password(app, session):
    browser, auth = _browser(app, "198.51.100.7")
    for _ in range(10):
        assert auth.login("agent", "guess-" + uuid.uuid4().hex[:6]).status_code == 401

    response = auth.login("agent", RIGHT)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "För många misslyckade inloggningsförsök. Vänta 1 min och försök igen." in page
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert not signed_in(browser)

    failed = _events(session, kind="login_failed", client_ip="198.51.100.7")
    throttled = _events(session, kind="login_throttled", client_ip="198.51.100.7")
    assert len(failed) == 10
    assert len(throttled) == 1
    assert {e.username for e in failed + throttled} == {"agent"}
    assert throttled[0].user_id == failed[0].user_id is not None
    for event in failed + throttled:  # the username tried, never the password
        assert "guess-" not in event.detail + event.username
        assert RIGHT not in event.detail + event.username


def test_the_account_stays_locked_from_every_address(app, session):
    _browser_a, attacker = _browser(app, "198.51.100.8")
    for _ in range(10):
        attacker.login("agent", "wrong-password")
    # The attacker moves to another address: the account's own limit still holds.
    _browser_b, moved = _browser(app, "203.0.113.9")
    assert moved.login("agent", RIGHT).status_code == 429
    # Other accounts are not locked by it.
    _browser_c, colleague = _browser(app, "203.0.113.10")
    assert colleague.login("agent2").status_code == 302


def test_one_address_guessing_many_accounts_is_refused(app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_CLIENT", "5 per minute")
    _browser_a, sprayer = _browser(app, "198.51.100.20")
    for n in range(5):
        assert sprayer.login(f"user-{n}", "Sommar2026!").status_code == 401
    assert sprayer.login("agent", RIGHT).status_code == 429
    # Someone at another address signs in as usual.
    _browser_b, elsewhere = _browser(app, "198.51.100.21")
    assert elsewhere.login("agent", RIGHT).status_code == 302


def test_unknown_usernames_are_throttled_alike(app):
    # So the answer never tells whether an account exists.
    _browser_a, auth = _browser(app, "198.51.100.30")
    for _ in range(10):
        assert auth.login("no-such-user", "x-password").status_code == 401
    assert auth.login("no-such-user", "x-password").status_code == 429


def test_the_refusal_in_english(app):
    browser, auth = _browser(app, "198.51.100.40")
    for _ in range(10):
        auth.login("agent", "wrong-password")
    token = csrf_token(browser, "/login?lang=en")
    response = browser.post("/login?lang=en", data={"username": "agent", "password": RIGHT, "csrf_token": token})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts. Wait 1 min and try again." in response.get_data(as_text=True)


def test_successful_sign_ins_are_not_counted(app):
    _browser_a, auth = _browser(app, "198.51.100.50")
    for _ in range(11):  # one more than the failures allowed
        assert auth.login("agent").status_code == 302


class FakeTime:
    """time.time() for the limiter's memory storage, moved by the test."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now


def test_the_lockout_grows_with_repeated_failures(app, monkeypatch):
    if not isinstance(limiter.storage, MemoryStorage):
        pytest.skip("moves the clock of the limiter's memory storage")
    fake = FakeTime(1_900_000_000.0)
    monkeypatch.setattr("limits.storage.memory.time", fake)
    monkeypatch.setattr(throttle, "time", fake)
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_ACCOUNT", "3 per minute; 5 per hour")
    _browser_a, auth = _browser(app, "198.51.100.60")

    for _ in range(3):
        assert auth.login("agent", "wrong-password").status_code == 401
    first = auth.login("agent", RIGHT)
    assert first.status_code == 429
    assert int(first.headers["Retry-After"]) <= 60  # the first lockout: a minute

    fake.now += 61
    for _ in range(2):
        assert auth.login("agent", "wrong-password").status_code == 401
    second = auth.login("agent", RIGHT)
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) > 55 * 60  # the next one: the rest of the hour
    assert "Vänta 59 min" in second.get_data(as_text=True)

    fake.now += 3600
    assert auth.login("agent", RIGHT).status_code == 302


def test_the_password_page_is_throttled_like_sign_in(app, client, auth, monkeypatch):
    # A stolen session must not become a way to guess the password faster.
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_ACCOUNT", "2 per minute")
    auth.login("agent")
    data = {"current": "wrong-password", "new": "a-new-long-password", "repeat": "a-new-long-password"}
    assert auth.post("/konto/losenord", data, csrf_page="/konto/losenord").status_code == 400
    assert auth.post("/konto/losenord", data, csrf_page="/konto/losenord").status_code == 400
    data["current"] = RIGHT
    assert auth.post("/konto/losenord", data, csrf_page="/konto/losenord").status_code == 429


def test_audit_page_lists_the_attempts_for_administrators(app, client, auth, session):
    _browser_a, other = _browser(app, "198.51.100.70")
    other.login("agent", "wrong-password")
    auth.login("admin")
    page = client.get("/admin/inloggningar?user=agent&kind=login_failed")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Misslyckad inloggning" in text
    assert "198.51.100.70" in text
    auth.logout()
    auth.login("agent")
    assert client.get("/admin/inloggningar").status_code == 403


# -- several web workers: the count is shared through Redis ----------------------------

REDIS_URL = "redis://127.0.0.1:6379/15"
WORKER = """
import json, sys
from kontaktcenter.app import create_app
app = create_app({"TESTING": True, "DATABASE_URL": sys.argv[1], "SECRET_KEY": "t", "REDIS_URL": sys.argv[2],
                  "RATELIMIT_ENABLED": True, "RATELIMIT_KEY_PREFIX": sys.argv[3], "LOGIN_LIMIT_ACCOUNT": "3 per minute",
                  "WTF_CSRF_ENABLED": False})
client = app.test_client()
print(json.dumps([client.post("/login", data={"username": sys.argv[4], "password": "wrong-password"}).status_code
                  for _ in range(2)]))
"""


def _worker(database_url: str, prefix: str, username: str) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, database_url, REDIS_URL, prefix, username],  # noqa: S603 - our own script
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_web_workers_count_one_accounts_failures_together(app, database_url):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"kc-test-{uuid.uuid4().hex}"
    username = f"nobody-{uuid.uuid4().hex[:8]}"  # its audit rows, committed by the workers, name no real account
    try:
        assert _worker(database_url, prefix, username) == [401, 401]
        assert _worker(database_url, prefix, username) == [401, 429]
    finally:
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(f"*{prefix}*"):
            r.delete(key)
