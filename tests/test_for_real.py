"""The README's "Run it for real", end to end, as real processes: from an empty database,
`kontaktcenter db upgrade`, `directory load`, `users create --link`, gunicorn with a
production configuration and a real SMTP server; the first administrator sets a password
through the link, signs in, enrols two-factor sign-in, creates an agent; the agent sets a
password through the e-mailed link and takes the ticket a citizen made through /kontakt.

On PostgreSQL (KC_TEST_DATABASE_URL) a new, empty database; otherwise a new SQLite file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pyotp
import pytest
import requests
from aiosmtpd.controller import Controller

from tests.conftest import PG_URL, _drop_postgres, _fresh_postgres

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from _common import free_port, start_gunicorn, stop  # noqa: E402

KONTAKTCENTER = str(Path(sys.executable).with_name("kontaktcenter"))
LINK = re.compile(r"https?://\S+/konto/satt-losenord/[A-Za-z0-9_-]+")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ADMIN_PASSWORD = "kvällssol-över-ribban-1902"  # noqa: S105 - a throwaway installation's
AGENT_PASSWORD = "lugna-vatten-i-pildammarna"  # noqa: S105


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def empty_database(tmp_path):
    if PG_URL:
        url = _fresh_postgres(PG_URL)
        yield url
        _drop_postgres(url)
    else:
        yield f"sqlite:///{tmp_path / 'real.sqlite3'}"


@pytest.fixture
def smtp():
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


def _kc(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [KONTAKTCENTER, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )  # noqa: S603
    assert done.returncode == 0, f"kontaktcenter {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


class Browser:
    """A browser behind the city's TLS proxy, which is left out here: the proxy says https
    (TRUSTED_PROXIES = 1), and the production cookies, Secure, go over the loopback as the
    proxy would send them. Redirects are followed here, with the cookies each one sets."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()
        self.http.headers["X-Forwarded-Proto"] = "https"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def _send(self, method: str, url: str, **kw) -> requests.Response:
        for _ in range(10):
            for cookie in self.http.cookies:
                cookie.secure = False
            response = self.http.request(method, url, allow_redirects=False, timeout=30, **kw)
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            method, url, kw = "GET", self.url(response.headers["Location"]), {}
        raise AssertionError(f"too many redirects from {url}")

    def get(self, path: str) -> requests.Response:
        return self._send("GET", self.url(path))

    def post(self, path: str, data: dict, form_page: str | None = None) -> requests.Response:
        page = self.get(form_page or path)
        token = CSRF.search(page.text)
        assert token, f"no form on {form_page or path}"
        # A browser sends the form page (https, as it sees it) as Referer unless the page forbids
        # it; over HTTPS the CSRF check requires it.
        referer = (
            {}
            if page.headers.get("Referrer-Policy") == "no-referrer"
            else {"Referer": page.url.replace("http:", "https:", 1)}
        )
        return self._send("POST", self.url(path), data={**data, "csrf_token": token.group(1)}, headers=referer)


def test_the_readme_for_real_gives_a_working_system(empty_database, smtp, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "production.toml"
    config.write_text('ENV = "production"\nTRUSTED_PROXIES = 1\nSCHEDULER_ENABLED = false\n', encoding="utf-8")
    env = {
        **os.environ,
        "KONTAKTCENTER_CONFIG": str(config),
        "DATABASE_URL": empty_database,
        "SECRET_KEY": "for-real-" + "k" * 40,
        "PUBLIC_BASE_URL": base,
        "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "MAIL_FROM": "kontaktcenter@malmo.example",
    }

    # The README's commands, step 4.
    _kc(env, "db", "upgrade")
    assert "services: 31 created" in _kc(env, "directory", "load", str(ROOT / "config" / "directory.malmo.toml"))
    created = _kc(
        env,
        "users",
        "create",
        "anna.admin",
        "--role",
        "admin",
        "--department",
        "serviceforvaltningen",
        "--name",
        "Anna Admin",
        "--email",
        "anna.admin@malmo.example",
        "--link",
    )
    admin_link = LINK.search(created).group(0)
    assert admin_link.startswith(base)
    refused = subprocess.run(
        [KONTAKTCENTER, "demo", "--no-serve"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )  # noqa: S603
    assert refused.returncode != 0
    assert "production" in refused.stdout + refused.stderr

    server = start_gunicorn("wsgi:app", port, env, workers=2)
    try:
        # The first administrator: the link, the password, then two-factor enrolment (required).
        admin = Browser(base)
        assert admin.post(admin_link, {"new": ADMIN_PASSWORD, "repeat": ADMIN_PASSWORD}).url == base + "/login"
        assert admin.get(admin_link).status_code == 404  # once
        signed = admin.post("/login", {"username": "anna.admin", "password": ADMIN_PASSWORD})
        assert signed.url.startswith(base + "/konto/tvastegsverifiering"), signed.url
        assert admin.get("/admin/anvandare").url.startswith(base + "/konto/tvastegsverifiering")  # nothing before it
        secret = re.search(r'id="secret">([A-Z2-7 ]+)<', signed.text).group(1).replace(" ", "")
        enrolled = admin.post("/konto/tvastegsverifiering", {"code": pyotp.TOTP(secret).now()})
        assert enrolled.status_code == 200
        assert "recovery-codes" in enrolled.text

        # … who creates an agent; the welcome link goes out by e-mail.
        made = admin.post(
            "/admin/anvandare/ny",
            {
                "username": "omar.agent",
                "name": "Omar Agent",
                "email": "omar@malmo.example",
                "role": "agent",
                "department": "serviceforvaltningen",
                "location": "kc-malmo",
                "queues": ["kc-forsta-linjen"],
                "languages": ["sv"],
                "phone_identity": "",
                "max_open_tickets": "5",
            },
        )
        assert made.status_code == 200, made.text[:2000]
        assert "/admin/anvandare/" in made.url
        welcome = [m for m in smtp.messages if m["To"] == "omar@malmo.example"]
        assert len(welcome) == 1
        agent_link = LINK.search(welcome[0].get_content()).group(0)

        # A citizen writes through the web form.
        citizen = Browser(base)
        receipt = citizen.post(
            "/kontakt",
            {
                "service": "allmant",
                "text": "När töms soptunnorna på Möllan?",
                "reply_channel": "email",
                "email": "medborgare@example.se",
            },
        )
        reference = re.search(r"KC-\d{4}-\d{6}", receipt.text).group(0)

        # The agent sets a password through the link, signs in and takes the next ticket: that one.
        agent = Browser(base)
        assert agent.post(agent_link, {"new": AGENT_PASSWORD, "repeat": AGENT_PASSWORD}).status_code == 200
        console = agent.post("/login", {"username": "omar.agent", "password": AGENT_PASSWORD})
        assert console.url == base + "/console"
        agent.post("/console/presence", {"presence": "available"}, form_page="/console")
        taken = agent.post("/console/next", {}, form_page="/console")
        assert taken.url == f"{base}/tickets/{reference}", taken.url
        assert "När töms soptunnorna på Möllan?" in taken.text
    finally:
        stop(server)
