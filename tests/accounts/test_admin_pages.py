"""The user administration pages: admins only, every change in the audit log, reset by e-mail."""

import json

import pytest
from sqlalchemy import func, select

from kontaktcenter.accounts.models import UserChange
from kontaktcenter.directory.models import User
from tests.conftest import AuthActions, csrf_token

from .conftest import GOOD_PASSWORD, LINK_RE, changes_of, mails, user

NEW_USER = {
    "username": "Nora",
    "name": "Nora Nyström",
    "email": "nora@malmo.example",
    "role": "agent",
    "department": "serviceforvaltningen",
    "location": "kc-malmo",
    "queues": ["kc-forsta-linjen", "kc-flersprakig"],
    "services": ["bibliotekskort"],
    "languages": ["sv", "ar"],
    "phone_identity": "sip:nora@pbx.malmo.example",
    "max_open_tickets": "4",
}


def _post(browser: AuthActions, path: str, data: dict):
    return browser.post(path, data, csrf_page=path if "/ny" in path or path.count("/") == 3 else "/admin/anvandare/ny")


def _id(session, username: str) -> int:
    return session.scalar(select(User.id).where(User.username == username))


def test_admin_creates_a_user_who_sets_a_password_through_the_emailed_link(app, admin, session, client):
    response = _post(admin, "/admin/anvandare/ny", NEW_USER)
    assert response.status_code == 303, response.get_data(as_text=True)
    nora = user(session, "nora")
    assert ([q.code for q in nora.queues], [s.code for s in nora.services], sorted(nora.languages)) == (
        ["kc-forsta-linjen", "kc-flersprakig"],
        ["bibliotekskort"],
        ["ar", "sv"],
    )
    assert (nora.location.code, nora.phone_identity, nora.max_open_tickets) == (
        "kc-malmo",
        "sip:nora@pbx.malmo.example",
        4,
    )
    [created, link_issued] = changes_of(session, "nora")
    assert (created.action, created.actor) == ("created", "admin")
    assert json.loads(created.changes)["queues"] == [None, ["kc-flersprakig", "kc-forsta-linjen"]]
    assert link_issued.action == "link_issued"
    [mail] = mails(app)
    assert mail["To"] == "nora@malmo.example"
    link = LINK_RE.search(mail.get_content()).group(0).removeprefix("http://localhost")
    assert link.rsplit("/", 1)[1] not in link_issued.changes  # the token is never logged

    page = client.get(link)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "same-origin"  # the token in the address goes to no other site
    token = csrf_token(client, link)
    done = client.post(link, data={"new": GOOD_PASSWORD, "repeat": GOOD_PASSWORD, "csrf_token": token})
    assert done.status_code == 303
    assert done.headers["Location"].endswith("/login")
    assert AuthActions(app.test_client()).login("nora", GOOD_PASSWORD).status_code == 302
    # Once: the second use gets the answer any bad link gets, and changes nothing.
    again = client.post(
        link, data={"new": "another-fine-passphrase", "repeat": "another-fine-passphrase", "csrf_token": token}
    )
    assert again.status_code == 404
    assert "Länken fungerar inte" in again.get_data(as_text=True)
    assert AuthActions(app.test_client()).login("nora", GOOD_PASSWORD).status_code == 302


def test_bad_input_on_the_create_page_changes_nothing(admin, session):
    before = session.scalar(select(func.count(User.id)))
    for changes, message in [
        ({"username": "agent"}, "Användarnamnet agent finns redan."),
        ({"phone_identity": "ring mig"}, "Ange ett telefonnummer"),
        ({"department": "nope"}, "Inte ett giltigt val"),
        ({"max_open_tickets": "-1"}, "Skriv ett heltal från 0 till 100."),
        ({"email": "inte-en-adress"}, "Ange en giltig e-postadress."),
    ]:
        response = _post(admin, "/admin/anvandare/ny", {**NEW_USER, **changes})
        assert response.status_code == 400, changes
        assert message in response.get_data(as_text=True), changes
    assert session.scalar(select(func.count(User.id))) == before
    assert session.scalar(select(func.count(UserChange.id))) == 0


def test_edit_deactivate_reactivate_are_logged_before_and_after(app, admin, session):
    agent2 = _id(session, "agent2")
    page = f"/admin/anvandare/{agent2}"
    form = {
        "name": "Johan Lind",
        "email": "agent2@kontaktcenter.example",
        "role": "agent",
        "department": "serviceforvaltningen",
        "location": "kc-malmo",
        "queues": ["kc-forsta-linjen"],
        "languages": ["sv", "en", "pl"],
        "phone_identity": "+46 40 34 10 00",
        "max_open_tickets": "5",
    }
    assert admin.post(page, form, csrf_page=page).status_code == 303
    [updated] = changes_of(session, "agent2")
    assert json.loads(updated.changes) == {
        "languages": [["en", "sv"], ["en", "pl", "sv"]],
        "queues": [["kc-aterringning", "kc-forsta-linjen"], ["kc-forsta-linjen"]],
        "phone_identity": ["client:agent2", "+4640341000"],
    }
    assert admin.post(f"{page}/inaktivera", csrf_page=page).status_code == 303
    assert not user(session, "agent2").active
    assert AuthActions(app.test_client()).login("agent2").status_code == 401
    assert admin.post(f"{page}/aktivera", csrf_page=page).status_code == 303
    assert AuthActions(app.test_client()).login("agent2").status_code == 302
    assert [c.action for c in changes_of(session, "agent2")] == ["updated", "deactivated", "reactivated"]
    history = admin.client.get(f"{page}/historik").get_data(as_text=True)
    assert "kc-aterringning, kc-forsta-linjen → kc-forsta-linjen" in history
    assert "Kontot avstängt" in history
    assert "Kontot återaktiverat" in history
    assert "agent2" in admin.client.get("/admin/andringslogg").get_data(as_text=True)


def test_reset_button_emails_a_link_that_ends_older_ones(app, admin, session, client):
    agent2 = _id(session, "agent2")
    page = f"/admin/anvandare/{agent2}"
    admin.post(f"{page}/losenordslank", csrf_page=page)
    admin.post(f"{page}/losenordslank", csrf_page=page)
    first, second = (LINK_RE.search(m.get_content()).group(0).removeprefix("http://localhost") for m in mails(app))
    assert client.get(first).status_code == 404  # replaced by the newer link
    assert client.get(second).status_code == 200
    assert "agent2-demo" not in second


def test_an_expired_link_and_a_guessed_one_get_the_same_answer(app, admin, session, client, clock):
    agent2 = _id(session, "agent2")
    admin.post(f"/admin/anvandare/{agent2}/losenordslank", csrf_page=f"/admin/anvandare/{agent2}")
    [mail] = mails(app)
    link = LINK_RE.search(mail.get_content()).group(0).removeprefix("http://localhost")
    assert client.get(link).status_code == 200
    clock.advance(hours=1, seconds=1)  # reset links last an hour
    expired = client.get(link)
    guessed = client.get("/konto/satt-losenord/" + "A" * 43)
    assert expired.status_code == guessed.status_code == 404
    assert expired.get_data(as_text=True) == guessed.get_data(as_text=True)
    # A POST through the expired link sets nothing either.
    token = csrf_token(client, "/login")
    refused = client.post(link, data={"new": GOOD_PASSWORD, "repeat": GOOD_PASSWORD, "csrf_token": token})
    assert refused.status_code == 404
    assert AuthActions(app.test_client()).login("agent2", GOOD_PASSWORD).status_code == 401


def test_weak_passwords_through_the_link_are_refused_with_their_message(app, runner, session, client):
    result = runner.invoke(args=["users", "reset-link", "agent2"])
    link = LINK_RE.search(result.output).group(0).removeprefix("http://localhost")
    token = csrf_token(client, link)
    for password, message in [
        ("kort", "minst 12 tecken"),
        ("mitt-agent2-lösen", "innehålla användarnamnet"),
        ("iloveyou1234", "vanligt eller har läckt"),
    ]:
        response = client.post(link, data={"new": password, "repeat": password, "csrf_token": token})
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert client.get(link).status_code == 200  # still unused
    assert AuthActions(app.test_client()).login("agent2").status_code == 302  # old password still works


def test_own_password_change_follows_the_policy(auth, session):
    auth.login("agent2")
    current = "johan-malmo-demo-2026"
    response = auth.post(
        "/konto/losenord",
        {"current": current, "new": "agent2-is-my-password", "repeat": "agent2-is-my-password"},
        csrf_page="/konto/losenord",
    )
    assert response.status_code == 400
    assert "Lösenordet får inte innehålla användarnamnet." in response.get_data(as_text=True)


def test_an_admin_cannot_deactivate_themselves_or_the_last_admin(admin, session, make_user):
    me = _id(session, "admin")
    response = admin.post(f"/admin/anvandare/{me}/inaktivera", csrf_page=f"/admin/anvandare/{me}")
    assert "Du kan inte stänga av ditt eget konto." in admin.client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert user(session, "admin").active
    # Demoting the only admin is refused too.
    page = f"/admin/anvandare/{me}"
    demoted = admin.post(
        page,
        {
            "name": "Admin",
            "email": "admin@kontaktcenter.example",
            "role": "agent",
            "max_open_tickets": "5",
            "languages": ["sv"],
        },
        csrf_page=page,
    )
    assert demoted.status_code == 400
    assert "den enda aktiva administratören" in demoted.get_data(as_text=True)
    assert user(session, "admin").role == "admin"
    assert session.scalar(select(func.count(UserChange.id))) == 0


@pytest.mark.parametrize("role_user", ["agent", "chef", "samordnare"])
def test_non_admins_get_403_on_every_user_page_and_post(app, session, role_user):
    browser = AuthActions(app.test_client())
    browser.login(role_user)
    target = _id(session, "agent2")
    token = csrf_token(browser.client, "/konto/losenord")
    for path in (
        "/admin/anvandare",
        "/admin/anvandare/ny",
        f"/admin/anvandare/{target}",
        f"/admin/anvandare/{target}/historik",
        "/admin/andringslogg",
    ):
        assert browser.client.get(path).status_code == 403, path
    for path in (
        "/admin/anvandare/ny",
        f"/admin/anvandare/{target}",
        f"/admin/anvandare/{target}/inaktivera",
        f"/admin/anvandare/{target}/aktivera",
        f"/admin/anvandare/{target}/losenordslank",
    ):
        assert browser.client.post(path, data={**NEW_USER, "csrf_token": token}).status_code == 403, path
    assert user(session, "agent2").active
    assert session.scalar(select(func.count(UserChange.id))) == 0


def test_posts_without_the_csrf_token_change_nothing(admin, session):
    target = _id(session, "agent2")
    assert admin.client.post("/admin/anvandare/ny", data=NEW_USER).status_code == 400
    assert admin.client.post(f"/admin/anvandare/{target}/inaktivera").status_code == 400
    assert admin.client.post(f"/admin/anvandare/{target}/losenordslank").status_code == 400
    assert user(session, "nora") is None
    assert user(session, "agent2").active
    assert session.scalar(select(func.count(UserChange.id))) == 0


def test_list_filters_by_role_department_and_status(admin, session):
    page = admin.client.get("/admin/anvandare?role=caseworker&department=asf&active=1").get_data(as_text=True)
    assert "handlaggare" in page
    assert "bygglov" not in page
    assert "agent2" not in page


def test_a_new_accounts_link_lasts_24_hours_and_setting_the_password_ends_other_sessions(
    app, runner, session, client, clock
):
    result = runner.invoke(args=["users", "create", "vera", "--role", "caseworker", "--department", "asf", "--link"])
    link = LINK_RE.search(result.output).group(0).removeprefix("http://localhost")
    clock.advance(hours=23, minutes=59)
    assert client.get(link).status_code == 200
    clock.advance(minutes=2)
    assert client.get(link).status_code == 404

    # A reset link for someone signed in: using it signs every browser of theirs out.
    laptop = AuthActions(app.test_client())
    assert laptop.login("agent2").status_code == 302
    result = runner.invoke(args=["users", "reset-link", "agent2"])
    link = LINK_RE.search(result.output).group(0).removeprefix("http://localhost")
    token = csrf_token(client, link)
    assert (
        client.post(link, data={"new": GOOD_PASSWORD, "repeat": GOOD_PASSWORD, "csrf_token": token}).status_code == 303
    )
    assert laptop.client.get("/console").status_code == 302  # back to sign-in


def test_admin_resets_a_lost_authenticator_logged_with_before_and_after(app, admin, session):
    from kontaktcenter.auth import two_factor
    from tests.fixtures.two_factor import enrol

    agent = user(session, "agent")
    enrol(session, app.config, agent)
    session.commit()
    assert two_factor.enrolled(session, agent)
    response = _post(admin, f"/admin/anvandare/{agent.id}/tvastegsverifiering", {})
    assert response.status_code == 303
    session.expire_all()
    assert not two_factor.enrolled(session, agent)
    change = changes_of(session, "agent")[-1]
    assert change.action == "two_factor_reset"
    assert json.loads(change.changes) == {"two_factor": [True, False]}
    assert change.actor == "admin"
