"""The agent's phone page: waiting callers, callbacks with their outcome, callers recognised."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import User
from tests.fixtures.browser import assert_accessible, hang_up_open_calls, login, press_and_wait
from tests.fixtures.factories import at
from tests.fixtures.twilio import call_params, call_sid


def _callback(twilio, session, caller: str, digits: str = "2") -> Contact:
    sid = call_sid()
    twilio.queue(sid, digits=digits, From=caller)
    twilio.post("/twilio/voice/wait", call_params(sid, From=caller, Digits="1"))
    twilio.post("/twilio/voice/queue-result", call_params(sid, From=caller, QueueResult="leave", QueueTime="60"))
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_sid == sid))


@pytest.fixture
def agent(make_user, session, auth):
    user = make_user("agent", queues=["kc-forsta-linjen"], presence="available", phone_identity="client:cb")
    session.commit()
    auth.login(user.username, "secret-pass-123")
    return user


def _page(auth, response=None) -> str:
    if response is not None:
        assert response.status_code == 303
        return auth.client.get(response.headers["Location"]).get_data(as_text=True)
    return auth.client.get("/phone").get_data(as_text=True)


def test_phone_page_needs_phone_staff(client, auth):
    assert client.get("/phone").status_code == 302  # to the sign-in page
    auth.login("chef")  # a manager reads reports, answers no calls
    assert client.get("/phone").status_code == 403


def test_callback_appears_with_the_callers_number(twilio, session, agent, auth):
    contact = _callback(twilio, session, "+46731112233")
    page = _page(auth)
    assert contact.ticket.reference in page
    assert 'href="tel:+46731112233"' in page
    assert "0 / 3" in page


def test_callback_not_reached_is_retried_then_given_up(twilio, session, agent, auth, app):
    contact = _callback(twilio, session, "+46731112234")
    reference = contact.ticket.reference
    for attempt in (1, 2):
        page = _page(auth, auth.post(f"/phone/callbacks/{reference}", {"outcome": "not_reached"}, csrf_page="/phone"))
        assert f"Inte nådd (försök {attempt}). Återuppringningen ligger kvar i kön." in page
        assert f"{attempt} / 3" in page
    page = _page(auth, auth.post(f"/phone/callbacks/{reference}", {"outcome": "not_reached"}, csrf_page="/phone"))
    assert "Inte nådd efter 3 försök. Återuppringningen är avslutad." in page
    assert reference not in page.split("Återuppringningar")[1].split("Dina senaste samtal")[0]
    session.expire_all()
    contact = session.get(Contact, contact.id)
    assert contact.callback_attempts == 3
    assert contact.callback_completed_at is None
    assert contact.ticket.status == "resolved"
    assert contact.ticket.resolution == "unresolved"
    # A fourth try on a closed callback is refused and changes nothing.
    page = _page(auth, auth.post(f"/phone/callbacks/{reference}", {"outcome": "reached"}, csrf_page="/phone"))
    assert "Återuppringningen är redan avslutad." in page
    session.expire_all()
    assert session.get(Contact, contact.id).callback_attempts == 3


def test_callback_reached_completes_it_and_opens_the_ticket(twilio, session, agent, auth, clock):
    contact = _callback(twilio, session, "+46731112235")
    reference = contact.ticket.reference
    clock.set("2026-03-03 11:15")
    response = auth.post(f"/phone/callbacks/{reference}", {"outcome": "reached"}, csrf_page="/phone")
    assert response.headers["Location"].endswith(f"/tickets/{reference}")
    session.expire_all()
    contact = session.get(Contact, contact.id)
    assert contact.callback_attempts == 1
    assert contact.callback_completed_at == clock.now
    assert contact.ticket.assignee_id == agent.id
    assert contact.outcome == "callback_requested"  # METRICS.md: requested, and completed


def _listed(auth) -> str:
    return _page(auth).split("Återuppringningar")[1].split("Dina senaste samtal")[0]


def test_reached_callback_leaves_the_list_while_its_ticket_stays_open(twilio, session, agent, auth):
    contact = _callback(twilio, session, "+46731112239")
    reference = contact.ticket.reference
    assert reference in _listed(auth)
    auth.post(f"/phone/callbacks/{reference}", {"outcome": "reached"}, csrf_page="/phone")
    assert reference not in _listed(auth)
    session.expire_all()
    assert session.get(Contact, contact.id).ticket.is_open


def test_given_up_callback_stays_off_the_list_when_the_citizen_calls_again(twilio, session, agent, auth, clock):
    contact = _callback(twilio, session, "+46731112240")
    reference = contact.ticket.reference
    for _ in range(3):
        auth.post(f"/phone/callbacks/{reference}", {"outcome": "not_reached"}, csrf_page="/phone")
    # The citizen calls again on the same service: caller ID proves nothing, so the call
    # is a ticket of its own and the given-up one stays resolved and off the list.
    clock.set("2026-03-03 14:00")
    sid = call_sid()
    twilio.queue(sid, digits="2", From="+46731112240")
    session.expire_all()
    again = session.scalar(select(Contact).where(Contact.provider_sid == sid))
    assert again.ticket.reference != reference
    assert session.get(Contact, contact.id).ticket.status == "resolved"
    assert reference not in _listed(auth)
    # Asking for a callback on the new call lists its ticket, with fresh tries.
    twilio.post("/twilio/voice/wait", call_params(sid, From="+46731112240", Digits="1"))
    listed = _listed(auth)
    assert again.ticket.reference in listed
    assert reference not in listed
    assert "0 / 3" in listed


def test_bad_outcome_changes_nothing(twilio, session, agent, auth):
    contact = _callback(twilio, session, "+46731112236")
    page = _page(
        auth, auth.post(f"/phone/callbacks/{contact.ticket.reference}", {"outcome": "maybe"}, csrf_page="/phone")
    )
    assert "Välj om du nådde medborgaren eller inte." in page
    session.expire_all()
    assert session.get(Contact, contact.id).callback_attempts == 0


def test_callbacks_outside_the_agents_queues_are_not_found(twilio, session, agent, auth):
    contact = _callback(twilio, session, "+46731112237", digits="1")  # försörjningsstöd: a department queue
    assert contact.ticket.kind == "callback"
    assert contact.ticket.reference not in _page(auth)
    response = auth.post(f"/phone/callbacks/{contact.ticket.reference}", {"outcome": "reached"}, csrf_page="/phone")
    assert response.status_code == 404


def test_a_caller_with_earlier_tickets_is_recognised(twilio, session, agent, auth, make_contact):
    earlier = make_contact(
        "web", service="skolval", phone="0731112238", text="Skolval för mitt barn", arrived_at=at("2026-02-20 10:00")
    )
    secret = make_contact(
        "web",
        service="forsorjningsstod",
        phone="0731112238",
        text="Ekonomiskt bistånd",
        arrived_at=at("2026-02-21 10:00"),
    )
    sid = call_sid()
    twilio.queue(sid, From="+46731112238")
    twilio.post(f"/twilio/voice/bridge?agent={agent.id}", call_params(sid, From="+46731112238", QueueTime="20"))
    page = _page(auth)
    answered = page.split("Dina senaste samtal")[1]
    assert earlier.ticket.reference in answered
    # A confidential errand the agent may not read is not even listed.
    assert secret.ticket.reference not in answered
    assert "Försörjningsstöd" not in answered


def test_presence_can_be_switched_from_the_phone_page(session, agent, auth):
    page = _page(auth, auth.post("/phone/presence", {"presence": "away"}, csrf_page="/phone"))
    assert "Du tar inte emot samtal nu." in page
    session.expire_all()
    assert session.get(User, agent.id).presence == "away"
    _page(auth, auth.post("/phone/presence", {"presence": "available"}, csrf_page="/phone"))
    session.expire_all()
    assert session.get(User, agent.id).presence == "available"


# -- in a real browser ---------------------------------------------------------------------


@pytest.mark.browser
def test_phone_page_is_accessible_and_works_with_the_keyboard(page, live_server):
    # The live server is shared: earlier tests may have left agent2 away, or a call waiting in
    # agent2's queues (rung at a colleague), ringing agent2 or in a call with them.
    _make_available(live_server, "agent2")
    hang_up_open_calls(live_server)
    login(page, "agent2")
    page.goto("/phone")
    assert page.locator("h1").inner_text() == "Telefon"
    assert_accessible(page)
    # Tab to the main action and use it with Enter alone.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "take-next":
            break
    assert page.evaluate("document.activeElement.id") == "take-next"
    press_and_wait(page, "Enter")
    assert page.locator(".flashes").inner_text().strip() == "Ingen väntar i dina köer just nu."
    assert_accessible(page)
    page.goto("/phone?lang=en")
    assert_accessible(page)


@pytest.mark.browser
def test_a_caseworker_makes_themselves_available_for_department_calls_with_the_keyboard(page, live_server):
    _make_available(live_server, "handlaggare", presence="away")
    login(page, "handlaggare")
    page.goto("/phone")
    assert_accessible(page)
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Gör mig tillgänglig":
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Gör mig tillgänglig"
    press_and_wait(page, "Enter")
    assert "Du är nu tillgänglig för samtal." in page.content()
    assert_accessible(page)
    _make_available(live_server, "handlaggare", presence="offline")


def test_phone_page_in_english(session, agent, auth):
    page = auth.client.get("/phone?lang=en").get_data(as_text=True)
    assert '<html lang="en"' in page
    assert "Take the next call" in page
    assert '<h2 id="callbacks-heading">Callbacks</h2>' in page


def _signed_post(server, path: str, params: dict[str, str]) -> None:
    import requests
    from twilio.request_validator import RequestValidator

    from kontaktcenter.channels.twilio_security import auth_token

    app = server.app
    signature = RequestValidator(auth_token(app)).compute_signature(app.config["PUBLIC_BASE_URL"] + path, params)
    response = requests.post(server.url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
    assert response.status_code == 200, response.text


def _focus(page, predicate: str, limit: int = 80) -> None:
    """Tab (keyboard only) until document.activeElement satisfies the JS predicate `el => …`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"({predicate})(document.activeElement)"):
            return
    raise AssertionError(f"never reached an element with {predicate} by Tab")


@pytest.mark.browser
def test_callback_outcome_is_given_with_the_keyboard_on_an_accessible_page(page, live_server):
    from kontaktcenter.channels.clock import CLOCK_KEY
    from kontaktcenter.database import db

    live_server.app.extensions[CLOCK_KEY] = lambda: at("2026-03-03 10:00")
    try:
        sid = call_sid()
        caller = "+46731119901"
        _signed_post(live_server, "/twilio/voice/menu", call_params(sid, From=caller, Digits="2"))
        _signed_post(live_server, "/twilio/voice/wait", call_params(sid, From=caller, Digits="1"))
        _signed_post(
            live_server,
            "/twilio/voice/queue-result",
            call_params(sid, From=caller, QueueResult="leave", QueueTime="30"),
        )
        with live_server.app.app_context():
            reference = db.session.scalar(select(Contact).where(Contact.provider_sid == sid)).ticket.reference
            db.session.remove()
        login(page, "agent2")
        page.goto("/phone")
        assert page.locator(f"a:text('{reference}')").count() == 1
        assert_accessible(page)  # with a callback row and its buttons
        # Three tries, each by Tab and Enter alone; the third gives up and the row goes.
        for attempt in (1, 2, 3):
            _focus(page, f"el => el.getAttribute('aria-label') === 'Inte nådd: {reference}'")
            press_and_wait(page, "Enter")
            if attempt < 3:
                assert f"Inte nådd (försök {attempt})." in page.locator("[role=status]").inner_text()
        assert page.locator(f"a:text('{reference}')").count() == 0
        assert "Inte nådd efter 3 försök. Återuppringningen är avslutad." in page.content()
        assert_accessible(page)
    finally:
        live_server.app.extensions.pop(CLOCK_KEY, None)


def _make_available(server, username: str, presence: str = "available") -> None:
    from kontaktcenter.database import db

    with server.app.app_context():
        db.session.scalar(select(User).where(User.username == username)).presence = presence
        db.session.commit()
        db.session.remove()
