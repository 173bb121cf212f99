"""Single sign-on against a real OpenID Connect provider on 127.0.0.1 (tests/fixtures/oidc_provider.py).

Every request between the application and the provider is real HTTP: discovery, the
JWKS, the code swap with PKCE and the ID token's verification.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from kontaktcenter.auth.models import AuthEvent, UserSession
from kontaktcenter.directory.models import Department, User
from tests.auth.conftest import signed_in
from tests.conftest import csrf_token


def start(client, provider) -> str:
    """The browser goes to the provider; the provider's answer: the callback URL with code and state."""
    response = client.get("/login/sso")
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(f"{provider.issuer}/authorize?")
    for asked in ("code_challenge=", "code_challenge_method=S256", "nonce=", "state="):
        assert asked in location
    at_provider = requests.get(location, allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    return at_provider.headers["Location"]


def sso_sign_in(client, provider):
    return client.get(start(client, provider))


def user_by_subject(session, sub: str) -> User | None:
    session.expire_all()
    return session.scalar(select(User).where(User.oidc_subject == sub))


def events(session, kind: str) -> list[AuthEvent]:
    return list(session.scalars(select(AuthEvent).where(AuthEvent.kind == kind).order_by(AuthEvent.id)))


def user_count(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


def test_first_sign_in_creates_the_user_with_the_role_from_the_group_claim(sso_app, oidc_provider, client, session):
    response = sso_sign_in(client, oidc_provider)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/console")
    assert signed_in(client)
    user = user_by_subject(session, "sub-anna-1")
    assert (user.username, user.name, user.email, user.role) == (
        "anna.andersson@malmo.se",
        "Anna Andersson",
        "anna.andersson@malmo.se",
        "agent",
    )
    assert user.department.code == "serviceforvaltningen"
    assert user.oidc_issuer == oidc_provider.issuer
    assert not user.password_hash.startswith(("scrypt:", "pbkdf2:")), "an SSO account has no local password"
    assert [e.detail for e in events(session, "login")][-1] == "single sign-on"
    # The same server-side session as a password sign-in: idle and lifetime limits apply.
    assert session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)) == 1
    assert "created: role agent" in events(session, "sso_account")[-1].detail


def test_the_first_mapped_group_decides_when_the_user_has_several(sso_app, oidc_provider, client, session):
    oidc_provider.user.groups = ["asf-handlaggare", "kc-agents", "kc-admins", "unmapped"]
    assert sso_sign_in(client, oidc_provider).status_code == 302
    assert user_by_subject(session, "sub-anna-1").role == "admin"  # kc-admins is listed first in the map


def test_groups_given_only_at_userinfo_are_used(sso_app, oidc_provider, client, session):
    oidc_provider.user.groups_in_id_token = False
    oidc_provider.user.groups = ["asf-handlaggare"]
    assert sso_sign_in(client, oidc_provider).status_code == 302
    user = user_by_subject(session, "sub-anna-1")
    assert (user.role, user.department.code) == ("caseworker", "asf")


def test_a_later_sign_in_with_a_changed_group_updates_the_role(sso_app, oidc_provider, app, session):
    first = app.test_client()
    assert sso_sign_in(first, oidc_provider).status_code == 302
    oidc_provider.user.groups = ["asf-handlaggare"]
    oidc_provider.user.name = "Anna Andersson Berg"
    second = app.test_client()
    assert sso_sign_in(second, oidc_provider).status_code == 302
    user = user_by_subject(session, "sub-anna-1")
    assert (user.role, user.department.code, user.name) == ("caseworker", "asf", "Anna Andersson Berg")
    assert user_count(session) == session.scalar(select(func.count()).select_from(User))  # no second account
    assert session.scalar(select(func.count()).select_from(User).where(User.oidc_subject == "sub-anna-1")) == 1
    assert "role agent → caseworker" in events(session, "sso_account")[-1].detail


def test_removed_groups_mean_no_access_deactivation_and_every_session_ended(sso_app, oidc_provider, app, session):
    desk = app.test_client()
    assert sso_sign_in(desk, oidc_provider).status_code == 302
    assert signed_in(desk)

    oidc_provider.user.groups = ["some-other-group"]
    laptop = app.test_client()
    response = sso_sign_in(laptop, oidc_provider)
    assert response.status_code == 403
    assert "ingen behörighet till Kontaktcenter" in response.get_data(as_text=True)
    assert not signed_in(laptop)
    assert not signed_in(desk), "the session already open must end too"
    user = user_by_subject(session, "sub-anna-1")
    assert not user.active
    assert (
        session.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        )
        == 0
    )
    assert events(session, "deactivated")[-1].detail.startswith("sso: no mapped group")
    assert events(session, "sso_refused")[-1].detail == "no mapped group"

    # Given a mapped group again at the provider, the account comes back.
    oidc_provider.user.groups = ["kc-agents"]
    again = app.test_client()
    assert sso_sign_in(again, oidc_provider).status_code == 302
    assert user_by_subject(session, "sub-anna-1").active
    assert signed_in(again)


def test_an_account_an_administrator_deactivated_is_not_reactivated_by_sso(
    sso_app, oidc_provider, app, session, runner
):
    assert sso_sign_in(app.test_client(), oidc_provider).status_code == 302
    result = runner.invoke(args=["users", "deactivate", "anna.andersson@malmo.se"])
    assert result.exit_code == 0, result.output
    browser = app.test_client()
    response = sso_sign_in(browser, oidc_provider)
    assert response.status_code == 403
    assert "avstängt av en administratör" in response.get_data(as_text=True)
    assert not signed_in(browser)
    assert not user_by_subject(session, "sub-anna-1").active


def test_no_mapped_group_on_first_sign_in_creates_nobody(sso_app, oidc_provider, client, session):
    before = user_count(session)
    oidc_provider.user.groups = ["alla-medarbetare"]
    response = sso_sign_in(client, oidc_provider)
    assert response.status_code == 403
    assert user_count(session) == before
    assert not signed_in(client)


@pytest.mark.parametrize("tamper", ["forged", "expired", "audience", "issuer", "nonce"])
def test_an_id_token_that_fails_verification_is_refused(tamper, sso_app, oidc_provider, client, session):
    # A first, honest sign-in elsewhere gives the provider a nonce to replay.
    assert sso_sign_in(sso_app.test_client(), oidc_provider).status_code == 302
    before = user_count(session)
    sessions_before = session.scalar(select(func.count()).select_from(UserSession))
    oidc_provider.user = type(oidc_provider.user)(
        sub="sub-mallory", preferred_username="mallory@malmo.se", groups=["kc-admins"]
    )
    oidc_provider.tamper = tamper
    response = sso_sign_in(client, oidc_provider)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Inloggningen kunde inte verifieras. Du har inte loggats in." in page
    assert not signed_in(client)
    session.expire_all()
    assert user_count(session) == before
    assert session.scalar(select(func.count()).select_from(UserSession)) == sessions_before
    assert events(session, "sso_refused")[-1].detail.startswith("id token refused")


def test_a_replayed_callback_is_refused(sso_app, oidc_provider, client, session):
    callback = start(client, oidc_provider)
    assert client.get(callback).status_code == 302
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/console")}).status_code == 302
    replay = client.get(callback)
    assert replay.status_code == 400
    assert "redan använts eller gått ut" in replay.get_data(as_text=True)
    assert not signed_in(client)
    assert events(session, "sso_refused")[-1].detail.startswith("state")


def test_a_callback_from_another_browser_is_refused(sso_app, oidc_provider, app, session):
    # The attacker's own code and state, pushed into the victim's browser (login CSRF).
    attacker = app.test_client()
    callback = start(attacker, oidc_provider)
    victim = app.test_client()
    response = victim.get(callback)
    assert response.status_code == 400
    assert not signed_in(victim)


def test_an_error_from_the_provider_is_a_clear_page(sso_app, oidc_provider, client, session):
    start(client, oidc_provider)
    response = client.get("/login/sso/callback?error=access_denied&error_description=user+cancelled&state=x")
    assert response.status_code == 400
    assert "Du har inte loggats in" in response.get_data(as_text=True)
    assert not signed_in(client)


def test_a_local_user_with_the_same_username_is_not_taken_over(sso_app, oidc_provider, client, session):
    oidc_provider.user.preferred_username = "admin"  # the local administrator's username
    oidc_provider.user.email = "admin@malmo.se"
    oidc_provider.user.groups = ["kc-admins"]
    local = session.scalar(select(User).where(User.username == "admin"))
    password_hash = local.password_hash
    response = sso_sign_in(client, oidc_provider)
    assert response.status_code == 403
    assert "finns redan ett konto här med ditt användarnamn" in response.get_data(as_text=True)
    assert not signed_in(client)
    session.expire_all()
    local = session.scalar(select(User).where(User.username == "admin"))
    assert (local.oidc_subject, local.password_hash, local.active) == (None, password_hash, True)
    assert user_by_subject(session, "sub-anna-1") is None


def test_the_login_page_offers_sso_and_the_password_form(sso_app, client):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/login/sso"' in page
    assert 'name="password"' in page


def test_password_login_switched_off_hides_and_refuses_the_form(sso_app, client, session, monkeypatch):
    monkeypatch.setitem(sso_app.config, "PASSWORD_LOGIN", False)
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/login/sso"' in page
    assert 'name="password"' not in page
    token = csrf_token(client, "/kontakt")
    response = client.post(
        "/login", data={"username": "agent", "password": "amira-malmo-demo-2026", "csrf_token": token}
    )
    assert response.status_code == 403
    assert "Inloggning med lösenord är avstängd" in response.get_data(as_text=True)
    assert not signed_in(client)
    assert events(session, "login_failed")[-1].detail == "password sign-in is switched off"


def test_password_login_off_leaves_the_command_line_working(sso_app, runner, session, monkeypatch):
    monkeypatch.setitem(sso_app.config, "PASSWORD_LOGIN", False)
    result = runner.invoke(args=["users", "end-sessions", "agent"])
    assert result.exit_code == 0, result.output


def test_sso_pages_do_not_exist_without_a_provider(client):
    assert client.get("/login/sso").status_code == 404
    assert client.get("/login/sso/callback?code=x&state=y").status_code == 404
    assert "/login/sso" not in client.get("/login").get_data(as_text=True)


def test_sso_users_are_not_asked_for_the_local_second_factor(sso_app, oidc_provider, client, session):
    from kontaktcenter.auth.sso import needs_local_second_factor

    assert sso_sign_in(client, oidc_provider).status_code == 302
    assert needs_local_second_factor(user_by_subject(session, "sub-anna-1")) is False
    assert needs_local_second_factor(session.scalar(select(User).where(User.username == "admin"))) is True


def test_a_department_code_missing_here_refuses_with_a_clear_message(
    sso_app, oidc_provider, client, session, monkeypatch
):
    monkeypatch.setitem(sso_app.config, "OIDC_ROLE_MAP", {"kc-agents": {"role": "agent", "department": "no-such-dept"}})
    assert session.scalar(select(Department).where(Department.code == "no-such-dept")) is None
    response = sso_sign_in(client, oidc_provider)
    assert response.status_code == 403
    assert "förvaltning som inte finns här" in response.get_data(as_text=True)
    assert user_by_subject(session, "sub-anna-1") is None


def test_a_provider_that_does_not_answer_is_a_clear_page(sso_app, client, session, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(sso_app.config, "OIDC_ISSUER", f"http://127.0.0.1:{port}")
    response = client.get("/login/sso")
    assert response.status_code == 503
    assert "Inloggningstjänsten svarar inte" in response.get_data(as_text=True)
    assert events(session, "sso_refused")[-1].detail.startswith("discovery")


def test_an_sso_account_cannot_be_signed_in_with_any_password(sso_app, oidc_provider, app, session):
    from kontaktcenter.auth.sso import NO_PASSWORD
    from tests.conftest import AuthActions

    assert sso_sign_in(app.test_client(), oidc_provider).status_code == 302
    browser = app.test_client()
    for guess in (NO_PASSWORD, "", "anna.andersson@malmo.se"):
        response = AuthActions(browser).login("anna.andersson@malmo.se", guess)
        assert response.status_code in (400, 401)
        assert not signed_in(browser)


def test_a_local_password_set_on_an_sso_account_still_signs_no_one_in(sso_app, oidc_provider, app, session, runner):
    """An admin account of the provider skips the local second factor: a password set on it at
    the command line must not become a way in without the provider's MFA."""
    from tests.conftest import AuthActions

    assert sso_sign_in(app.test_client(), oidc_provider).status_code == 302
    password = "en-helt-ny-fras-for-anna-2026"  # noqa: S105
    result = runner.invoke(args=["users", "password", "anna.andersson@malmo.se"], input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    browser = app.test_client()
    assert AuthActions(browser).login("anna.andersson@malmo.se", password).status_code == 401
    assert not signed_in(browser)
