"""The screen pop: when a call connects, the agent sees the caller's menu choice, wait and
earlier tickets that they may read (confidential ones hidden, reads logged)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import AccessLog, Ticket
from tests.fixtures.twilio import call_params, call_sid

CALLER = "+46701239876"


@pytest.fixture
def agent(make_user, session, auth):
    user = make_user("agent", queues=["kc-forsta-linjen"], presence="available", phone_identity="client:pop")
    session.commit()
    auth.login(user.username, "secret-pass-123")
    return user


def _call(twilio, session, digits: str, caller: str = CALLER) -> Contact:
    sid = call_sid()
    twilio.queue(sid, digits=digits, From=caller)
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_sid == sid))


def _answer(twilio, session, contact: Contact, agent, queue_time: str = "42") -> Contact:
    twilio.post(
        f"/twilio/voice/bridge?agent={agent.id}", call_params(contact.provider_sid, From=CALLER, QueueTime=queue_time)
    )
    session.expire_all()
    return session.get(Contact, contact.id)


def test_the_pop_shows_menu_choice_wait_and_readable_history(twilio, session, agent, client):
    earlier = _call(twilio, session, "2")  # skolval, an open errand from the same number
    secret = _call(twilio, session, "1")  # försörjningsstöd: sekretess, taken by nobody here
    now = _call(twilio, session, "5")
    _answer(twilio, session, now, agent, "42")
    html = client.get("/phone/samtal").get_data(as_text=True)
    assert now.ticket.reference in html
    assert "Allmänna frågor" in html or now.service.name_sv in html  # the IVR choice
    assert "0:42" in html  # the wait Twilio reported
    assert earlier.ticket.reference in html
    assert secret.ticket.reference not in html
    assert secret.service.name_sv not in html  # not even the errand's service
    assert CALLER in html  # the agent's own caller's number, as on the phone page


def test_a_confidential_ticket_the_agent_took_is_shown_and_its_read_logged(twilio, session, agent, client):
    secret = _call(twilio, session, "1")
    _answer(twilio, session, secret, agent)
    twilio.post("/twilio/voice/queue-result", call_params(secret.provider_sid, From=CALLER, QueueResult="bridged"))
    now = _call(twilio, session, "5")
    _answer(twilio, session, now, agent)
    before = session.scalar(select(AccessLog.id).order_by(AccessLog.id.desc()).limit(1)) or 0
    html = client.get("/phone/samtal").get_data(as_text=True)
    assert secret.ticket.reference in html
    logged = session.scalars(select(AccessLog).where(AccessLog.id > before)).all()
    assert [(row.ticket_id, row.action, row.user_id) for row in logged] == [(secret.ticket_id, "screen_pop", agent.id)]


def test_a_restricted_ticket_is_never_listed(twilio, session, agent, client):
    earlier = _call(twilio, session, "2")
    ticket = session.get(Ticket, earlier.ticket_id)
    ticket.restriction = "Medborgaren har begärt begränsning"
    session.commit()
    now = _call(twilio, session, "5")
    _answer(twilio, session, now, agent)
    assert earlier.ticket.reference not in client.get("/phone/samtal").get_data(as_text=True)


def test_another_agent_sees_no_pop_of_this_call(twilio, session, agent, make_user, app):
    now = _call(twilio, session, "5")
    _answer(twilio, session, now, agent)
    other = make_user("agent", queues=["kc-forsta-linjen"], presence="available")
    session.commit()
    from tests.conftest import AuthActions

    other_client = app.test_client()
    AuthActions(other_client).login(other.username, "secret-pass-123")
    html = other_client.get("/phone/samtal").get_data(as_text=True)
    assert now.ticket.reference not in html
    assert CALLER not in html
    assert "Inget samtal är kopplat till dig just nu." in html


@pytest.mark.parametrize("username", ["chef", "bibliotek"])
def test_only_phone_staff_open_the_pop(client, auth, username):
    auth.login(username)
    assert client.get("/phone/samtal").status_code == 403


def test_a_caseworker_answers_department_calls_and_sees_only_their_own_pop(twilio, session, agent, client, auth):
    now = _answer(twilio, session, _call(twilio, session, "2"), agent)
    auth.login("handlaggare")
    html = client.get("/phone/samtal").get_data(as_text=True)
    assert now.ticket.reference not in html
    assert "Inget samtal är kopplat till dig just nu." in html


def test_a_stranger_is_sent_to_sign_in(client):
    assert client.get("/phone/samtal").status_code == 302


def test_the_phone_page_follows_the_agents_own_topic_and_has_the_pop_slot(twilio, session, agent, client):
    html = client.get("/phone").get_data(as_text=True)
    assert f"user:{agent.id}" in html
    assert 'id="screen-pop"' in html
    assert 'data-live-pop="/phone/samtal"' in html
    assert "Uppdatera sidan" in html  # the refresh link without JavaScript
