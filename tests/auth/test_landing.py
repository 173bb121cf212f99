"""Where a sign-in ends (issue 21): each role on its own start page, `next` honoured only when
safe and the role may open it, and "no access" as a 403 page with a way on."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kontaktcenter.directory.models import Queue, Service
from tests.conftest import DEMO_PASSWORDS, csrf_token


def _login_with_next(client, username: str, next_url: str):
    token = csrf_token(client)
    return client.post(
        "/login",
        query_string={"next": next_url},
        data={"username": username, "password": DEMO_PASSWORDS[username], "csrf_token": token},
    )


def test_administrators_land_in_the_administration(auth):
    assert auth.login("admin").headers["Location"] == "/admin/anvandare"


@pytest.mark.parametrize(
    ("username", "start"),
    [("agent", "/console"), ("handlaggare", "/inkorg"), ("bibliotek", "/besok")],
)
def test_each_role_lands_on_its_own_start_page(auth, username, start):
    assert auth.login(username).headers["Location"] == start


def test_library_staff_sent_to_the_console_by_next_land_on_their_desk_not_access_denied(client):
    """Before: library staff signed in from a link to the console and saw "Åtkomst nekad"."""
    response = _login_with_next(client, "bibliotek", "/console")
    assert response.headers["Location"] == "/besok"
    page = client.get("/besok", follow_redirects=True)
    assert page.status_code == 200
    assert "Åtkomst nekad" not in page.get_data(as_text=True)


def test_a_safe_next_the_role_may_open_is_honoured(client):
    assert _login_with_next(client, "agent", "/kunskapsbank?q=plank").headers["Location"] == "/kunskapsbank?q=plank"


@pytest.mark.parametrize("target", ["//evil.example/console", "https://evil.example/", "/finns-inte", "javascript:x"])
def test_an_unsafe_or_unknown_next_goes_to_the_start_page(client, target):
    assert _login_with_next(client, "handlaggare", target).headers["Location"] == "/inkorg"


def test_no_access_is_a_403_with_a_way_to_the_start_page(client, auth):
    """Before: a 404 or a bare "Åtkomst nekad" with only a link back to the citizen form."""
    auth.login("bibliotek")
    response = client.get("/console")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Åtkomst nekad" in page
    assert 'id="start-page"' in page
    assert 'href="/besok"' in page


def test_a_manager_opening_another_departments_ordinary_ticket_is_told_no_access(client, auth, session, make_contact):
    """An ordinary (not confidential) ticket exists: 403 with a way on, not 404."""
    ticket = make_contact(service="bygglov", text="Plank").ticket
    # In the building department's own queue: no longer the kontaktcenter manager's department's.
    ticket.queue = session.scalar(select(Queue).where(Queue.code == "sbk-bygglov"))
    session.commit()
    auth.login("chef")
    response = client.get(f"/tickets/{ticket.reference}")
    assert response.status_code == 403
    assert 'id="start-page"' in response.get_data(as_text=True)


def test_a_confidential_ticket_stays_a_404_for_those_who_may_not_know_of_it(client, auth, make_contact):
    secret = make_contact(service="forsorjningsstod", text="Hyra", phone="0701234567", reply_channel="sms").ticket
    assert secret.confidential
    auth.login("bygglov")
    assert client.get(f"/tickets/{secret.reference}").status_code == 404
    assert client.get("/tickets/KC-2026-999999").status_code == 404


def test_another_departments_knowledge_article_is_403_not_404(client, auth, session):
    from kontaktcenter.casework.models import KnowledgeArticle

    article = KnowledgeArticle(
        service=session.scalar(select(Service).where(Service.code == "arbetsmarknad")), title="Praktik", body="Jobb."
    )
    session.add(article)
    session.commit()
    auth.login("kultursamordnare")
    assert client.get(f"/kunskapsbank/{article.id}").status_code == 403
    assert client.get("/kunskapsbank/999999").status_code == 404
