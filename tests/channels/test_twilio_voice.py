"""The voice webhooks: a call's whole life cycle, as Twilio drives it, TwiML checked verb by verb."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from kontaktcenter.contacts.calls import CallOffer
from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import User
from kontaktcenter.notify.transport import recorded
from kontaktcenter.tickets.models import Ticket
from kontaktcenter.worktime.calendar import EXTENSION_KEY, WorkCalendar
from tests.fixtures.factories import at
from tests.fixtures.twilio import (
    BASE,
    CALLER,
    TOKEN,
    TUESDAY_MORNING,
    call_params,
    call_sid,
    parse_twiml,
    twilio_post,
)


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = parse_twiml(response.get_data())
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def _contact(session, sid: str) -> Contact | None:
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_sid == sid))


def _counts(session):
    session.expire_all()
    return session.scalar(select(func.count(Contact.id))), session.scalar(select(func.count(Ticket.id)))


# -- greeting and menu ----------------------------------------------------------------


def test_incoming_greets_in_swedish_and_reads_the_menu_from_config(twilio, app):
    root = twiml(twilio.post("/twilio/voice/incoming", call_params(call_sid())))
    assert verbs(root) == ["Say", "Gather", "Redirect"]
    greeting = root[0]
    assert greeting.get("language") == "sv-SE"
    assert greeting.text == app.config["phone"]["greeting"]
    gather = root[1]
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{BASE}/twilio/voice/menu"
    prompts = [say.text for say in gather]
    assert all(say.tag == "Say" and say.get("language") == "sv-SE" for say in gather)
    # Every digit of [phone.menu] is offered, the general line (0) last.
    assert prompts[0] == "Gäller det försörjningsstöd (ekonomiskt bistånd), tryck 1."
    assert prompts[1] == "Gäller det skolval, tryck 2."
    assert prompts[-1] == "För övriga frågor, tryck 0."
    assert len(prompts) == len(app.config["phone"]["menu"])
    # No key at all: the menu without Digits, which is the general line.
    assert root[2].text == f"{BASE}/twilio/voice/menu"


def test_out_of_hours_says_when_we_open_and_stores_nothing(twilio, clock, session):
    clock.set("2026-03-07 11:00")  # a Saturday
    before = _counts(session)
    root = twiml(twilio.post("/twilio/voice/incoming", call_params(call_sid())))
    assert verbs(root) == ["Say", "Say", "Say", "Hangup"]
    assert root[0].text == "Just nu har vi stängt."
    assert root[1].text == "Vi öppnar igen måndag 9 mars klockan 08.00."
    assert _counts(session) == before


def test_evening_is_out_of_hours_too(twilio, clock):
    clock.set("2026-03-03 17:30")
    root = twiml(twilio.post("/twilio/voice/incoming", call_params(call_sid())))
    assert "Gather" not in verbs(root)
    assert root[1].text == "Vi öppnar igen onsdag 4 mars klockan 08.00."


def test_menu_choice_stores_the_routed_call_and_enqueues_it(twilio, session):
    sid = call_sid()
    root = twiml(twilio.queue(sid, digits="2", From="070-123 45 67"))
    assert verbs(root) == ["Enqueue"]  # "Du är nu i kö" comes from the hold loop, inside the queue
    enqueue = root[0]
    assert enqueue.text == "kc-forsta-linjen"
    assert enqueue.get("waitUrl") == f"{BASE}/twilio/voice/wait"
    assert enqueue.get("waitUrlMethod") == "POST"
    assert enqueue.get("action") == f"{BASE}/twilio/voice/queue-result"
    contact = _contact(session, sid)
    assert contact.channel == "phone"
    assert contact.service.code == "skolval"
    assert contact.citizen_phone == CALLER  # normalised to E.164
    assert contact.reply_channel == "phone"
    assert contact.queue.code == "kc-forsta-linjen"
    assert contact.arrived_at == TUESDAY_MORNING  # arrival is the queue entry
    assert contact.outcome is None
    assert contact.ticket.queue.code == "kc-forsta-linjen"
    assert [e.kind for e in contact.ticket.events][:2] == ["created", "routed"]


def test_routing_rules_decide_the_queue(twilio, session):
    sid = call_sid()
    root = twiml(twilio.queue(sid, digits="1"))  # försörjningsstöd: straight to the department
    assert root.find("Enqueue").text == "asf-forsorjningsstod"
    assert _contact(session, sid).ticket.confidential


def test_no_key_pressed_means_the_general_line(twilio, session):
    sid = call_sid()
    twiml(twilio.post("/twilio/voice/menu", call_params(sid)))
    assert _contact(session, sid).service.code == "allmant"


def test_a_digit_not_in_the_menu_repeats_the_menu_and_stores_nothing(twilio, session):
    before = _counts(session)
    root = twiml(twilio.queue(call_sid(), digits="9"))
    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert root[0].text == "Det valet finns inte."
    assert _counts(session) == before


def test_retried_callsid_makes_no_second_contact(twilio, session):
    sid = call_sid()
    first = twiml(twilio.queue(sid))
    before = _counts(session)
    again = twiml(twilio.queue(sid))
    assert _counts(session) == before
    assert again.find("Enqueue").text == first.find("Enqueue").text


def test_a_closed_department_queue_stores_nothing(twilio, app, session):
    app.extensions[EXTENSION_KEY] = WorkCalendar(
        opening_hours={"default": {"open": "08:00", "close": "17:00"}, "asf-forsorjningsstod": {"closed": True}}
    )
    try:
        before = _counts(session)
        root = twiml(twilio.queue(call_sid(), digits="1"))
    finally:
        app.extensions.pop(EXTENSION_KEY)
    assert verbs(root)[-1] == "Hangup"
    assert root[0].text == "Just nu har vi stängt."
    assert _counts(session) == before


# -- waiting ----------------------------------------------------------------------


def _answered_call(twilio, clock, agent, wait: int):
    """A call answered now after `wait` seconds, through the webhooks."""
    sid = call_sid()
    answered = clock.now
    clock.now = answered - timedelta(seconds=wait)
    twilio.queue(sid)
    clock.now = answered
    twilio.post(
        f"/twilio/voice/bridge?agent={agent.id}", call_params(sid, QueueTime=str(wait), DequeingCallSid=call_sid())
    )
    twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="bridged", QueueTime=str(wait)))
    return sid


def test_hold_loop_tells_position_and_expected_wait_and_offers_a_callback(twilio, session, make_user, clock):
    agent = make_user("agent", queues=["kc-forsta-linjen"], phone_identity="client:t1")
    session.commit()
    _answered_call(twilio, clock, agent, 120)
    _answered_call(twilio, clock, agent, 240)
    sid = call_sid()
    twilio.queue(sid)
    root = twiml(
        twilio.post("/twilio/voice/wait", call_params(sid, QueuePosition="3", QueueTime="30", CurrentQueueSize="4"))
    )
    assert verbs(root) == ["Say", "Say", "Gather"]
    assert root[0].text == "Du har plats 3 i kön."
    # Mean of recent answered waits (180 s) less the 30 s already waited: 150 s → about 3 minutes.
    assert root[1].text == "Beräknad väntetid är cirka 3 minuter."
    gather = root[2]
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{BASE}/twilio/voice/wait"
    assert gather[0].text.startswith("Tryck 1 för att bli uppringd")


def test_hold_loop_without_recent_answers_promises_no_wait(twilio, clock):
    clock.set("2026-05-05 10:00")
    sid = call_sid()
    twilio.queue(sid, digits="3")
    root = twiml(twilio.post("/twilio/voice/wait", call_params(sid, QueuePosition="1", QueueTime="5")))
    assert verbs(root) == ["Say", "Gather"]


def test_withheld_number_gets_no_callback_offer(twilio, session):
    sid = call_sid()
    twilio.queue(sid, From="anonymous")
    assert _contact(session, sid).citizen_phone is None
    root = twiml(
        twilio.post("/twilio/voice/wait", call_params(sid, From="anonymous", QueuePosition="1", QueueTime="5"))
    )
    assert "Gather" not in verbs(root)
    assert verbs(root)[-1] == "Pause"
    # Pressing 1 anyway (a late digit) keeps the caller in the queue.
    root = twiml(twilio.post("/twilio/voice/wait", call_params(sid, From="anonymous", Digits="1")))
    assert "Leave" not in verbs(root)
    assert _contact(session, sid).outcome is None


def test_pressing_1_leaves_the_queue_as_a_callback_ticket(twilio, session, clock):
    sid = call_sid()
    twilio.queue(sid, digits="2")
    clock.set("2026-03-03 10:03")
    root = twiml(twilio.post("/twilio/voice/wait", call_params(sid, Digits="1", QueuePosition="2", QueueTime="180")))
    assert verbs(root) == ["Leave"]
    contact = _contact(session, sid)
    assert contact.outcome == "callback_requested"
    assert contact.ticket.kind == "callback"
    assert contact.ticket.queue.code == "kc-forsta-linjen"  # the routed queue
    assert contact.ticket.is_open
    root = twiml(twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="leave", QueueTime="180")))
    assert verbs(root) == ["Say", "Hangup"]
    assert contact.ticket.reference in root[0].text
    contact = _contact(session, sid)
    assert contact.wait_seconds == 180
    assert contact.ended_at == at("2026-03-03 10:03")
    assert contact.answered_at is None
    assert [e.kind for e in contact.ticket.events][-2:] == ["kind", "callback_requested"]


# -- answering ------------------------------------------------------------------------


def test_call_life_cycle_answered_by_an_agent(twilio, app, client, auth, session, clock):
    """incoming → menu → wait → agent takes the next call (an offer) → answer → join → status."""
    agent = session.scalar(select(User).where(User.username == "agent"))
    agent.presence = "available"
    session.commit()
    sid = call_sid()
    twiml(twilio.post("/twilio/voice/incoming", call_params(sid)))
    twiml(twilio.queue(sid, digits="2"))
    twiml(twilio.post("/twilio/voice/wait", call_params(sid, QueuePosition="1", QueueTime="10")))

    clock.set("2026-03-03 10:00:40")
    auth.login("agent")
    response = auth.post("/phone/next", csrf_page="/phone")
    assert response.status_code == 303
    with app.app_context():
        (request,) = [r for r in recorded() if r.kind == "call"]
    offer = session.scalar(select(CallOffer))
    assert (offer.contact_id, offer.user_id, offer.result) == (_contact(session, sid).id, agent.id, None)
    assert request.data["To"] == "client:agent"
    # The agent's leg asks the offer what to do: never Twilio's head of the queue.
    assert "Twiml" not in request.data
    assert request.data["Url"] == f"{BASE}/twilio/voice/offers/{offer.id}/answer"
    # Twilio reports the end of the agent's own leg, signed like every other webhook.
    assert request.data["StatusCallback"] == f"{BASE}/twilio/voice/offers/{offer.id}/status"

    root = twiml(
        twilio.post(
            f"/twilio/voice/offers/{offer.id}/answer",
            call_params(request.response["sid"], Direction="outbound-api", To="client:agent"),
        )
    )
    assert verbs(root) == ["Say", "Dial", "Redirect"]
    assert root[1][0].text == f"kc-offer-{offer.id}"
    # After the room the agent's leg asks what next (a warm transfer keeps it up).
    assert root[2].text == f"{BASE}/twilio/voice/agent-after?agent={agent.id}"
    contact = _contact(session, sid)
    assert contact.answered_by_id == agent.id
    assert contact.answered_at == at("2026-03-03 10:00:40")
    assert contact.ticket.assignee_id == agent.id
    assert session.get(User, agent.id).presence == "busy"
    root = twiml(twilio.post(f"/twilio/voice/offers/{offer.id}/join", call_params(sid)))
    assert root[0][0].text == f"kc-offer-{offer.id}"
    twiml(twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="redirected", QueueTime="40")))

    clock.set("2026-03-03 10:05:00")
    twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="330"))
    contact = _contact(session, sid)
    assert contact.outcome == "answered"
    assert contact.ended_at == at("2026-03-03 10:05:00")
    assert contact.started_at == at("2026-03-03 09:59:30")
    assert session.get(User, agent.id).presence == "available"
    assert contact.ticket.is_open  # the agent resolves the errand on the ticket page


def _take_next(twilio, app, auth, session, username: str = "agent"):
    """The agent takes the next call from /phone; returns the agent, their leg's status path and its sid."""
    agent = session.scalar(select(User).where(User.username == username))
    agent.presence = "available"
    session.commit()
    auth.login(username)
    assert auth.post("/phone/next", csrf_page="/phone").status_code == 303
    with app.app_context():
        (request,) = [r for r in recorded() if r.kind == "call"]
    status = urlsplit(request.data["StatusCallback"])
    return agent, status.path, request.response["sid"]


def _presence(session, agent) -> str:
    session.expire_all()
    return session.get(User, agent.id).presence


def test_agent_who_does_not_answer_is_set_missed_and_the_caller_keeps_waiting(twilio, app, auth, session):
    sid = call_sid()
    twilio.queue(sid)
    agent, leg_status, leg = _take_next(twilio, app, auth, session)
    response = twilio.post(
        leg_status, call_params(leg, CallStatus="no-answer", To="client:agent", Direction="outbound-api")
    )
    assert response.status_code == 204
    assert _presence(session, agent) == "missed"  # away until they say they are back
    contact = _contact(session, sid)
    assert contact.outcome is None
    assert contact.answered_at is None


def test_agent_leg_ending_before_the_callers_status_keeps_the_agent_busy_until_it_comes(twilio, app, auth, session):
    sid = call_sid()
    twilio.queue(sid)
    agent, leg_status, leg = _take_next(twilio, app, auth, session)
    twiml(twilio.post(leg_status.replace("/status", "/answer"), call_params(leg, Direction="outbound-api")))
    # Both legs hang up together; the agent's report happens to arrive first.
    twilio.post(leg_status, call_params(leg, CallStatus="completed", CallDuration="200"))
    assert _presence(session, agent) == "busy"
    twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="220"))
    assert _presence(session, agent) == "available"


def test_caller_hanging_up_while_the_agents_phone_rings_leaves_the_agent_available(twilio, app, auth, session):
    sid = call_sid()
    twilio.queue(sid)
    agent, leg_status, leg = _take_next(twilio, app, auth, session)
    twiml(twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="hangup", QueueTime="35")))
    with app.app_context():
        assert any(r.kind == "call_update" and r.data == {"Status": "canceled"} for r in recorded())
    twilio.post(leg_status, call_params(leg, CallStatus="canceled"))
    assert _presence(session, agent) == "available"
    assert session.scalar(select(CallOffer.result)) == "withdrawn"


def test_offer_status_signature_covers_the_offer(twilio, app, auth, session, client):
    twilio.queue(call_sid())
    agent, leg_status, leg = _take_next(twilio, app, auth, session)
    params = call_params(leg, CallStatus="no-answer")
    offer_id = int(leg_status.split("/")[-2])
    other = RequestValidator(TOKEN).compute_signature(f"{BASE}/twilio/voice/offers/{offer_id + 1}/status", params)
    assert twilio_post(client, leg_status, params, signature=other).status_code == 403
    assert _presence(session, agent) == "available"
    session.expire_all()
    assert session.get(CallOffer, offer_id).result is None


def test_taking_a_call_needs_presence_available(twilio, app, auth, session):
    agent = session.scalar(select(User).where(User.username == "agent"))
    agent.presence = "away"
    session.commit()
    twilio.queue(call_sid())
    auth.login("agent")
    page = auth.client.get(auth.post("/phone/next", csrf_page="/phone").headers["Location"]).get_data(as_text=True)
    assert "Du måste vara tillgänglig för att ta samtal." in page
    with app.app_context():
        assert [r for r in recorded() if r.kind == "call"] == []


def test_nobody_waiting_rings_nobody(twilio, app, auth, session, make_user):
    make_user("agent", username="tyst", queues=["kc-flersprakig"], presence="available", phone_identity="client:tyst")
    session.commit()
    auth.login("tyst", "secret-pass-123")
    page = auth.client.get(auth.post("/phone/next", csrf_page="/phone").headers["Location"]).get_data(as_text=True)
    assert "Ingen väntar i dina köer just nu." in page
    with app.app_context():
        assert [r for r in recorded() if r.kind == "call"] == []


def test_hangup_in_the_queue_is_abandoned_and_closes_the_empty_ticket(twilio, session, clock):
    sid = call_sid()
    twilio.queue(sid)
    clock.set("2026-03-03 10:00:12")
    root = twiml(twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="hangup", QueueTime="12")))
    assert verbs(root) == ["Hangup"]
    contact = _contact(session, sid)
    assert contact.outcome == "abandoned"
    assert contact.wait_seconds == 12
    assert contact.ended_at == at("2026-03-03 10:00:12")
    assert contact.ticket.status == "resolved"
    assert contact.ticket.resolution == "unresolved"
    # The status callback that follows changes nothing.
    twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="40"))
    assert _contact(session, sid).outcome == "abandoned"


def test_status_before_queue_result_still_records_the_abandon(twilio, session):
    sid = call_sid()
    twilio.queue(sid)
    assert (
        twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="30")).status_code
        == 204
    )
    assert _contact(session, sid).outcome == "abandoned"
    twiml(twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="hangup", QueueTime="25")))
    contact = _contact(session, sid)
    assert contact.outcome == "abandoned"
    assert contact.wait_seconds == 25


def test_call_that_hangs_up_in_the_menu_is_an_ivr_drop_without_a_ticket(twilio, session, clock):
    sid = call_sid()
    twiml(twilio.post("/twilio/voice/incoming", call_params(sid)))
    clock.set("2026-03-03 10:00:20")
    before = _counts(session)
    for _ in range(2):  # Twilio retries the callback
        response = twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="20"))
        assert response.status_code == 204
    assert _counts(session) == (before[0] + 1, before[1])
    contact = _contact(session, sid)
    assert contact.outcome == "ivr_dropped"
    assert contact.ticket_id is None
    assert contact.started_at == contact.arrived_at == TUESDAY_MORNING
    assert contact.ended_at == at("2026-03-03 10:00:20")


def test_intermediate_call_status_changes_nothing(twilio, session):
    before = _counts(session)
    twilio.post("/twilio/voice/status", call_params(call_sid(), CallStatus="ringing"))
    assert _counts(session) == before


# -- signatures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p, params: "", id="missing"),
        pytest.param(lambda p, params: "bm90IGEgc2lnbmF0dXJl", id="garbage"),
        pytest.param(
            lambda p, params: RequestValidator("another-token").compute_signature(BASE + p, params), id="wrong-token"
        ),
        pytest.param(
            lambda p, params: RequestValidator(TOKEN).compute_signature(BASE + "/twilio/voice/wait", params),
            id="other-path",
        ),
        pytest.param(
            lambda p, params: RequestValidator(TOKEN).compute_signature("https://evil.example" + p, params),
            id="other-host",
        ),
        pytest.param(
            lambda p, params: RequestValidator(TOKEN).compute_signature(BASE + p, {**params, "Digits": "2"}),
            id="tampered-param",
        ),
    ],
)
@pytest.mark.parametrize(
    "path", ["/twilio/voice/incoming", "/twilio/voice/menu", "/twilio/voice/status", "/twilio/voice/queue-result"]
)
def test_unsigned_or_forged_requests_get_403_and_change_nothing(client, clock, session, path, forge):
    sid = call_sid()
    params = call_params(sid, Digits="1", CallStatus="completed", QueueResult="hangup")
    before = _counts(session)
    response = twilio_post(client, path, params, signature=forge(path, params))
    assert response.status_code == 403
    assert _counts(session) == before
    assert _contact(session, sid) is None


def test_bridge_signature_covers_the_agent_in_the_query(client, clock, session, twilio, make_user):
    agent = make_user("agent", queues=["kc-forsta-linjen"])
    session.commit()
    sid = call_sid()
    twilio.queue(sid)
    params = call_params(sid, QueueTime="5")
    signed_for_other = RequestValidator(TOKEN).compute_signature(
        f"{BASE}/twilio/voice/bridge?agent={agent.id + 1}", params
    )
    response = twilio_post(client, f"/twilio/voice/bridge?agent={agent.id}", params, signature=signed_for_other)
    assert response.status_code == 403
    assert _contact(session, sid).answered_at is None


def test_out_of_hours_call_is_not_an_ivr_drop(twilio, clock, session):
    clock.set("2026-03-07 11:00")  # Saturday: the caller heard the closed message
    sid = call_sid()
    twiml(twilio.post("/twilio/voice/incoming", call_params(sid)))
    before = _counts(session)
    clock.set("2026-03-07 11:00:25")
    assert (
        twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="25")).status_code
        == 204
    )
    assert _counts(session) == before


def test_a_caller_with_earlier_tickets_is_known_to_routing(twilio, session, make_contact):
    from kontaktcenter.routing.models import RoutingDecision

    make_contact("web", service="skolval", phone="073-111 22 99", text="Skolval", arrived_at=at("2026-02-20 10:00"))
    known, stranger = call_sid(), call_sid()
    twilio.queue(known, From="+46731112299")
    twilio.queue(stranger, From="+46731112298")

    def attributes(sid):
        contact = _contact(session, sid)
        return session.scalar(select(RoutingDecision).where(RoutingDecision.contact_id == contact.id)).attributes

    assert attributes(known)["citizen_known"] is True
    assert attributes(stranger)["citizen_known"] is False
