"""Test fixtures: one migrated database per test session, a rollback per test.

The database is SQLite by default; set KC_TEST_DATABASE_URL to a PostgreSQL URL to run
the same suite on PostgreSQL (.ci/run does). Tests marked `postgres` need PostgreSQL's
own behaviour; they skip on SQLite and are required when KC_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest
from sqlalchemy import create_engine, text

from kontaktcenter.app import create_app
from kontaktcenter.commands import upgrade_database
from kontaktcenter.database import BIND_KEY, ENGINE_KEY, AppSession, db
from kontaktcenter.demo import load_demo_users
from kontaktcenter.directory.service import load_catalogue
from kontaktcenter.live.feed import feed_of
from tests.fixtures.two_factor import code_for, enrol_demo_staff

pytest_plugins = [
    "tests.fixtures.factories",
    "tests.fixtures.browser",
    "tests.fixtures.routes",
    "tests.fixtures.oidc_provider",
]
CODE_PAGE = "/login/kod"

PG_URL = os.environ.get("KC_TEST_DATABASE_URL", "")

# The tests' own demo passwords, fixed so a test can sign in; a real demo makes its own
# per installation (demo.demo_passwords).
DEMO_PASSWORDS = {  # each passes the password policy (auth/passwords.py)
    "agent": "amira-malmo-demo-2026",
    "agent2": "johan-malmo-demo-2026",
    "filial": "sara-malmo-demo-2026",
    "handlaggare": "per-malmo-demo-2026",
    "bygglov": "lena-malmo-demo-2026",
    "samordnare": "maria-malmo-demo-2026",
    "kultursamordnare": "ali-malmo-demo-2026",
    "chef": "eva-malmo-demo-2026",
    "admin": "styrning-malmo-demo-2026",
    "bibliotek": "kim-malmo-demo-2026",
    "dataskydd": "nora-malmo-demo-2026",
}


def _fresh_postgres(url: str) -> str:
    """A new database per test session, dropped afterwards, on the server in `url`."""
    name = f"kc_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(re.sub(r"/[^/]+$", "/postgres", url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return re.sub(r"/[^/]+$", f"/{name}", url)


def _drop_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(re.sub(r"/[^/]+$", "/postgres", url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if PG_URL:
        url = _fresh_postgres(PG_URL)
        yield url
        _drop_postgres(url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def pytest_collection_modifyitems(config, items):
    require_pg = os.environ.get("KC_REQUIRE_POSTGRES") == "1"
    for item in items:
        if "postgres" in item.keywords and not PG_URL:
            if require_pg:
                raise pytest.UsageError("KC_REQUIRE_POSTGRES=1 but KC_TEST_DATABASE_URL is not set")
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set KC_TEST_DATABASE_URL"))


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The application on a migrated database holding the Malmö catalogue and demo users."""
    upgrade_database(database_url)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "PUBLIC_BASE_URL": "http://localhost",
            "TWILIO_AUTH_TOKEN": "test-auth-token",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "RATELIMIT_ENABLED": True,
            # Calls are pulled in the tests unless a test turns automatic distribution on
            # (tests/channels/voice/test_distribution.py): an available agent would otherwise
            # be rung by every call another test queues.
            "phone": {"automatic_distribution": False},
        }
    )
    with app.app_context():
        load_catalogue(db.session)
        load_demo_users(db.session, DEMO_PASSWORDS)
        enrol_demo_staff(db.session, app.config)  # admin and manager must sign in with a code
        db.session.commit()
    yield app
    feed_of(app).stop()  # its listener would outlive the test database and keep reconnecting
    db.session.remove()
    app.extensions[ENGINE_KEY].dispose()


@pytest.fixture
def session(app):
    """The test's own session, on the same connection as the app's requests.

    Everything the test and the app do happens inside one outer transaction that is
    rolled back afterwards. A commit (by the test or a request) releases a savepoint,
    so committed data is visible to later requests. Requests get their own app context
    and session, exactly as in production.
    """
    engine = app.extensions[ENGINE_KEY]
    connection = engine.connect()
    outer = connection.begin()
    if connection.dialect.name == "sqlite":
        # pysqlite emits no BEGIN of its own before a SAVEPOINT: without this the first
        # savepoint opens the transaction and its RELEASE commits it, so data leaked
        # from test to test.
        connection.exec_driver_sql("BEGIN")
    app.extensions[BIND_KEY] = connection
    test_session = AppSession(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    try:
        yield test_session
    finally:
        test_session.close()
        db.session.remove()
        outer.rollback()
        connection.close()
        app.extensions[BIND_KEY] = engine


@pytest.fixture
def client(app, session):
    return app.test_client()


@pytest.fixture
def runner(app, session):
    return app.test_cli_runner()


@pytest.fixture
def department_closing_days(app, monkeypatch):
    """install({"kultur": ["2026-05-15"]}): the app's calendar gets these klämdagar for this test only."""
    from kontaktcenter.worktime.calendar import EXTENSION_KEY, calendar_from_config

    def install(days: dict[str, list[str]]):
        section = {**(app.config.get("calendar") or {}), "department_closing_days": days}
        calendar = calendar_from_config({**app.config, "calendar": section})
        monkeypatch.setitem(app.extensions, EXTENSION_KEY, calendar)
        return calendar

    return install


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, username: str = "agent", password: str | None = None, code: str | None = None):
        """Sign in through the form; a user with an authenticator types its current code next
        (or `code`, e.g. a recovery code). The last answer: a redirect when signed in."""
        if password is None:
            password = DEMO_PASSWORDS[username]
        token = csrf_token(self.client)
        response = self.client.post("/login", data={"username": username, "password": password, "csrf_token": token})
        if response.status_code != 302 or not response.headers["Location"].startswith(CODE_PAGE):
            return response
        return self.code(code if code is not None else code_for(self.client.application, username))

    def code(self, code: str):
        """The second step: type `code` on the code page."""
        return self.client.post(CODE_PAGE, data={"code": code, "csrf_token": csrf_token(self.client, CODE_PAGE)})

    def post(self, path: str, data: dict | None = None, **kw):
        """POST a staff form with a valid CSRF token."""
        data = dict(data or {})
        data["csrf_token"] = csrf_token(self.client, "/console" if "csrf_page" not in kw else kw.pop("csrf_page"))
        return self.client.post(path, data=data, **kw)

    def logout(self):
        return self.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)
