"""Search by identifier is a POST: no personnummer, phone or e-mail in a URL, a redirect or the history."""

from __future__ import annotations

from sqlalchemy import select

from kontaktcenter.tickets.models import AccessLog

PNR = "19900101-0017"


def _search_rows(session) -> list[AccessLog]:
    return list(session.scalars(select(AccessLog).where(AccessLog.action == "search")))


def test_a_get_with_q_does_not_search_and_never_echoes_the_identifier(client, auth, session, make_contact):
    ticket = make_contact(service="skolval", text="Skolplats", personnummer=PNR).ticket
    auth.login("agent")
    for q in (PNR, "199001010017", "0701234567", "c@example.se", ticket.reference):
        response = client.get("/sok", query_string={"q": q})
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Träffar" not in page
        assert q not in page
    assert _search_rows(session) == []  # nothing searched, nothing logged


def test_the_search_form_posts_with_a_csrf_token_and_finds_by_personnummer(client, auth, session, make_contact):
    ticket = make_contact(service="skolval", text="Skolplats", personnummer=PNR).ticket
    auth.login("agent")
    for path in ("/sok", "/console"):
        page = client.get(path).get_data(as_text=True)
        form = page.split('role="search"', 1)[0].rsplit("<form", 1)[1]
        assert 'method="post"' in form, path
        assert 'action="/sok"' in form, path
        assert 'name="csrf_token"' in page.split('role="search"', 1)[1].split("</form>", 1)[0], path
    response = auth.post("/sok", {"q": PNR}, csrf_page="/sok")
    assert response.status_code == 200  # the results, not a redirect that would carry the query
    assert ticket.reference in response.get_data(as_text=True).split("Träffar", 1)[1]
    (row,) = _search_rows(session)
    assert row.detail == "personnummer 19900101-XXXX"
    assert "0017" not in row.detail


def test_a_post_without_a_csrf_token_searches_nothing(client, auth, session, make_contact):
    make_contact(service="skolval", text="Skolplats", personnummer=PNR)
    auth.login("agent")
    response = client.post("/sok", data={"q": PNR})
    assert response.status_code == 400
    assert PNR not in response.get_data(as_text=True)
    assert _search_rows(session) == []
