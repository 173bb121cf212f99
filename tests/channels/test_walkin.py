"""Walk-in registration: queue numbers per place and day, served / ended / left, the now-serving screen."""

import re

import pytest
from sqlalchemy import select

from kontaktcenter.channels.walkin import visits
from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import ContactReason, Location, User
from tests.fixtures.factories import at

PLACE = "bibl-stadsbiblioteket"  # uses queue numbers


def _register(auth, code=PLACE, **fields):
    data = {"service": "utskrift-hjalp", "language": "sv", **fields}
    return auth.post(f"/besok/{code}", data, csrf_page=f"/besok/{code}")


def _visits(session, code=PLACE):
    location = session.scalar(select(Location).where(Location.code == code))
    return session.scalars(select(Contact).where(Contact.location_id == location.id).order_by(Contact.id)).all()


def test_library_staff_land_on_their_own_desk(client, auth):
    auth.login("bibliotek")
    response = client.get("/besok")
    assert response.headers["Location"].endswith(f"/besok/{PLACE}")
    page = client.get(f"/besok/{PLACE}").get_data(as_text=True)
    assert "Hjälp att skriva ut dokument" in page
    assert "Skolval" in page


def test_contact_center_agent_chooses_a_place(client, auth):
    auth.login("agent")
    page = client.get("/besok").get_data(as_text=True)
    assert "Rosengårds bibliotek" in page
    assert "Kontaktcenter Malmö" not in page


def test_roles_without_walk_in_work_are_refused(client, auth):
    auth.login("handlaggare")
    assert client.get(f"/besok/{PLACE}").status_code == 403


def test_visit_flow_register_serve_resolve(client, auth, session):
    auth.login("bibliotek")
    response = _register(auth, service="skolval", language="ar", needs=["interpreter"])
    assert response.status_code == 302
    assert "könummer 1" in client.get(response.headers["Location"]).get_data(as_text=True)
    (visit,) = _visits(session)
    assert visit.channel == "walk_in"
    assert visit.queue_number == 1
    assert visit.language == "ar"
    assert visit.needs == ["interpreter"]
    assert visit.interpreter_language == "ar"
    assert visit.registered_by_id == session.scalar(select(User.id).where(User.username == "bibliotek"))

    auth.post(f"/besok/{PLACE}/{visit.id}/serve", csrf_page=f"/besok/{PLACE}")
    session.refresh(visit)
    assert visit.answered_at is not None
    assert visit.ended_at is None
    # "Klar – löst" needs the contact reason: without one, a message and nothing changes.
    refused = auth.post(f"/besok/{PLACE}/{visit.id}/resolved", csrf_page=f"/besok/{PLACE}")
    assert "Välj varför medborgaren hörde av sig" in client.get(refused.headers["Location"]).get_data(as_text=True)
    session.refresh(visit)
    assert visit.ended_at is None
    reason = session.scalar(
        select(ContactReason).where(ContactReason.service_id == visit.service_id, ContactReason.code == "annat-fel")
    )
    auth.post(f"/besok/{PLACE}/{visit.id}/resolved", {"reason": reason.id}, csrf_page=f"/besok/{PLACE}")
    session.refresh(visit)
    session.refresh(visit.ticket)
    assert visit.reason_id == reason.id
    assert visit.outcome == "served"
    assert visit.ended_at >= visit.answered_at
    assert visit.ticket.status == "resolved"
    assert visit.ticket.resolution == "first_contact"


def test_visitor_who_leaves_is_recorded_as_left(client, auth, session):
    auth.login("bibliotek")
    _register(auth)
    (visit,) = _visits(session)
    auth.post(f"/besok/{PLACE}/{visit.id}/left", csrf_page=f"/besok/{PLACE}")
    session.refresh(visit)
    assert visit.outcome == "left"
    assert visit.answered_at is None
    assert visit.ended_at is not None


def test_ending_before_serving_is_refused_and_changes_nothing(client, auth, session):
    auth.login("bibliotek")
    _register(auth)
    (visit,) = _visits(session)
    response = auth.post(f"/besok/{PLACE}/{visit.id}/resolved", csrf_page=f"/besok/{PLACE}")
    assert "Besökaren har inte fått hjälp än." in client.get(response.headers["Location"]).get_data(as_text=True)
    session.refresh(visit)
    assert visit.ended_at is None
    assert visit.outcome is None


def test_queue_numbers_count_per_place_and_day(app, session, make_user):
    staff = make_user("location_staff", department="kultur")
    library = session.scalar(select(Location).where(Location.code == PLACE))
    branch = session.scalar(select(Location).where(Location.code == "filial-rosengard"))
    with app.app_context():
        numbers = [
            visits.register_visit(
                session, user=staff, location=place, service_code="allmant", now=at(when)
            ).contact.queue_number
            for place, when in [
                (library, "2026-03-02 09:00"),
                (library, "2026-03-02 09:05"),
                (branch, "2026-03-02 09:06"),
                (library, "2026-03-03 09:00"),
            ]
        ]
    assert numbers == [1, 2, 1, 1]


def test_places_without_queue_numbers_give_none(app, session, make_user):
    staff = make_user("location_staff", department="kultur")
    garaget = session.scalar(select(Location).where(Location.code == "bibl-garaget"))
    with app.app_context():
        received = visits.register_visit(session, user=staff, location=garaget, service_code="digital-hjalp")
    assert received.contact.queue_number is None


def test_unknown_service_is_an_error_next_to_the_field(client, auth, session):
    auth.login("bibliotek")
    response = _register(auth, service="finns-inte")
    assert response.status_code == 400
    assert 'id="service-error"' in response.get_data(as_text=True)
    assert _visits(session) == []


def test_now_serving_display_shows_numbers_only(client, auth, session):
    auth.login("bibliotek")
    _register(auth, note="Heter Karin och behöver skriva ut ett intyg")
    _register(auth)
    first, _second = _visits(session)
    auth.post(f"/besok/{PLACE}/{first.id}/serve", csrf_page=f"/besok/{PLACE}")
    auth.logout()
    page = client.get(f"/besok/{PLACE}/skarm").get_data(as_text=True)
    assert re.findall(r'<span class="queue-number">([^<]*)</span>', page) == ["1"]
    assert "Väntande besökare: 1" in page
    assert "Karin" not in page


@pytest.mark.parametrize("action", ["serve", "left"])
def test_actions_on_another_places_visit_are_404(client, auth, session, action):
    auth.login("agent")  # may work at both places; the visit belongs to one
    _register(auth)
    (visit,) = _visits(session)
    response = auth.post(f"/besok/filial-rosengard/{visit.id}/{action}", csrf_page=f"/besok/{PLACE}")
    assert response.status_code == 404


def test_library_staff_cannot_register_at_another_place(client, auth, session):
    auth.login("bibliotek")
    assert client.get("/besok/filial-rosengard").status_code == 403
    response = auth.post(
        "/besok/filial-rosengard", {"service": "skolval", "language": "sv"}, csrf_page=f"/besok/{PLACE}"
    )
    assert response.status_code == 403
    assert _visits(session, "filial-rosengard") == []


def test_agents_register_at_any_branch(client, auth):
    auth.login("agent")
    assert client.get("/besok/filial-rosengard").status_code == 200
