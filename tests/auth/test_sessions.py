"""Sessions that really end: a copied cookie is refused after sign-out, idleness, its lifetime,
a new password and deactivation. Each test is the attack it prevents: someone holding a copy
of a staff member's cookie (a shared computer, a proxy log, malware) tries to use it."""

from __future__ import annotations

from sqlalchemy import event, func, select

from kontaktcenter.auth import sessions
from kontaktcenter.auth.models import AuthEvent, UserSession
from kontaktcenter.auth.service import hash_password
from kontaktcenter.database import BIND_KEY
from kontaktcenter.directory.models import User
from tests.auth.conftest import signed_in
from tests.conftest import csrf_token

PASSWORD = "secret-pass-123"  # make_user's


def _user(session, username: str) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.username == username))


def _events(session, user_id: int, kind: str) -> list[AuthEvent]:
    session.expire_all()
    return list(session.scalars(select(AuthEvent).where(AuthEvent.user_id == user_id, AuthEvent.kind == kind)))


def test_copied_cookie_is_refused_after_logout(client, auth, thief, session):
    assert auth.login("agent").status_code == 302
    copy = thief()
    assert signed_in(copy)  # the copy works while the session lives

    assert auth.logout().status_code == 302
    assert not signed_in(copy)
    assert not signed_in(client)
    agent = _user(session, "agent")
    assert _events(session, agent.id, "logout")
    rows = session.scalars(select(UserSession).where(UserSession.user_id == agent.id)).all()
    assert rows
    assert all(row.revoked_reason == "logout" for row in rows)


def test_logout_ends_every_session_of_the_user_not_only_this_browser(app, client, auth):
    other_browser = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(other_browser).login("agent")
    auth.login("agent")
    auth.logout()
    assert not signed_in(other_browser)


def test_copied_cookie_is_refused_after_31_minutes_idle(client, auth, thief, clock):
    auth.login("agent")
    copy = thief()
    clock.advance(minutes=29)
    assert signed_in(copy)  # activity keeps the session alive…
    clock.advance(minutes=29)
    assert signed_in(client)  # …29 minutes after the last request, not after sign-in
    clock.advance(minutes=31)
    assert not signed_in(copy)
    assert not signed_in(client)


def test_idle_sign_out_says_why(client, auth, clock):
    auth.login("agent")
    clock.advance(minutes=31)
    response = client.get("/console", follow_redirects=True)
    assert "Din inloggning har gått ut. Logga in igen." in response.get_data(as_text=True)


def test_copied_cookie_is_refused_after_12_hours_however_active(client, auth, thief, clock):
    auth.login("agent")
    copy = thief()
    for _ in range(11 * 3):  # a request every 20 minutes for 11 hours
        clock.advance(minutes=20)
        assert signed_in(copy)
    for minutes in (20, 20, 15):  # 11 h 55 min after sign-in
        clock.advance(minutes=minutes)
        assert signed_in(client)
    clock.advance(minutes=5)
    assert not signed_in(copy)
    assert not signed_in(client)


def test_idle_and_lifetime_come_from_the_configuration(app, client, auth, clock, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    auth.login("agent")
    clock.advance(minutes=4)
    assert signed_in(client)
    clock.advance(minutes=5)
    assert not signed_in(client)

    monkeypatch.setitem(app.config, "SESSION_LIFETIME_HOURS", 1)
    auth.login("agent")
    for _ in range(3):
        clock.advance(minutes=20)
    assert not signed_in(client)


def test_password_change_ends_the_other_sessions(app, client, auth, thief, session, make_user):
    user = make_user("agent", queues=("kc-forsta-linjen",))
    session.commit()
    auth.login(user.username, PASSWORD)
    copy = thief()
    assert signed_in(copy)

    response = auth.post(
        "/konto/losenord",
        {"current": PASSWORD, "new": "a-new-long-password", "repeat": "a-new-long-password"},
        csrf_page="/konto/losenord",
    )
    assert response.status_code == 302
    assert not signed_in(copy)  # the copied cookie, and every other browser, is out
    assert signed_in(client)  # the browser that changed it goes on, with a new session
    assert _events(session, user.id, "password_changed")[0].detail == "sessions ended: 1"

    assert auth.logout().status_code == 302
    assert auth.login(user.username, PASSWORD).status_code == 401
    assert auth.login(user.username, "a-new-long-password").status_code == 302


def test_password_change_needs_the_current_password(client, auth, session, make_user):
    user = make_user("agent", queues=("kc-forsta-linjen",))
    session.commit()
    auth.login(user.username, PASSWORD)
    response = auth.post(
        "/konto/losenord",
        {"current": "not-my-password", "new": "a-new-long-password", "repeat": "a-new-long-password"},
        csrf_page="/konto/losenord",
    )
    assert response.status_code == 400
    assert "Fel lösenord." in response.get_data(as_text=True)
    assert _user(session, user.username).password_hash == user.password_hash
    assert signed_in(client)


def test_short_or_mismatched_new_password_is_refused(client, auth, session, make_user):
    user = make_user("agent", queues=("kc-forsta-linjen",))
    session.commit()
    auth.login(user.username, PASSWORD)
    short = auth.post(
        "/konto/losenord", {"current": PASSWORD, "new": "short", "repeat": "short"}, csrf_page="/konto/losenord"
    )
    assert short.status_code == 400
    assert "Lösenordet ska ha minst 12 tecken." in short.get_data(as_text=True)
    other = auth.post(
        "/konto/losenord",
        {"current": PASSWORD, "new": "a-new-long-password", "repeat": "another-long-password"},
        csrf_page="/konto/losenord",
    )
    assert other.status_code == 400
    assert "Lösenorden är inte lika." in other.get_data(as_text=True)


def test_password_set_by_an_administrator_ends_sessions(client, auth, thief, session, runner, make_user):
    user = make_user("agent", queues=("kc-forsta-linjen",))
    session.commit()
    auth.login(user.username, PASSWORD)
    copy = thief()
    result = runner.invoke(
        args=["users", "password", user.username], input="another-long-password\nanother-long-password\n"
    )
    assert result.exit_code == 0, result.output
    assert "sessions ended: 1" in result.output
    assert not signed_in(copy)
    assert not signed_in(client)


def test_password_set_by_any_other_path_ends_sessions_too(client, auth, thief, session, make_user):
    # Code that sets password_hash without change_password() (an import, plain SQL) still ends them.
    user = make_user("agent", queues=("kc-forsta-linjen",))
    session.commit()
    auth.login(user.username, PASSWORD)
    copy = thief()
    _user(session, user.username).password_hash = hash_password("set-elsewhere-123")
    session.commit()
    assert not signed_in(copy)


def test_deactivation_ends_every_session_at_once(app, client, auth, thief, session, runner, make_user):
    user = make_user("agent", queues=("kc-forsta-linjen",))
    session.commit()
    auth.login(user.username, PASSWORD)
    copy = thief()
    from tests.conftest import AuthActions

    laptop = app.test_client()
    AuthActions(laptop).login(user.username, PASSWORD)

    result = runner.invoke(args=["users", "deactivate", user.username])
    assert result.exit_code == 0, result.output
    assert "sessions ended: 2" in result.output
    assert not signed_in(copy)
    assert not signed_in(laptop)
    assert auth.login(user.username, PASSWORD).status_code == 401
    assert _events(session, user.id, "deactivated")


def test_deactivated_in_the_database_is_out_even_without_revocation(client, auth, thief, session, make_user):
    user = make_user("agent", queues=("kc-forsta-linjen",))
    session.commit()
    auth.login(user.username, PASSWORD)
    copy = thief()
    _user(session, user.username).active = False
    session.commit()
    assert not signed_in(copy)


def test_end_sessions_command_signs_a_user_out_everywhere(client, auth, session, runner):
    auth.login("agent")
    result = runner.invoke(args=["users", "end-sessions", "agent"])
    assert result.exit_code == 0, result.output
    assert not signed_in(client)
    assert _events(session, _user(session, "agent").id, "sessions_revoked")


def test_remember_me_cookie_alone_signs_nobody_in(app, client, session):
    # flask-login would load a user from a valid remember_token cookie; without a live
    # server-side session it gives nothing, even signed with the app's own key.
    from flask_login.utils import encode_cookie

    admin = _user(session, "admin")
    with app.test_request_context():
        token = encode_cookie(str(admin.id))
    client.set_cookie("remember_token", token)
    assert client.get("/admin/atkomstlogg").status_code == 302


def test_session_cookie_without_a_server_side_session_is_refused(app, client, session):
    # Even with the app's own key (a leaked key, or a cookie from before sessions were kept):
    # the cookie must name a live session row.
    from flask.sessions import SecureCookieSessionInterface

    admin = _user(session, "admin")
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    for payload in (
        {"_user_id": str(admin.id), "_fresh": True},
        {"_user_id": str(admin.id), "_fresh": True, "kc_session": "made-up-token"},
    ):
        client.set_cookie("session", serializer.dumps(payload))
        assert client.get("/admin/atkomstlogg").status_code == 302


def test_sign_in_and_out_are_in_the_audit_log(client, auth, session):
    auth.login("agent")
    auth.logout()
    agent = _user(session, "agent")
    login = _events(session, agent.id, "login")[-1]
    assert login.username == "agent"
    assert login.client_ip == "127.0.0.1"
    assert login.user_agent.startswith("Werkzeug")
    assert _events(session, agent.id, "logout")[-1].detail == "sessions ended: 1"


def test_last_seen_is_written_at_most_once_a_minute(app, client, auth, clock):
    """The cost of the idle timeout: no write per request, one a minute at most."""
    auth.login("agent")
    writes = []

    def count(_conn, _cursor, statement, _params, _context, _many):
        if statement.lstrip().upper().startswith("UPDATE USER_SESSIONS"):
            writes.append(statement)

    bind = app.extensions[BIND_KEY]  # the test's connection, which every request uses
    event.listen(bind, "before_cursor_execute", count)
    try:
        for _ in range(20):
            clock.advance(seconds=2)
            assert signed_in(client)
        assert len(writes) == 0  # within the first minute of the session
        clock.advance(seconds=30)  # 70 s after sign-in
        for _ in range(10):
            assert signed_in(client)
        assert len(writes) == 1
    finally:
        event.remove(bind, "before_cursor_execute", count)


def test_each_signed_in_request_checks_its_session_in_one_query(app, client, auth, clock):
    auth.login("agent")
    queries = []

    def count(_conn, _cursor, statement, _params, _context, _many):
        if "user_sessions" in statement:
            queries.append(statement)

    bind = app.extensions[BIND_KEY]  # the test's connection, which every request uses
    event.listen(bind, "before_cursor_execute", count)
    try:
        client.get("/console")
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert len(queries) == 1


def test_old_sessions_are_pruned(session, make_user, clock):
    user = make_user("agent")
    session.commit()
    sessions.start(session, user, clock())
    session.commit()
    limits = sessions.Limits.from_config({"SESSION_IDLE_MINUTES": 30, "SESSION_LIFETIME_HOURS": 12})
    assert sessions.prune(session, clock.advance(hours=12), limits.lifetime) == 0
    assert sessions.prune(session, clock.advance(hours=24, seconds=1), limits.lifetime) == 1
    assert session.scalar(select(func.count(UserSession.id)).where(UserSession.user_id == user.id)) == 0


def test_password_page_wears_a_csrf_token(client, auth):
    auth.login("agent")
    assert csrf_token(client, "/konto/losenord")
