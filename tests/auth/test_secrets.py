"""No public secrets: a key or token written anywhere in this repository opens nothing.

The attack: someone reads the source (it is open), takes a key string from it, and forges a
staff member's session cookie, or signs an SMS as Twilio. Without SECRET_KEY the app makes
its own random key in the instance folder; without TWILIO_AUTH_TOKEN it refuses Twilio.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import stat
import subprocess
import sys

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

from kontaktcenter.app import SECRET_KEY_FILE, create_app
from kontaktcenter.commands import upgrade_database
from kontaktcenter.config import PROJECT_ROOT, ConfigError, instance_secret, load_config
from kontaktcenter.database import ENGINE_KEY, db
from kontaktcenter.demo import load_demo_users
from kontaktcenter.directory.service import load_catalogue
from tests.conftest import DEMO_PASSWORDS, AuthActions
from tests.fixtures.twilio import twilio_post
from tests.fixtures.two_factor import enrol_demo_staff

STAFF_PAGE = "/admin/atkomstlogg"  # an administrator's page
SKIP_DIRS = {".venv", "instance", ".git", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist"}
TEXT_SUFFIXES = {
    ".py",
    ".toml",
    ".md",
    ".cfg",
    ".txt",
    ".yaml",
    ".yml",
    ".html",
    ".ini",
    ".json",
    ".csv",
    ".conf",
    ".po",
    ".sh",
}
QUOTED = re.compile(r'"([^"\n]{1,200})"|\'([^\'\n]{1,200})\'')
# Lines that set or mention a secret: their strings are the likeliest keys to try first.
SECRETISH = re.compile(r"secret|key|token|password", re.IGNORECASE)


def repository_strings() -> tuple[set[str], set[str]]:
    """Every string written in the repository (Python literals, quoted strings elsewhere),
    and those on lines that look like they set a secret."""
    every, likely = set(), set()
    for path in PROJECT_ROOT.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(PROJECT_ROOT).parts):
            continue
        if not path.is_file() or (path.suffix not in TEXT_SUFFIXES and path.parent.name != ".ci"):
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".py":
            try:
                tree = ast.parse(text)
            except SyntaxError:
                tree = None
            for node in ast.walk(tree) if tree else ():
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and 0 < len(node.value) <= 200:
                    every.add(node.value)
        for line in text.splitlines():
            for match in QUOTED.finditer(line):
                value = match.group(1) or match.group(2)
                every.add(value)
                if SECRETISH.search(line):
                    likely.add(value)
    # A key must be text that encodes: a lone surrogate (the bad-input tests hold some) is no key.
    encodes = {value for value in every if value.isascii() or _encodes(value)}
    return encodes, likely & encodes


def _encodes(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _without_secrets_in_environment(monkeypatch) -> None:
    for name in ("SECRET_KEY", "TWILIO_AUTH_TOKEN", "ENV", "KONTAKTCENTER_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def normal_app(tmp_path, monkeypatch):
    """The app as an installation runs it without SECRET_KEY: its own database and instance folder."""
    _without_secrets_in_environment(monkeypatch)
    url = f"sqlite:///{tmp_path / 'normal.sqlite3'}"
    upgrade_database(url)
    app = create_app({"DATABASE_URL": url}, instance_path=str(tmp_path / "instance"))
    with app.app_context():
        load_catalogue(db.session)
        load_demo_users(db.session, DEMO_PASSWORDS)
        enrol_demo_staff(db.session, app.config)
        db.session.commit()
        db.session.remove()
    yield app
    app.extensions[ENGINE_KEY].dispose()


_FORGER = Flask("forger")  # Flask's own cookie signing, with whatever key the attacker holds


def _signer(key: str):
    _FORGER.secret_key = key
    return SecureCookieSessionInterface().get_signing_serializer(_FORGER)


def test_cookie_signed_with_any_key_in_the_repository_is_refused(normal_app):
    browser = normal_app.test_client()
    assert AuthActions(browser).login("admin").status_code == 302
    assert browser.get(STAFF_PAGE).status_code == 200
    # The attacker's payload is the real thing: an administrator's live session.
    genuine = browser.get_cookie("session").value
    payload = _signer(normal_app.secret_key).loads(genuine)
    assert payload["_user_id"]
    assert payload["kc_session"]

    every, likely = repository_strings()
    assert {
        "dev-only-not-secret",
        "test-secret",
        "test-auth-token",
        "live-secret",
    } <= every  # the sweep finds the old keys
    assert normal_app.secret_key not in every

    # Control: the same forgery with the app's own key gets in, so the refusals below are the key's.
    attacker = normal_app.test_client()
    attacker.set_cookie("session", _signer(normal_app.secret_key).dumps(payload))
    assert attacker.get(STAFF_PAGE).status_code == 200

    for key in sorted(likely):  # over HTTP, as an attacker would
        attacker.set_cookie("session", _signer(key).dumps(payload))
        response = attacker.get(STAFF_PAGE)
        assert response.status_code == 302, key
        assert "/login" in response.headers["Location"], key
    # Every other string in the repository, straight against the app's cookie check.
    check = SecureCookieSessionInterface().get_signing_serializer(normal_app)
    for key in every - likely:
        with pytest.raises(BadSignature):
            check.loads(_signer(key).dumps(payload))


def test_without_secret_key_a_private_random_key_is_made_once_and_reused(tmp_path, monkeypatch):
    _without_secrets_in_environment(monkeypatch)
    instance = tmp_path / "instance"
    url = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    first = create_app({"DATABASE_URL": url}, instance_path=str(instance))
    key_file = instance / SECRET_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.secret_key == key_file.read_text().strip()
    assert len(first.secret_key.encode()) >= 32

    again = create_app({"DATABASE_URL": url}, instance_path=str(instance))  # the next start, or another worker
    assert again.secret_key == first.secret_key
    other_installation = create_app({"DATABASE_URL": url}, instance_path=str(tmp_path / "elsewhere"))
    assert other_installation.secret_key != first.secret_key
    for app in (first, again, other_installation):
        app.extensions[ENGINE_KEY].dispose()


RACE = """
import sys, time
from pathlib import Path
from kontaktcenter.config import instance_secret
while time.time() < float(sys.argv[2]):
    pass
print(instance_secret(Path(sys.argv[1]), "secret_key"))
"""


def test_workers_starting_at_once_agree_on_one_key(tmp_path):
    import time

    start = time.time() + 2.0  # every process is up before any of them looks for the file
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(tmp_path), str(start)],  # noqa: S603 - our own script
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    keys = {worker.communicate(timeout=60)[0].strip() for worker in workers}
    assert len(keys) == 1
    assert len(keys.pop()) >= 32
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no candidate files left behind


def test_a_key_file_other_users_can_read_is_refused(tmp_path):
    instance_secret(tmp_path, "secret_key")
    os.chmod(tmp_path / "secret_key", 0o644)  # noqa: S103 - the mistake under test
    with pytest.raises(ConfigError, match="chmod 600"):
        instance_secret(tmp_path, "secret_key")


def test_an_empty_key_file_is_refused_not_used(tmp_path):
    (tmp_path / "secret_key").write_text("")
    os.chmod(tmp_path / "secret_key", 0o600)
    with pytest.raises(ConfigError, match="no usable secret"):
        instance_secret(tmp_path, "secret_key")


def test_production_refuses_a_short_key(monkeypatch):
    _without_secrets_in_environment(monkeypatch)
    with pytest.raises(ConfigError, match="shorter than 32 bytes"):
        load_config({"ENV": "production", "SECRET_KEY": "x" * 31})
    with pytest.raises(ConfigError, match="shorter than 32 bytes"):
        create_app({"ENV": "production", "SECRET_KEY": "dev-only-not-secret"})
    assert load_config({"ENV": "production", "SECRET_KEY": "å" * 16})  # 32 bytes in UTF-8


def test_production_refuses_to_start_without_a_key_rather_than_make_one(monkeypatch, tmp_path):
    _without_secrets_in_environment(monkeypatch)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app({"ENV": "production"}, instance_path=str(tmp_path))
    assert not (tmp_path / SECRET_KEY_FILE).exists()


# -- Twilio: no public token -------------------------------------------------------------

SMS = {
    "AccountSid": "AC" + "0" * 32,
    "MessageSid": "SM" + "1" * 32,
    "From": "+46709876543",
    "To": "+46406000000",
    "Body": "Hej",
    "NumMedia": "0",
}


def test_the_source_holds_no_default_secret():
    source = "\n".join(p.read_text() for p in (PROJECT_ROOT / "kontaktcenter").rglob("*.py"))
    source += (PROJECT_ROOT / "config" / "default.toml").read_text()
    for old in ("dev-only-not-secret", "dev-only-twilio-token"):
        assert old not in source
    assert not re.search(r"^\s*(SECRET_KEY|TWILIO_AUTH_TOKEN)\s*=\s*\"[^\"]", source, re.MULTILINE)


def test_without_a_twilio_token_every_webhook_is_refused_and_logged(app, client, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", "")
    with caplog.at_level(logging.ERROR, logger="kontaktcenter.channels.twilio_security"):
        for token in ("dev-only-twilio-token", ""):  # the former public default; an empty key
            assert twilio_post(client, "/twilio/sms/incoming", SMS, token=token).status_code == 403
    assert "TWILIO_AUTH_TOKEN is not set: refusing the Twilio request to /twilio/sms/incoming" in caplog.text


def test_an_sms_signed_with_a_repository_string_is_refused(app, client):
    # The test app's token is itself in the repository; any other string there is not it.
    for token in ("dev-only-twilio-token", "test-secret", "demo"):
        assert twilio_post(client, "/twilio/sms/incoming", SMS, token=token).status_code == 403


def test_the_demo_makes_its_own_token_and_the_simulator_signs_with_it(tmp_path, monkeypatch):
    from kontaktcenter.channels.twilio_security import DEMO_TOKEN_FILE, auth_token, signing_token, use_demo_token

    _without_secrets_in_environment(monkeypatch)
    url = f"sqlite:///{tmp_path / 'd.sqlite3'}"
    demo = create_app({"DATABASE_URL": url}, instance_path=str(tmp_path / "instance"))
    simulator = create_app(
        {"DATABASE_URL": url}, instance_path=str(tmp_path / "instance")
    )  # another process, same place
    assert auth_token(demo) == ""
    assert signing_token(simulator) == ""

    token = use_demo_token(demo)
    assert auth_token(demo) == token
    assert token.startswith("demo-")
    assert len(token) > 40
    assert stat.S_IMODE((tmp_path / "instance" / DEMO_TOKEN_FILE).stat().st_mode) == 0o600
    assert signing_token(simulator) == token
    assert auth_token(simulator) == ""  # a server that is not the demo still refuses Twilio
    for app in (demo, simulator):
        app.extensions[ENGINE_KEY].dispose()


def test_simulate_without_any_token_says_what_is_missing(tmp_path, monkeypatch):
    _without_secrets_in_environment(monkeypatch)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}"}, instance_path=str(tmp_path / "instance"))
    result = app.test_cli_runner().invoke(args=["simulate", "sms", "--n", "1", "--base-url", "http://127.0.0.1:9"])
    assert result.exit_code != 0
    assert "TWILIO_AUTH_TOKEN is not set" in result.output
    app.extensions[ENGINE_KEY].dispose()


def test_the_demo_says_it_uses_a_demo_token(tmp_path, monkeypatch):
    """`kontaktcenter demo` announces its token before serving (the server itself is not started here)."""
    import werkzeug.serving

    import kontaktcenter.scheduling.runner as runner
    from kontaktcenter.channels.twilio_security import auth_token

    _without_secrets_in_environment(monkeypatch)
    served = {}
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda host, port, app, **kw: served.update(app=app, host=host))
    monkeypatch.setattr(runner, "start_in_process", lambda app: None)
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}, instance_path=str(tmp_path / "instance")
    )
    result = app.test_cli_runner().invoke(args=["demo", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert "demo token" in result.output
    assert "Never for a real Twilio account" in result.output
    assert served["host"] == "127.0.0.1"
    assert auth_token(served["app"]) == (tmp_path / "instance" / "twilio_demo_token").read_text().strip()
    app.extensions[ENGINE_KEY].dispose()


def test_the_generated_secrets_stay_out_of_git():
    assert "instance/" in (PROJECT_ROOT / ".gitignore").read_text().split()
