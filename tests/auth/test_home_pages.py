"""Each role starts, after signing in, on a page its work begins on and that it may open."""

import pytest

from kontaktcenter.directory.catalogue import DEMO_USERS


@pytest.mark.parametrize(("username", "role"), [(u[0], u[2]) for u in DEMO_USERS])
def test_sign_in_lands_on_a_page_the_role_may_open(client, auth, username, role):
    response = auth.login(username)
    assert response.status_code == 302
    landing = response.headers["Location"]
    page = client.get(landing, follow_redirects=True)  # the visit page goes on to the staff member's own place
    assert page.status_code == 200, f"{role} lands on {landing}: {page.status_code}"
    assert "Åtkomst nekad" not in page.get_data(as_text=True)
    assert client.get("/").headers["Location"] == landing  # the start page is the same


def test_caseworkers_start_in_their_inbox_and_dataskydd_in_the_access_log(client, auth):
    assert auth.login("handlaggare").headers["Location"] == "/inkorg"
    auth.logout()
    assert auth.login("dataskydd").headers["Location"].startswith("/admin/atkomstlogg")


def test_a_stranger_at_the_start_page_is_sent_to_sign_in(client):
    assert client.get("/").headers["Location"].startswith("/login")
