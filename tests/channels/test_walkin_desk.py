"""The walk-in desk's number on the waiting-room display, and the display as a kiosk page (issue 21)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import Location

PLACE = "bibl-stadsbiblioteket"  # uses queue numbers


def _register(auth):
    return auth.post(f"/besok/{PLACE}", {"service": "utskrift-hjalp", "language": "sv"}, csrf_page=f"/besok/{PLACE}")


def _visits(session):
    location = session.scalar(select(Location).where(Location.code == PLACE))
    return session.scalars(select(Contact).where(Contact.location_id == location.id).order_by(Contact.id)).all()


def test_the_display_calls_the_number_to_the_desk(client, auth, session):
    """Before: small numbers and no desk number."""
    auth.login("bibliotek")
    response = auth.post(f"/besok/{PLACE}/disk", {"desk": " 3 "}, csrf_page=f"/besok/{PLACE}")
    assert response.status_code == 302
    assert 'value="3"' in client.get(f"/besok/{PLACE}").get_data(as_text=True)
    _register(auth)
    (visit,) = _visits(session)
    auth.post(f"/besok/{PLACE}/{visit.id}/serve", csrf_page=f"/besok/{PLACE}")
    session.refresh(visit)
    assert visit.desk == "3"
    auth.logout()
    page = client.get(f"/besok/{PLACE}/skarm").get_data(as_text=True)
    assert re.search(r'<span class="queue-number">1</span>\s*<span class="desk">Disk 3</span>', page)


def test_the_display_is_a_kiosk_page_that_refreshes_without_javascript(client, auth, session):
    """Before: the staff header with the staff member's name and the logout button."""
    auth.login("bibliotek")
    response = client.get(f"/besok/{PLACE}/skarm")
    assert response.headers["Refresh"] == "15"
    page = response.get_data(as_text=True)
    assert 'class="kiosk"' in page
    assert '<header class="site-header' not in page
    assert "Logga ut" not in page
    assert "Kim Persson" not in page
    assert "<script" not in page


@pytest.mark.parametrize("desk", ["", "   ", "x" * 21, "2\x00"])
def test_a_bad_desk_is_refused_and_nothing_changes(client, auth, desk):
    auth.login("bibliotek")
    auth.post(f"/besok/{PLACE}/disk", {"desk": "5"}, csrf_page=f"/besok/{PLACE}")
    response = auth.post(f"/besok/{PLACE}/disk", {"desk": desk}, csrf_page=f"/besok/{PLACE}")
    assert response.status_code in (302, 400)
    page = client.get(f"/besok/{PLACE}").get_data(as_text=True)
    assert 'value="5"' in page


def test_a_stranger_cannot_set_a_desk_and_other_library_staff_get_403(client, auth, make_user, session):
    from tests.conftest import csrf_token

    token = csrf_token(client, "/kontakt")
    response = client.post(f"/besok/{PLACE}/disk", data={"desk": "1", "csrf_token": token})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    auth.login("bibliotek")
    other = session.scalar(select(Location).where(Location.code == "bibl-garaget"))
    assert auth.post(f"/besok/{other.code}/disk", {"desk": "1"}, csrf_page=f"/besok/{PLACE}").status_code == 403


def test_the_desk_hint_tells_how_enter_registers(client, auth):
    """Before: "Enter registrerar" although a select does not submit; the browser test proves it now does."""
    auth.login("bibliotek")
    page = client.get(f"/besok/{PLACE}").get_data(as_text=True)
    assert "Enter registrerar besöket direkt" in page
    assert "data-enter-submits" in page
    assert "workspace-keys.js" in page
