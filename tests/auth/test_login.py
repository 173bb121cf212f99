"""Sign-in, sign-out, CSRF and roles."""

from kontaktcenter.directory.models import User


def test_login_with_right_password_opens_console(client, auth):
    response = auth.login("agent")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/console")
    assert client.get("/console").status_code == 200


def test_wrong_password_says_so_in_swedish_and_logs_no_one_in(client, auth):
    response = auth.login("agent", "wrong-password")
    assert response.status_code == 401
    assert "Fel användarnamn eller lösenord." in response.get_data(as_text=True)
    assert client.get("/console").status_code == 302


def test_wrong_password_in_english(client):
    from tests.conftest import csrf_token

    token = csrf_token(client, "/login?lang=en")
    response = client.post("/login?lang=en", data={"username": "agent", "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_unknown_user_gets_the_same_message(auth):
    response = auth.login("nobody", "whatever-123")
    assert "Fel användarnamn eller lösenord." in response.get_data(as_text=True)


def test_missing_csrf_token_is_refused_with_a_clear_message(client):
    response = client.post("/login", data={"username": "agent", "password": "amira-malmo-demo-2026"})
    assert response.status_code == 400
    assert "Säkerhetstoken saknas" in response.get_data(as_text=True)
    assert client.get("/console").status_code == 302


def test_passwords_are_stored_hashed(session):
    from sqlalchemy import select

    user = session.scalar(select(User).where(User.username == "agent"))
    assert "amira-malmo-demo-2026" not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_logout_ends_the_session(client, auth):
    auth.login("agent")
    assert auth.logout().status_code == 302
    assert client.get("/console").status_code == 302


def test_anonymous_is_sent_to_login(client):
    response = client.get("/console")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_wrong_role_is_forbidden(client, auth):
    auth.login("bibliotek")  # location_staff has no console
    response = client.get("/console")
    assert response.status_code == 403
    assert "Åtkomst nekad" in response.get_data(as_text=True)


def test_open_redirect_after_login_is_ignored(client):
    from tests.conftest import csrf_token

    token = csrf_token(client)
    response = client.post(
        "/login?next=https://evil.example/",
        data={"username": "agent", "password": "amira-malmo-demo-2026", "csrf_token": token},
    )
    assert response.headers["Location"].endswith("/console")


def test_session_cookie_is_httponly_and_samesite(client, auth):
    response = auth.login("agent")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_production_cookies_are_secure(tmp_path):
    import secrets

    from kontaktcenter.app import create_app
    from kontaktcenter.database import ENGINE_KEY

    app = create_app(
        {
            "ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions[ENGINE_KEY].dispose()


def test_every_route_is_either_public_or_role_guarded(app):
    """No staff page can be added without the role decorator."""
    unguarded = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in ("static", "healthz", "readyz", "index"):
            continue
        if not getattr(view, "public", False) and not getattr(view, "allowed_roles", None):
            unguarded.append(rule.rule)
    assert unguarded == []
