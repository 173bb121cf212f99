"""Two-factor sign-in (TOTP): enrolment, the code after the password, replay, drift,
recovery codes, throttling, required roles and the administrator's reset."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import segno
from sqlalchemy import select

from kontaktcenter.auth import two_factor
from kontaktcenter.auth.models import AuthEvent, RecoveryCode, TwoFactor
from kontaktcenter.channels.tokens.models import ApiToken
from kontaktcenter.config import ConfigError, load_config
from kontaktcenter.directory.models import User
from tests.auth.conftest import signed_in
from tests.conftest import CODE_PAGE, DEMO_PASSWORDS, AuthActions, csrf_token
from tests.fixtures.routes import staff_roles
from tests.fixtures.two_factor import code_for, enrol, secret_of

ACCOUNT_PAGE = "/konto/tvastegsverifiering"
CODE_RE = re.compile(r"<li><code>([a-z0-9-]+)</code></li>")


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _events(session, kind: str, username: str) -> list[AuthEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuthEvent).where(AuthEvent.kind == kind, AuthEvent.username == username).order_by(AuthEvent.id)
        )
    )


def _password_only(client, username: str):
    """The first step alone: the right password, no code."""
    password = DEMO_PASSWORDS[username]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})


def _code(secret: str, at, steps: int = 0) -> str:
    return pyotp.TOTP(secret).generate_otp(two_factor.step_at(at) + steps)


def _enrol_agent(app, session, at=None) -> tuple[str, list[str]]:
    kwargs = {"at": at} if at is not None else {}
    secret, codes = enrol(session, app.config, _user(session, "agent"), **kwargs)
    session.commit()
    return secret, codes


# --- enrolment ---------------------------------------------------------------------------------


def test_enrolment_page_shows_a_qr_code_made_here_and_the_secret_as_text(app, client, auth, session):
    auth.login("agent")
    response = client.get(ACCOUNT_PAGE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)

    row = session.get(TwoFactor, _user(session, "agent").id)
    secret = two_factor.SecretBox.from_config(app.config).open(row.secret_encrypted)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert grouped in page  # typed by hand when the camera cannot scan
    # The QR code is inline SVG drawn on the server from the otpauth URI with this very secret:
    # no image service, no script, nothing the CSP would block.
    uri = pyotp.TOTP(secret).provisioning_uri(name="agent", issuer_name=two_factor.ISSUER)
    drawn = segno.make(uri, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", svgclass="qr-code", lineclass=None
    )
    assert re.search(r'<svg role="img" aria-label="[^"]+" ', page)
    assert re.search(r' d="([^"]+)"', drawn).group(1) in page
    assert "<img" not in page
    assert "<script" not in page
    # A reload shows the same secret, so a code from the scanned QR code still confirms it.
    assert grouped in client.get(ACCOUNT_PAGE).get_data(as_text=True)
    assert not row.confirmed_at


def test_the_secret_is_stored_encrypted_and_a_database_copy_alone_makes_no_codes(app, client, auth, session):
    secret, _codes = _enrol_agent(app, session)
    stored = session.get(TwoFactor, _user(session, "agent").id).secret_encrypted
    assert secret not in stored
    assert two_factor.SecretBox(["another installation's key, as long as a real one"]).open(stored) is None
    assert two_factor.SecretBox.from_config(app.config).open(stored) == secret
    # An earlier key kept in SECRET_KEY_FALLBACKS still opens it: SECRET_KEY can be rotated.
    rotated = two_factor.SecretBox.from_config(
        {"SECRET_KEY": "the new key", "SECRET_KEY_FALLBACKS": [app.config["SECRET_KEY"]]}
    )
    assert rotated.open(stored) == secret


def test_a_wrong_code_at_enrolment_is_refused_and_enrols_nothing(app, client, auth, session):
    auth.login("agent")
    client.get(ACCOUNT_PAGE)
    response = auth.post(ACCOUNT_PAGE, {"code": "000000"}, csrf_page=ACCOUNT_PAGE)
    assert response.status_code == 400
    assert "Koden stämmer inte." in response.get_data(as_text=True)
    agent = _user(session, "agent")
    session.expire_all()
    assert not two_factor.enrolled(session, agent)
    assert session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == agent.id)).all() == []
    assert _events(session, "two_factor_enrolled", "agent") == []
    # The next sign-in asks for no code.
    auth.logout()
    assert auth.login("agent").headers["Location"].endswith("/console")


def test_a_valid_code_enrols_and_shows_ten_recovery_codes_once(app, client, auth, session):
    auth.login("agent")
    client.get(ACCOUNT_PAGE)
    secret = secret_of_unconfirmed(app, session, "agent")
    response = auth.post(ACCOUNT_PAGE, {"code": pyotp.TOTP(secret).now()}, csrf_page=ACCOUNT_PAGE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    codes = CODE_RE.findall(page)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert "De visas bara den här gången." in page
    agent = _user(session, "agent")
    session.expire_all()
    assert two_factor.enrolled(session, agent)
    stored = [r.code_hash for r in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == agent.id))]
    assert len(stored) == 10
    assert not any(code in h or code.replace("-", "") in h for code in codes for h in stored)  # hashed
    assert len(_events(session, "two_factor_enrolled", "agent")) == 1
    # The account page now says it is on, and shows no code again.
    again = client.get(ACCOUNT_PAGE).get_data(as_text=True)
    assert "Tvåstegsverifiering är på" in again
    assert not any(code in again for code in codes)


def secret_of_unconfirmed(app, session, username: str) -> str:
    session.expire_all()
    row = session.get(TwoFactor, _user(session, username).id)
    return two_factor.SecretBox.from_config(app.config).open(row.secret_encrypted)


# --- the second step ---------------------------------------------------------------------------


def test_the_password_alone_signs_nobody_in_the_code_does(app, client, auth, session):
    response = _password_only(client, "admin")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(CODE_PAGE)
    assert not signed_in(client)
    assert _events(session, "login", "admin") == []

    secret, _last = secret_of(session, app.config, "admin")
    done = auth.code(pyotp.TOTP(secret).now())
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/admin/anvandare")  # the administration, the admin's start page
    assert client.get("/admin/inloggningar").status_code == 200
    assert _events(session, "login", "admin")[-1].detail == "two-factor: totp"


def test_the_half_signed_cookie_opens_no_staff_route(app, session, world):
    """Between password and code the cookie names the user but carries no rights: every
    staff route, GET or POST, answers as to someone not signed in."""
    browser = app.test_client()
    assert _password_only(browser, "admin").headers["Location"].endswith(CODE_PAGE)
    token = csrf_token(browser, CODE_PAGE)
    walked, let_in = 0, []
    for rule in app.url_map.iter_rules():
        if not staff_roles(app, rule):
            continue
        path = world.path(app, rule, key="walker-key")
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = browser.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
            walked += 1
            refused = response.status_code == 401 or (
                response.status_code == 302
                and "/login" in response.headers["Location"]
                and CODE_PAGE not in response.headers["Location"]
            )
            if not refused:
                let_in.append((method, rule.rule, response.status_code))
    assert walked > 50
    assert let_in == []
    assert not signed_in(browser)


def test_the_half_signed_state_expires_after_a_few_minutes(app, client, auth, session, clock):
    secret, _last = secret_of(session, app.config, "admin")
    _password_only(client, "admin")
    clock.advance(minutes=5, seconds=1)
    response = client.get(CODE_PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    assert "Inloggningen har gått ut" in client.get("/login").get_data(as_text=True)
    # The right code no longer helps: the password must be typed again.
    late = client.post(CODE_PAGE, data={"code": _code(secret, clock()), "csrf_token": csrf_token(client)})
    assert late.headers["Location"].endswith("/login")
    assert not signed_in(client)


def test_a_new_password_ends_the_half_signed_state(app, client, session, clock):
    from kontaktcenter.auth.service import hash_password

    secret, _last = secret_of(session, app.config, "admin")
    _password_only(client, "admin")
    _user(session, "admin").password_hash = hash_password("changed-elsewhere-2026")
    session.commit()
    response = client.post(CODE_PAGE, data={"code": _code(secret, clock()), "csrf_token": csrf_token(client, "/login")})
    assert response.headers["Location"].endswith("/login")
    assert not signed_in(client)


def test_a_wrong_code_is_refused_logged_and_nothing_signed_in(app, client, auth, session):
    _password_only(client, "admin")
    response = auth.code("123456")
    assert response.status_code == 401
    assert "Fel kod." in response.get_data(as_text=True)
    assert not signed_in(client)
    failed = _events(session, "code_failed", "admin")
    assert len(failed) == 1
    assert failed[0].detail == "sign-in: wrong"
    assert "123456" not in failed[0].detail


def test_wrong_codes_count_with_the_password_throttle(app, client, auth, session):
    secret, _last = secret_of(session, app.config, "admin")
    _password_only(client, "admin")
    for n in range(10):
        assert auth.code(f"{n:06d}").status_code in (401,)
    # The eleventh try in a minute is refused before the code is looked at: the right one too.
    response = auth.code(pyotp.TOTP(secret).now())
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "För många misslyckade inloggningsförsök" in response.get_data(as_text=True)
    assert not signed_in(client)
    assert len(_events(session, "code_failed", "admin")) == 10
    assert _events(session, "login_throttled", "admin")[-1].detail.startswith("two-factor code (sign-in)")
    # The same account's password is locked too: a guessed code and a guessed password are one budget.
    assert AuthActions(app.test_client()).login("admin").status_code == 429


def test_a_code_once_used_is_refused_the_second_time(app, client, auth, session, clock):
    secret, _last = secret_of(session, app.config, "admin")
    code = _code(secret, clock())
    _password_only(client, "admin")
    assert auth.code(code).status_code == 302
    auth.logout()
    # Seen over a shoulder or in a proxy log, and typed again in the same window:
    clock.advance(seconds=5)
    _password_only(client, "admin")
    replayed = auth.code(code)
    assert replayed.status_code == 401
    assert "Koden har redan använts." in replayed.get_data(as_text=True)
    assert not signed_in(client)
    assert _events(session, "code_failed", "admin")[-1].detail == "sign-in: replayed"
    # The next step's code is fine.
    clock.advance(seconds=30)
    assert auth.code(_code(secret, clock())).status_code == 302


def test_codes_one_step_off_are_accepted_two_steps_off_refused(app, client, auth, session, clock):
    secret, _last = secret_of(session, app.config, "admin")
    _password_only(client, "admin")
    assert auth.code(_code(secret, clock(), steps=-2)).status_code == 401
    assert auth.code(_code(secret, clock(), steps=2)).status_code == 401
    assert auth.code(_code(secret, clock(), steps=-1)).status_code == 302  # a phone a little slow
    auth.logout()
    _password_only(client, "admin")
    assert auth.code(_code(secret, clock(), steps=1)).status_code == 302  # or a little fast


# --- recovery codes ----------------------------------------------------------------------------


def test_a_recovery_code_signs_in_once_and_is_refused_the_second_time(app, client, auth, session):
    _secret, codes = _enrol_agent(app, session)
    done = auth.login("agent", code=codes[3].upper().replace("-", " "))  # as read off paper
    assert done.status_code == 302
    assert "Du har 9 kvar" in client.get("/console").get_data(as_text=True)
    used = _events(session, "recovery_code_used", "agent")
    assert len(used) == 1
    assert used[0].detail == "sign-in; recovery codes left: 9"
    auth.logout()

    again = auth.login("agent", code=codes[3])
    assert again.status_code == 401
    assert "Återställningskoden har redan använts." in again.get_data(as_text=True)
    assert not signed_in(client)
    assert _events(session, "code_failed", "agent")[-1].detail == "sign-in: used"
    assert auth.code(codes[4]).status_code == 302  # another one still works


def test_new_recovery_codes_invalidate_the_old_ones(app, client, auth, session):
    _secret, old = _enrol_agent(app, session)
    auth.login("agent")
    response = auth.post(f"{ACCOUNT_PAGE}/koder", {"renew-code": code_for(app, "agent")}, csrf_page=ACCOUNT_PAGE)
    assert response.status_code == 200
    new = CODE_RE.findall(response.get_data(as_text=True))
    assert len(new) == 10
    assert not set(new) & set(old)
    assert len(_events(session, "recovery_codes_new", "agent")) == 1
    auth.logout()
    assert auth.login("agent", code=old[0]).status_code == 401
    assert auth.code(new[0]).status_code == 302


def test_new_recovery_codes_need_a_current_code(app, client, auth, session):
    _secret, old = _enrol_agent(app, session)
    auth.login("agent")
    response = auth.post(f"{ACCOUNT_PAGE}/koder", {"renew-code": "999999"}, csrf_page=ACCOUNT_PAGE)
    assert response.status_code == 401
    assert "Fel kod." in response.get_data(as_text=True)
    assert CODE_RE.findall(response.get_data(as_text=True)) == []
    auth.logout()
    assert auth.login("agent", code=old[0]).status_code == 302  # the old codes still work


# --- required roles, turning off, reset --------------------------------------------------------


def test_a_required_role_without_an_authenticator_can_do_nothing_but_enrol(app, client, auth, session, runner):
    result = runner.invoke(args=["users", "reset-2fa", "admin"])
    assert result.exit_code == 0, result.output
    assert "two-factor sign-in reset for admin" in result.output
    assert (
        _events(session, "two_factor_reset", "admin")[-1].detail == "by cli"
    )  # as the admin audit log names the command line

    response = auth.login("admin")  # the password alone now: there is no authenticator to ask
    assert response.status_code == 302
    assert ACCOUNT_PAGE in response.headers["Location"]
    for page in ("/console", "/admin/inloggningar", "/admin/atkomstlogg", "/admin/rules", "/reports"):
        answer = client.get(page)
        assert answer.status_code == 302, page
        assert ACCOUNT_PAGE in answer.headers["Location"], page
    # A form posted anywhere else is refused and changes nothing.
    assert (
        auth.post("/admin/api-tokens", {"name": "sneaky", "scope": "open311"}, csrf_page=ACCOUNT_PAGE).status_code
        == 403
    )
    assert session.scalar(select(ApiToken).where(ApiToken.name == "sneaky")) is None
    page = client.get(ACCOUNT_PAGE).get_data(as_text=True)
    assert "Din roll kräver tvåstegsverifiering." in page
    # Enrolling opens the rest.
    secret = secret_of_unconfirmed(app, session, "admin")
    assert auth.post(ACCOUNT_PAGE, {"code": pyotp.TOTP(secret).now()}, csrf_page=ACCOUNT_PAGE).status_code == 200
    assert client.get("/admin/inloggningar").status_code == 200


def test_a_required_role_cannot_turn_it_off(app, client, auth, session):
    auth.login("chef")
    assert "kan inte stängas av" in client.get(ACCOUNT_PAGE).get_data(as_text=True)
    response = auth.post(f"{ACCOUNT_PAGE}/av", {"off-code": code_for(app, "chef")}, csrf_page=ACCOUNT_PAGE)
    assert response.status_code == 303
    assert "Din roll kräver tvåstegsverifiering." in client.get(ACCOUNT_PAGE).get_data(as_text=True)
    assert two_factor.enrolled(session, _user(session, "chef"))
    assert _events(session, "two_factor_off", "chef") == []


def test_another_role_turns_it_off_with_a_current_code_only(app, client, auth, session):
    _enrol_agent(app, session)
    auth.login("agent")
    refused = auth.post(f"{ACCOUNT_PAGE}/av", {"off-code": "111111"}, csrf_page=ACCOUNT_PAGE)
    assert refused.status_code == 401
    session.expire_all()
    assert two_factor.enrolled(session, _user(session, "agent"))
    response = auth.post(f"{ACCOUNT_PAGE}/av", {"off-code": code_for(app, "agent")}, csrf_page=ACCOUNT_PAGE)
    assert response.status_code == 303
    session.expire_all()
    assert not two_factor.enrolled(session, _user(session, "agent"))
    assert session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == _user(session, "agent").id)).all() == []
    assert len(_events(session, "two_factor_off", "agent")) == 1
    auth.logout()
    assert auth.login("agent").headers["Location"].endswith("/console")  # the password alone again


def test_configuration_can_require_it_of_other_roles(app, client, auth, monkeypatch):
    monkeypatch.setitem(app.config, "TWO_FACTOR_REQUIRED_ROLES", ["admin", "manager", "agent"])
    response = auth.login("agent")
    assert ACCOUNT_PAGE in response.headers["Location"]
    assert ACCOUNT_PAGE in client.get("/console").headers["Location"]


def test_an_unknown_role_in_the_configuration_stops_the_start():
    with pytest.raises(ConfigError, match="TWO_FACTOR_REQUIRED_ROLES: unknown role"):
        load_config(environ={"TWO_FACTOR_REQUIRED_ROLES": "admin,superuser"})


def test_reset_of_an_unknown_user_says_so_and_changes_nothing(runner, session):
    result = runner.invoke(args=["users", "reset-2fa", "nobody"])
    assert result.exit_code != 0
    assert "no user 'nobody'" in result.output
    assert _events(session, "two_factor_reset", "nobody") == []


def test_signed_in_user_is_timed_by_the_same_window(app, session, clock):
    """The pending window is measured by the sessions' clock."""
    user = _user(session, "admin")
    state = two_factor.pending(user, clock(), None)
    assert two_factor.pending_user(session, state, clock() + timedelta(minutes=4)) == user
    assert two_factor.pending_user(session, state, clock() + timedelta(minutes=5)) is None
    assert two_factor.pending_user(session, {**state, "user": "1"}, clock()) is None
