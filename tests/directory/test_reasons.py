"""The coordinator's contact reasons: domain rules and the page /samordnare/orsaker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kontaktcenter.directory import reasons
from kontaktcenter.directory.models import ContactReason, ContactReasonChange, Service, User


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _service(session, code: str) -> Service:
    return session.scalar(select(Service).where(Service.code == code))


def _reason(session, service: str, code: str) -> ContactReason:
    return session.scalar(
        select(ContactReason).join(Service).where(Service.code == service, ContactReason.code == code)
    )


def test_coordinator_adds_renames_retires_and_restores_with_a_change_log(session):
    maria = _user(session, "samordnare")  # asf's coordinator
    service = _service(session, "forsorjningsstod")
    reason = reasons.add_reason(
        session, maria, service, code="Jaga-Beslut", name_sv="Jagar sitt beslut", name_en="Chasing", category="failure"
    )
    session.flush()
    assert (reason.code, reason.category, reason.active) == ("jaga-beslut", "failure", True)
    assert reason in reasons.active_reasons(session, service.id)
    reasons.rename_reason(session, maria, reason, name_sv="Frågar efter beslutet", name_en="Asks for the decision")
    reasons.retire_reason(session, maria, reason)
    assert reason not in reasons.active_reasons(session, service.id)  # cannot be picked any more
    reasons.restore_reason(session, maria, reason)
    session.flush()
    log = session.scalars(select(ContactReasonChange).where(ContactReasonChange.reason_id == reason.id)).all()
    assert [(c.action, c.user_id) for c in log] == [
        ("added", maria.id),
        ("renamed", maria.id),
        ("retired", maria.id),
        ("restored", maria.id),
    ]
    assert log[1].detail["name_sv"] == ["Jagar sitt beslut", "Frågar efter beslutet"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"code": "", "name_sv": "X", "category": "value"}, "Ange en kod"),
        ({"code": "har mellanslag", "name_sv": "X", "category": "value"}, "Koden får bara"),
        ({"code": "ok", "name_sv": " ", "category": "value"}, "Ange orsakens namn"),
        ({"code": "ok", "name_sv": "X", "category": "annat"}, "värdeskapande eller"),
        ({"code": "annat-fel", "name_sv": "X", "category": "failure"}, "har redan en orsak med koden annat-fel"),
    ],
)
def test_bad_reasons_are_refused_with_a_clear_message(session, kw, message):
    with pytest.raises(reasons.ReasonError) as refused:
        reasons.add_reason(session, _user(session, "samordnare"), _service(session, "forsorjningsstod"), **kw)
    assert message in str(refused.value)


def test_the_other_reasons_cannot_be_retired_and_other_departments_cannot_change(session):
    maria = _user(session, "samordnare")
    other = _reason(session, "forsorjningsstod", "annat-fel")
    with pytest.raises(reasons.ReasonError, match="annat"):
        reasons.retire_reason(session, maria, other)
    assert other.active
    ali = _user(session, "kultursamordnare")  # kultur's coordinator
    with pytest.raises(reasons.ReasonError, match="samordnare"):
        reasons.add_reason(session, ali, _service(session, "forsorjningsstod"), code="x", name_sv="X", category="value")


def test_page_lists_own_department_and_changes_by_form(client, auth, session):
    auth.login("samordnare")
    page = client.get("/samordnare/orsaker")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Försörjningsstöd (ekonomiskt bistånd)" in html
    assert "Bygglov</h2>" not in html  # another department's service is not listed
    service = _service(session, "forsorjningsstod")
    done = auth.post(
        f"/samordnare/orsaker/tjanst/{service.id}",
        {"code": "brev", "name_sv": "Förstår inte brevet", "name_en": "Letter unclear", "category": "failure"},
        csrf_page="/samordnare/orsaker",
    )
    assert done.status_code == 302
    added = _reason(session, "forsorjningsstod", "brev")
    assert (added.name_sv, added.name_en, added.category) == ("Förstår inte brevet", "Letter unclear", "failure")
    assert "Förstår inte brevet" in client.get(done.headers["Location"]).get_data(as_text=True)
    auth.post(f"/samordnare/orsaker/{added.id}/ta-bort", csrf_page="/samordnare/orsaker")
    session.refresh(added)
    assert not added.active
    refused = auth.post(
        f"/samordnare/orsaker/{_reason(session, 'forsorjningsstod', 'annat-varde').id}/ta-bort",
        csrf_page="/samordnare/orsaker",
    )
    assert "kan inte tas bort" in client.get(refused.headers["Location"]).get_data(as_text=True)


def test_forms_need_the_csrf_token(client, auth, session):
    auth.login("samordnare")
    service = _service(session, "forsorjningsstod")
    response = client.post(
        f"/samordnare/orsaker/tjanst/{service.id}", data={"code": "x", "name_sv": "X", "category": "value"}
    )
    assert response.status_code in (400, 302)
    assert _reason(session, "forsorjningsstod", "x") is None


def test_attack_another_departments_service_is_a_404_like_a_missing_one(client, auth, session):
    auth.login("kultursamordnare")
    theirs = _service(session, "forsorjningsstod")
    their_reason = _reason(session, "forsorjningsstod", "annat-fel")
    data = {"code": "intrang", "name_sv": "Intrång", "category": "value"}
    other = auth.post(f"/samordnare/orsaker/tjanst/{theirs.id}", data, csrf_page="/samordnare/orsaker")
    missing = auth.post("/samordnare/orsaker/tjanst/999999", data, csrf_page="/samordnare/orsaker")
    assert other.status_code == missing.status_code == 404
    assert other.get_data() == missing.get_data()
    renamed = auth.post(
        f"/samordnare/orsaker/{their_reason.id}/namn", {"name_sv": "Hackad"}, csrf_page="/samordnare/orsaker"
    )
    assert renamed.status_code == 404
    assert client.get("/samordnare/orsaker?department=asf").status_code == 404
    session.refresh(their_reason)
    assert their_reason.name_sv != "Hackad"
    assert _reason(session, "forsorjningsstod", "intrang") is None


def test_agents_and_managers_do_not_keep_reasons(client, auth):
    auth.login("agent")
    assert client.get("/samordnare/orsaker").status_code == 403


def test_admin_sees_any_department(client, auth):
    auth.login("admin")
    page = client.get("/samordnare/orsaker?department=sbk").get_data(as_text=True)
    assert "Ny ansökan" in page or "ny-ansokan" in page
