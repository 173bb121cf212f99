"""Live-call transfers from the phone page: cold to a department queue, a person or a number; warm ones."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from kontaktcenter.casework.models import Escalation
from kontaktcenter.contacts.calls import CallOffer, CallTransfer
from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import Queue, User
from kontaktcenter.metrics.engine import ReportQuery
from kontaktcenter.metrics.transfers import transfer_figures
from kontaktcenter.notify.transport import clear_recorded, recorded
from kontaktcenter.switchboard.models import StaffMember, SwitchboardRequest
from kontaktcenter.tickets.models import TicketEvent
from tests.fixtures.twilio import BASE, call_params, call_sid, parse_twiml, twilio_post

AGENT_LEG = "CA" + "a" * 32


@pytest.fixture
def agent(make_user, session, auth):
    user = make_user("agent", queues=["kc-forsta-linjen"], presence="available", phone_identity="client:tr")
    session.commit()
    auth.login(user.username, "secret-pass-123")
    return user


@pytest.fixture
def staff(session):
    def make(name: str, phone: str = "+46406001000", **kw) -> StaffMember:
        person = StaffMember(employee_id=f"hr-{name}", name=name, phone=phone, **kw)
        session.add(person)
        session.commit()
        return person

    return make


def _live_call(app, twilio, session, agent: User, caller: str = "+46731115500") -> Contact:
    """A caller in the first line, answered by the agent (bridge with the agent's own leg)."""
    sid = call_sid()
    twilio.queue(sid, digits="2", From=caller)
    twilio.post(
        f"/twilio/voice/bridge?agent={agent.id}",
        call_params(sid, From=caller, QueueTime="20", DequeingCallSid=AGENT_LEG),
    )
    with app.app_context():
        clear_recorded()
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_sid == sid))


def _requests(app):
    with app.app_context():
        return recorded()


def _twiml_of(request):
    return parse_twiml(request.data["Twiml"].encode())


def _transfer(auth, contact: Contact, **form):
    data = {"contact_id": str(contact.id), **form}
    return auth.post("/phone/transfer", data, csrf_page="/phone")


def _flash(auth, response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    return auth.client.get(response.headers["Location"]).get_data(as_text=True)


def _transfers(session, contact: Contact) -> list[CallTransfer]:
    session.expire_all()
    return list(session.scalars(select(CallTransfer).where(CallTransfer.contact_id == contact.id)))


def _events(session, contact: Contact) -> list[str]:
    return list(
        session.scalars(
            select(TicketEvent.kind).where(TicketEvent.ticket_id == contact.ticket_id).order_by(TicketEvent.id)
        )
    )


def _queue(session, code: str) -> Queue:
    return session.scalar(select(Queue).where(Queue.code == code))


def _nothing_changed(app, session, contact: Contact, events_before: list[str]) -> None:
    assert _transfers(session, contact) == []
    assert _events(session, contact) == events_before
    assert session.scalar(select(func.count(Escalation.id)).where(Escalation.ticket_id == contact.ticket_id)) == 0
    assert [r for r in _requests(app) if r.kind in ("call", "call_update")] == []
    assert session.get(Contact, contact.id).outcome is None


# -- cold to a department queue ----------------------------------------------------------


def test_cold_transfer_to_a_department_queue_escalates_with_the_handover(app, twilio, session, agent, auth, clock):
    contact = _live_call(app, twilio, session, agent)
    sid = contact.provider_sid  # the queue entry takes it over (transfers.requeue)
    queue = _queue(session, "grundskola-antagning")
    page = auth.client.get("/phone").get_data(as_text=True)
    assert "Pågående samtal" in page
    assert contact.ticket.reference in page

    clock.set("2026-03-03 10:03")  # three minutes into the conversation
    page = _flash(auth, _transfer(auth, contact, kind="queue", queue_id=str(queue.id), note="Vill byta skola i mars."))
    assert "Samtalet är kopplat vidare." in page
    assert "Pågående samtal" not in page  # the agent's part of the call is over

    (transfer,) = _transfers(session, contact)
    assert (transfer.kind, transfer.warm, transfer.queue_id, transfer.status) == (
        "queue",
        False,
        queue.id,
        "connecting",
    )
    assert transfer.user_id == agent.id
    assert transfer.at == clock.now
    escalation = session.scalar(select(Escalation).where(Escalation.ticket_id == contact.ticket_id))
    assert escalation.to_queue_id == queue.id
    assert escalation.citizen_wants == "Vill byta skola i mars."
    assert escalation.created_by_id == agent.id
    ticket = session.get(Contact, contact.id).ticket
    assert ticket.status == "escalated"
    assert ticket.queue_id == queue.id
    assert "call_transferred" in _events(session, contact)
    assert "escalated" in _events(session, contact)
    assert session.get(User, agent.id).presence == "available"
    assert session.get(Contact, contact.id).ended_at == clock.now  # the agent's handling ends here

    # The caller's own leg is moved into the department's queue, with its own hold loop.
    (update,) = [r for r in _requests(app) if r.kind == "call_update"]
    assert update.url.endswith(f"/Calls/{sid}.json")
    enqueue = _twiml_of(update).find("Enqueue")
    assert enqueue.text == "grundskola-antagning"
    assert enqueue.get("action") == f"{BASE}/twilio/voice/transfer-result?transfer={transfer.id}"
    assert enqueue.get("waitUrl") == f"{BASE}/twilio/voice/transfer-wait?transfer={transfer.id}"

    # The caller waits in the department queue as a queue entry of its own (the distribution
    # and wallboard count it like any waiting call).
    entry = session.get(Contact, transfer.requeued_contact_id)
    assert (entry.queue_id, entry.provider_sid, entry.answered_at) == (queue.id, sid, None)
    # A caseworker answers after 45 s in the department queue.
    clock.set("2026-03-03 10:05")
    response = twilio.post(
        f"/twilio/voice/transfer-result?transfer={transfer.id}",
        call_params(sid, QueueResult="bridged", QueueTime="45"),
    )
    assert response.status_code == 200
    (transfer,) = _transfers(session, contact)
    assert transfer.answered_at == transfer.at + timedelta(seconds=45)
    assert transfer.status == "answered"
    assert "call_transfer_answered" in _events(session, contact)


def test_a_queue_transfer_without_a_handover_is_refused_and_changes_nothing(app, twilio, session, agent, auth):
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    queue = _queue(session, "grundskola-antagning")
    page = _flash(auth, _transfer(auth, contact, kind="queue", queue_id=str(queue.id), note="   "))
    assert "Skriv en överlämning till handläggaren" in page
    _nothing_changed(app, session, contact, before)


def test_a_queue_transfer_only_goes_to_a_department_queue(app, twilio, session, agent, auth):
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    first_line = _queue(session, "kc-flersprakig")
    page = _flash(auth, _transfer(auth, contact, kind="queue", queue_id=str(first_line.id), note="Fråga"))
    assert "Välj en förvaltnings kö att koppla till." in page
    _nothing_changed(app, session, contact, before)


def test_the_department_hold_loop_offers_no_callback(app, twilio, session, agent, auth):
    contact = _live_call(app, twilio, session, agent)
    sid = contact.provider_sid  # the queue entry takes it over (transfers.requeue)
    queue = _queue(session, "grundskola-antagning")
    _transfer(auth, contact, kind="queue", queue_id=str(queue.id), note="Skolbyte")
    (transfer,) = _transfers(session, contact)
    response = twilio.post(
        f"/twilio/voice/transfer-wait?transfer={transfer.id}",
        call_params(sid, QueuePosition="2", QueueTime="0"),
    )
    root = parse_twiml(response.get_data())
    said = " ".join(s.text for s in root.iter("Say"))
    assert "Du är nu i kö till förvaltningen." in said
    assert "plats 2" in said
    assert root.find("Gather") is None


def test_a_caller_nobody_in_the_department_answers_leaves_the_queue_told_they_will_be_contacted(
    app, twilio, session, agent, auth
):
    contact = _live_call(app, twilio, session, agent)
    sid = contact.provider_sid  # the queue entry takes it over (transfers.requeue)
    queue = _queue(session, "grundskola-antagning")
    _transfer(auth, contact, kind="queue", queue_id=str(queue.id), note="Skolbyte")
    (transfer,) = _transfers(session, contact)
    limit = app.config["transfers"]["department_wait_seconds"]
    path = f"/twilio/voice/transfer-wait?transfer={transfer.id}"
    waiting = parse_twiml(twilio.post(path, call_params(sid, QueueTime=str(limit - 1))).get_data())
    assert waiting.find("Leave") is None
    timed_out = parse_twiml(twilio.post(path, call_params(sid, QueueTime=str(limit))).get_data())
    assert timed_out.find("Leave") is not None
    # Twilio then reports the caller left the queue: unanswered, the errand stays escalated.
    result = twilio.post(
        f"/twilio/voice/transfer-result?transfer={transfer.id}",
        call_params(sid, QueueResult="leave", QueueTime=str(limit)),
    )
    root = parse_twiml(result.get_data())
    assert "du blir kontaktad" in " ".join(s.text for s in root.iter("Say"))
    assert root.find("Hangup") is not None
    session.expire_all()
    (transfer,) = _transfers(session, contact)
    assert (transfer.status, transfer.answered_at) == ("unanswered", None)
    assert session.get(Contact, contact.id).ticket.status == "escalated"


# -- cold to a person ---------------------------------------------------------------------


def test_cold_transfer_to_a_person_who_answers(app, twilio, session, agent, auth, staff, clock):
    person = staff("Maria Lind", phone="+46406002000", title="Rektor")
    contact = _live_call(app, twilio, session, agent)
    page = _flash(auth, _transfer(auth, contact, kind="person", staff_member_id=str(person.id)))
    assert "Samtalet är kopplat vidare." in page
    (transfer,) = _transfers(session, contact)
    assert (transfer.kind, transfer.staff_member_id, transfer.number) == ("person", person.id, "+46406002000")
    (update,) = [r for r in _requests(app) if r.kind == "call_update"]
    dial = _twiml_of(update).find("Dial")
    assert dial.find("Number").text == "+46406002000"
    assert dial.get("action") == f"{BASE}/twilio/voice/transfer-result?transfer={transfer.id}"
    assert dial.get("timeout") == "25"  # [transfers] ring_seconds

    clock.set("2026-03-03 10:10")
    response = twilio.post(
        f"/twilio/voice/transfer-result?transfer={transfer.id}",
        call_params(contact.provider_sid, DialCallStatus="completed", DialCallDuration="240"),
    )
    assert [c.tag for c in parse_twiml(response.get_data())] == ["Hangup"]
    (transfer,) = _transfers(session, contact)
    assert transfer.answered_at == clock.now - timedelta(seconds=240)
    request = session.scalar(select(SwitchboardRequest).where(SwitchboardRequest.contact_id == contact.id))
    assert (request.via, request.staff_member_id, request.connected_to_id) == ("agent", person.id, person.id)
    assert request.connected_at == transfer.answered_at


def test_cold_transfer_to_a_person_who_does_not_answer_returns_the_caller(app, twilio, session, agent, auth, staff):
    person = staff("Johan Berg", phone="sip:johan.berg@malmo.se")
    contact = _live_call(app, twilio, session, agent)
    caller_sid = contact.provider_sid
    _transfer(auth, contact, kind="person", staff_member_id=str(person.id))
    (transfer,) = _transfers(session, contact)
    (update,) = [r for r in _requests(app) if r.kind == "call_update"]
    assert _twiml_of(update).find("Dial").find("Sip").text == "sip:johan.berg@malmo.se"

    response = twilio.post(
        f"/twilio/voice/transfer-result?transfer={transfer.id}",
        call_params(caller_sid, DialCallStatus="no-answer", DialCallDuration="0"),
    )
    root = parse_twiml(response.get_data())
    assert root.find("Enqueue").text == "kc-forsta-linjen"  # back to the line, not a hang-up
    assert "Du kopplas tillbaka till kontaktcenter" in root.find("Say").text
    (transfer,) = _transfers(session, contact)
    assert transfer.answered_at is None
    assert transfer.status == "unanswered"
    assert "call_transfer_unanswered" in _events(session, contact)
    request = session.scalar(select(SwitchboardRequest).where(SwitchboardRequest.contact_id == contact.id))
    assert request.connected_at is None
    # Back in the queue as a waiting call that take-next (and the distribution) find.
    again = session.scalar(select(Contact).where(Contact.provider_sid == caller_sid))
    assert (again.id != contact.id, again.answered_at, again.outcome) == (True, None, None)
    _flash(auth, auth.post("/phone/next", csrf_page="/phone"))
    (offer,) = session.scalars(select(CallOffer).where(CallOffer.contact_id == again.id))
    assert offer.user_id == agent.id


def test_the_absence_notice_is_shown_before_connecting(app, twilio, session, agent, auth, staff, clock):
    alternative = staff("Karin Alt", phone="+46406003001")
    away = staff(
        "Per Borta",
        phone="+46406003000",
        absent_until=clock.now + timedelta(days=3),
        absence_message="Föräldraledig, åter på fredag.",
        alternative_id=alternative.id,
    )
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    page = auth.client.get("/phone?q=per%20borta").get_data(as_text=True)
    assert "Föräldraledig, åter på fredag." in page
    assert "Hänvisar till Karin Alt." in page
    assert "Koppla till Karin Alt i stället" in page
    assert page.index("Föräldraledig") < page.index("Koppla till Karin Alt i stället")

    # Connecting without having seen the notice (no confirmation) is refused, with the notice.
    page = _flash(auth, _transfer(auth, contact, kind="person", staff_member_id=str(away.id)))
    assert "Per Borta är frånvarande: Föräldraledig, åter på fredag." in page
    _nothing_changed(app, session, contact, before)

    # The alternative the notice names, as offered.
    _transfer(auth, contact, kind="person", staff_member_id=str(alternative.id), instead_of=str(away.id))
    (transfer,) = _transfers(session, contact)
    assert transfer.staff_member_id == alternative.id
    assert transfer.number == "+46406003001"
    request = session.scalar(select(SwitchboardRequest).where(SwitchboardRequest.contact_id == contact.id))
    assert (request.staff_member_id, request.connected_to_id) == (away.id, alternative.id)


def test_an_absent_person_can_be_connected_when_the_agent_confirms(app, twilio, session, agent, auth, staff, clock):
    away = staff("Eva Frånvaro", absent_until=clock.now + timedelta(hours=2), absence_message="På möte.")
    contact = _live_call(app, twilio, session, agent)
    _transfer(auth, contact, kind="person", staff_member_id=str(away.id), confirm_absent="1")
    (transfer,) = _transfers(session, contact)
    assert transfer.staff_member_id == away.id


def test_the_alternative_must_be_the_one_the_notice_names(app, twilio, session, agent, auth, staff, clock):
    other = staff("Olle Annan")
    away = staff("Lisa Borta", absent_until=clock.now + timedelta(days=1))
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    page = _flash(auth, _transfer(auth, contact, kind="person", staff_member_id=str(other.id), instead_of=str(away.id)))
    assert "Olle Annan är inte den som frånvaroanmälan hänvisar till." in page
    _nothing_changed(app, session, contact, before)


# -- external numbers -----------------------------------------------------------------------


def test_transfer_to_a_valid_external_number(app, twilio, session, agent, auth):
    contact = _live_call(app, twilio, session, agent)
    _transfer(auth, contact, kind="external", number="040-34 10 00", note="Till Region Skåne")
    (transfer,) = _transfers(session, contact)
    assert (transfer.kind, transfer.number) == ("external", "+4640341000")
    (update,) = [r for r in _requests(app) if r.kind == "call_update"]
    assert _twiml_of(update).find("Dial").find("Number").text == "+4640341000"
    event = session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == contact.ticket_id, TicketEvent.kind == "call_transferred")
    )
    assert event.to_value == "+4640341000"
    # In the ticket's history, for whoever reads the ticket.
    history = auth.client.get(f"/tickets/{contact.ticket.reference}").get_data(as_text=True)
    assert "Samtalet kopplat vidare" in history  # the event, in words
    assert "+4640341000" in history
    assert event.detail["note"] == "Till Region Skåne"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("12345", "12345 är inte ett giltigt telefonnummer."),
        ("inte ett nummer", "inte ett nummer är inte ett telefonnummer."),
        ("0900-123 456", "Samtal kopplas inte till betalnummer eller spärrade nummer (0900-123 456)."),
        ("112", "Samtal kopplas inte till kortnummer (112)."),
        ("118 118", "Samtal kopplas inte till kortnummer (118 118)."),
        ("", "Skriv numret du vill koppla till."),
    ],
)
def test_invalid_or_refused_external_numbers_change_nothing(app, twilio, session, agent, auth, number, message):
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    page = _flash(auth, _transfer(auth, contact, kind="external", number=number))
    assert message in page
    _nothing_changed(app, session, contact, before)


# -- warm transfers --------------------------------------------------------------------------


def _start_warm(app, twilio, session, agent, auth, staff):
    person = staff("Anna Varm", phone="+46406004000")
    contact = _live_call(app, twilio, session, agent)
    page = _flash(auth, _transfer(auth, contact, kind="person", staff_member_id=str(person.id), warm="1"))
    assert "Mottagaren rings upp." in page
    assert "Avbryt och ta tillbaka samtalet" in page
    (transfer,) = _transfers(session, contact)
    return contact, transfer


def test_warm_transfer_puts_the_caller_on_hold_and_dials_the_receiver_into_the_conference(
    app, twilio, session, agent, auth, staff
):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    assert transfer.warm
    assert transfer.status == "connecting"
    assert transfer.agent_call_sid == AGENT_LEG
    requests = _requests(app)
    caller, agent_leg = [r for r in requests if r.kind == "call_update"]
    (receiver,) = [r for r in requests if r.kind == "call"]
    assert caller.url.endswith(f"/Calls/{contact.provider_sid}.json")
    assert _twiml_of(caller).find("Redirect").text == f"{BASE}/twilio/voice/transfer-hold?transfer={transfer.id}"
    assert agent_leg.url.endswith(f"/Calls/{AGENT_LEG}.json")
    conference = f"kc-transfer-{contact.id}"
    assert _twiml_of(agent_leg).find("Dial").find("Conference").text == conference
    assert receiver.data["To"] == "+46406004000"
    assert _twiml_of(receiver).find("Dial").find("Conference").text == conference
    assert receiver.data["StatusCallback"] == f"{BASE}/twilio/voice/transfer-status?transfer={transfer.id}"
    assert transfer.receiver_call_sid == receiver.response["sid"]
    # The agent is still in the call; the hold loop keeps the caller waiting.
    assert session.get(Contact, contact.id).outcome is None
    hold = parse_twiml(
        twilio.post(f"/twilio/voice/transfer-hold?transfer={transfer.id}", call_params(contact.provider_sid)).get_data()
    )
    assert hold.find("Pause") is not None
    assert hold.find("Redirect") is not None


def test_warm_transfer_completed_hands_the_caller_over(app, twilio, session, agent, auth, staff, clock):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    # Completing before the receiver answered is refused.
    page = _flash(auth, auth.post(f"/phone/transfer/{transfer.id}/complete", csrf_page="/phone"))
    assert "Mottagaren har inte svarat." in page

    clock.set("2026-03-03 10:00:30")
    response = twilio.post(
        f"/twilio/voice/transfer-status?transfer={transfer.id}",
        call_params(transfer.receiver_call_sid, CallStatus="in-progress", Direction="outbound-api"),
    )
    assert response.status_code == 204
    (transfer,) = _transfers(session, contact)
    assert transfer.status == "answered"
    assert transfer.answered_at == clock.now
    assert "Mottagaren (Anna Varm, +46406004000) har svarat." in auth.client.get("/phone").get_data(as_text=True)

    with app.app_context():
        clear_recorded()
    page = _flash(auth, auth.post(f"/phone/transfer/{transfer.id}/complete", csrf_page="/phone"))
    assert "Samtalet är överlämnat." in page
    assert "Pågående samtal" not in page
    caller, agent_leg = [r for r in _requests(app) if r.kind == "call_update"]
    assert caller.url.endswith(f"/Calls/{contact.provider_sid}.json")
    assert _twiml_of(caller).find("Dial").find("Conference").text == f"kc-transfer-{contact.id}"
    assert agent_leg.url.endswith(f"/Calls/{AGENT_LEG}.json")
    assert agent_leg.data["Status"] == "completed"
    (transfer,) = _transfers(session, contact)
    assert transfer.status == "completed"
    assert session.get(Contact, contact.id).outcome == "answered"
    assert session.get(User, agent.id).presence == "available"
    assert _events(session, contact)[-3:] == ["call_transferred", "call_transfer_answered", "call_transfer_completed"]


def test_warm_transfer_cancelled_brings_the_caller_back_to_the_agent(app, twilio, session, agent, auth, staff):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    with app.app_context():
        clear_recorded()
    page = _flash(auth, auth.post(f"/phone/transfer/{transfer.id}/cancel", csrf_page="/phone"))
    assert "Överlämnandet är avbrutet. Du pratar med medborgaren igen." in page
    assert "Pågående samtal" in page  # still the agent's call, ready for another try
    receiver, caller = [r for r in _requests(app) if r.kind == "call_update"]
    assert receiver.url.endswith(f"/Calls/{transfer.receiver_call_sid}.json")
    assert receiver.data["Status"] == "canceled"
    assert _twiml_of(caller).find("Dial").find("Conference").text == f"kc-transfer-{contact.id}"
    (transfer,) = _transfers(session, contact)
    assert transfer.status == "cancelled"
    assert transfer.answered_at is None
    assert session.get(Contact, contact.id).outcome is None


def test_a_warm_transfer_to_a_queue_is_refused(app, twilio, session, agent, auth):
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    queue = _queue(session, "grundskola-antagning")
    page = _flash(auth, _transfer(auth, contact, kind="queue", queue_id=str(queue.id), note="x", warm="1"))
    assert "Ett varmt överlämnande går bara till en person eller ett nummer." in page
    _nothing_changed(app, session, contact, before)


# -- attacks ------------------------------------------------------------------------------------


def test_another_agent_cannot_transfer_the_call(app, twilio, session, agent, auth, make_user, staff):
    person = staff("Mål Person")
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    other = make_user("agent", department="kultur", queues=["kc-forsta-linjen"], presence="busy")
    session.commit()
    auth.logout()
    auth.login(other.username, "secret-pass-123")
    assert "Pågående samtal" not in auth.client.get("/phone").get_data(as_text=True)
    page = _flash(auth, _transfer(auth, contact, kind="person", staff_member_id=str(person.id)))
    assert "Samtalet är inte längre ditt pågående samtal." in page
    _nothing_changed(app, session, contact, before)


def test_a_stranger_and_a_caseworker_cannot_transfer(app, twilio, session, agent, auth, client, staff):
    person = staff("Mål Person")
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    auth.logout()
    form = {"contact_id": str(contact.id), "kind": "person", "staff_member_id": str(person.id)}
    assert client.post("/phone/transfer", data=form).status_code in (302, 400)  # no session, no CSRF token
    auth.login("handlaggare")
    assert auth.post("/phone/transfer", form, csrf_page="/console").status_code == 403
    _nothing_changed(app, session, contact, before)


def test_a_transfer_without_the_csrf_token_is_refused(app, twilio, session, agent, auth, staff):
    person = staff("Mål Person")
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    response = auth.client.post(
        "/phone/transfer", data={"contact_id": str(contact.id), "kind": "person", "staff_member_id": str(person.id)}
    )
    assert response.status_code == 400
    _nothing_changed(app, session, contact, before)


def test_a_stale_call_cannot_be_transferred(app, twilio, session, agent, auth, staff):
    person = staff("Mål Person")
    contact = _live_call(app, twilio, session, agent)
    twilio.post("/twilio/voice/status", call_params(contact.provider_sid, CallStatus="completed", CallDuration="60"))
    before = _events(session, contact)
    page = _flash(auth, _transfer(auth, contact, kind="person", staff_member_id=str(person.id)))
    assert "Samtalet är inte längre ditt pågående samtal." in page
    assert _transfers(session, contact) == []
    assert _events(session, contact) == before


def test_nul_bytes_and_an_over_long_note_are_refused(app, twilio, session, agent, auth):
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    queue = _queue(session, "grundskola-antagning")
    response = _transfer(auth, contact, kind="queue", queue_id=str(queue.id), note="Hej\x00då")
    assert response.status_code == 400
    page = _flash(auth, _transfer(auth, contact, kind="queue", queue_id=str(queue.id), note="x" * 4001))
    assert "Anteckningen får vara högst 4000 tecken." in page
    page = _flash(auth, _transfer(auth, contact, kind="external", number="1" * 500))
    assert "Numret är för långt." in page
    page = _flash(auth, _transfer(auth, contact, kind="person", staff_member_id="1; DROP TABLE"))
    assert "Ogiltigt val." in page
    page = _flash(auth, _transfer(auth, contact, kind="elsewhere"))
    assert "Välj vart samtalet ska kopplas." in page
    _nothing_changed(app, session, contact, before)


def test_forged_or_mismatched_transfer_webhooks_change_nothing(app, twilio, session, agent, auth, client, staff):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    params = call_params(transfer.receiver_call_sid, CallStatus="in-progress")
    path = f"/twilio/voice/transfer-status?transfer={transfer.id}"
    assert twilio_post(client, path, params, token="wrong-token").status_code == 403  # noqa: S106
    assert client.post(path, data=params).status_code == 403
    # Signed, but about another call than the transfer's receiver: ignored.
    assert twilio.post(path, call_params(call_sid(), CallStatus="in-progress")).status_code == 204
    result = f"/twilio/voice/transfer-result?transfer={transfer.id}"
    assert twilio.post(result, call_params(call_sid(), DialCallStatus="completed")).status_code == 200
    (transfer,) = _transfers(session, contact)
    assert transfer.answered_at is None
    assert transfer.status == "connecting"


def test_a_warm_transfer_needs_the_agents_leg(app, twilio, session, agent, auth, staff):
    person = staff("Anna Varm")
    sid = call_sid()
    twilio.queue(sid, digits="2")
    twilio.post(f"/twilio/voice/bridge?agent={agent.id}", call_params(sid, QueueTime="5"))  # no DequeingCallSid
    with app.app_context():
        clear_recorded()
    contact = session.scalar(select(Contact).where(Contact.provider_sid == sid))
    before = _events(session, contact)
    page = _flash(auth, _transfer(auth, contact, kind="person", staff_member_id=str(person.id), warm="1"))
    assert "ett varmt överlämnande går inte" in page
    _nothing_changed(app, session, contact, before)


def test_another_agent_cannot_end_a_warm_transfer(app, twilio, session, agent, auth, staff, make_user):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    other = make_user("agent", queues=["kc-forsta-linjen"])
    session.commit()
    auth.logout()
    auth.login(other.username, "secret-pass-123")
    page = _flash(auth, auth.post(f"/phone/transfer/{transfer.id}/cancel", csrf_page="/phone"))
    assert "Överlämnandet finns inte." in page
    (transfer,) = _transfers(session, contact)
    assert transfer.status == "connecting"


# -- figures -------------------------------------------------------------------------------------


def test_transfer_figures_count_transfers_and_those_answered(app, twilio, session, agent, auth, staff, clock):
    person = staff("Figur Person")
    answered = _live_call(app, twilio, session, agent, caller="+46731115501")
    _transfer(auth, answered, kind="person", staff_member_id=str(person.id))
    (t1,) = _transfers(session, answered)
    twilio.post(
        f"/twilio/voice/transfer-result?transfer={t1.id}",
        call_params(answered.provider_sid, DialCallStatus="completed", DialCallDuration="30"),
    )
    unanswered = _live_call(app, twilio, session, agent, caller="+46731115502")
    _transfer(auth, unanswered, kind="external", number="040-34 10 00")
    (t2,) = _transfers(session, unanswered)
    twilio.post(
        f"/twilio/voice/transfer-result?transfer={t2.id}",
        call_params(unanswered.provider_sid, DialCallStatus="busy"),
    )
    day = date(2026, 3, 3)
    with app.app_context():
        total = transfer_figures(session, ReportQuery(start=day, end=day))
        by_service = transfer_figures(session, ReportQuery(start=day, end=day, by=("service",)))
        other_day = transfer_figures(session, ReportQuery(start=date(2026, 3, 4), end=date(2026, 3, 4)))
    assert total.to_dict("records") == [{"transfers": 2, "transfers_completed": 1}]
    assert by_service.to_dict("records") == [{"service": "skolval", "transfers": 2, "transfers_completed": 1}]
    assert other_day.to_dict("records") == [{"transfers": 0, "transfers_completed": 0}]


def test_the_panel_in_english(app, twilio, session, agent, auth):
    _live_call(app, twilio, session, agent)
    page = auth.client.get("/phone?lang=en").get_data(as_text=True)
    assert "Call in progress" in page
    assert "Transfer to the queue" in page


# -- the agent's leg after the bridge ------------------------------------------------------------


def _agent_after(twilio, agent: User, tries: int = 0):
    path = f"/twilio/voice/agent-after?agent={agent.id}" + (f"&try={tries}" if tries else "")
    response = twilio.post(path, call_params(AGENT_LEG, Direction="outbound-api"))
    assert response.status_code == 200
    return parse_twiml(response.get_data())


def test_the_agents_leg_stays_up_while_a_warm_transfer_is_set_up(app, twilio, session, agent, auth, staff):
    _live_call(app, twilio, session, agent)
    # The caller left the bridge (put on hold) before the agent's leg was moved: it waits, a few times.
    root = _agent_after(twilio, agent)
    assert [c.tag for c in root] == ["Pause", "Redirect"]
    assert root.find("Redirect").text == f"{BASE}/twilio/voice/agent-after?agent={agent.id}&try=1"
    assert [c.tag for c in _agent_after(twilio, agent, tries=3)] == ["Hangup"]


def test_the_agents_leg_hangs_up_after_a_cold_transfer(app, twilio, session, agent, auth, staff):
    person = staff("Kall Person")
    contact = _live_call(app, twilio, session, agent)
    _transfer(auth, contact, kind="person", staff_member_id=str(person.id))
    assert [c.tag for c in _agent_after(twilio, agent)] == ["Hangup"]


def test_another_agents_leg_is_not_kept_up(app, twilio, session, agent, auth, make_user):
    _live_call(app, twilio, session, agent)
    other = make_user("agent", queues=["kc-forsta-linjen"])
    session.commit()
    assert [c.tag for c in _agent_after(twilio, other)] == ["Hangup"]


def test_a_warm_transfer_finds_the_agents_leg_from_the_distributions_offer(app, twilio, session, agent, auth, staff):
    person = staff("Anna Erbjuden", phone="+46406004100")
    sid = call_sid()
    twilio.queue(sid, digits="2")
    twilio.post(f"/twilio/voice/bridge?agent={agent.id}", call_params(sid, QueueTime="5"))  # no DequeingCallSid
    contact = session.scalar(select(Contact).where(Contact.provider_sid == sid))
    offered = contact.arrived_at + timedelta(seconds=1)
    session.add(
        CallOffer(
            contact_id=contact.id,
            user_id=agent.id,
            offered_at=offered,
            expires_at=offered + timedelta(seconds=15),
            agent_call_sid="CA" + "c" * 32,
            result="answered",
        )
    )
    session.commit()
    with app.app_context():
        clear_recorded()
    _transfer(auth, contact, kind="person", staff_member_id=str(person.id), warm="1")
    (transfer,) = _transfers(session, contact)
    assert transfer.agent_call_sid == "CA" + "c" * 32
    _caller, agent_leg = [r for r in _requests(app) if r.kind == "call_update"]
    assert agent_leg.url.endswith("/Calls/CA" + "c" * 32 + ".json")


def test_a_second_click_does_not_transfer_twice(app, twilio, session, agent, auth, staff):
    person = staff("Dubbel Klick")
    contact = _live_call(app, twilio, session, agent)
    _transfer(auth, contact, kind="person", staff_member_id=str(person.id))
    page = _flash(auth, _transfer(auth, contact, kind="person", staff_member_id=str(person.id)))
    assert "Samtalet är inte längre ditt pågående samtal." in page
    assert len(_transfers(session, contact)) == 1
    assert len([r for r in _requests(app) if r.kind == "call_update"]) == 1


def test_when_twilio_refuses_nothing_changes(app, twilio, session, agent, auth, monkeypatch):
    class Refusing(HttpClient):
        def request(self, method, uri, **kw):
            return Response(400, '{"code": 21220, "message": "Call is not in-progress", "status": 400}', {})

    refusing = Client(
        "AC" + "0" * 32, "token", http_client=Refusing(logging.getLogger(__name__), False), environment={}
    )
    monkeypatch.setattr("kontaktcenter.channels.voice.phone_views.twilio_client", lambda: refusing)
    contact = _live_call(app, twilio, session, agent)
    before = _events(session, contact)
    queue = _queue(session, "grundskola-antagning")
    page = _flash(auth, _transfer(auth, contact, kind="queue", queue_id=str(queue.id), note="Skolbyte"))
    assert "Twilio kunde inte koppla samtalet." in page
    assert "Pågående samtal" in page  # still the agent's call
    _nothing_changed(app, session, contact, before)
    assert session.get(Contact, contact.id).ticket.status != "escalated"


def _leg(twilio, transfer, sid: str, **params):
    return twilio.post(f"/twilio/voice/transfer-status?transfer={transfer.id}", call_params(sid, **params))


def _caller_moves(app, contact_sid: str) -> list:
    return [r for r in _requests(app) if r.kind == "call_update" and r.url.endswith(f"/Calls/{contact_sid}.json")]


def test_a_receiver_who_hangs_up_before_the_hand_over_returns_the_caller_to_the_agent(
    app, twilio, session, agent, auth, staff, clock
):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    _leg(twilio, transfer, transfer.receiver_call_sid, CallStatus="in-progress")
    with app.app_context():
        clear_recorded()
    clock.set("2026-03-03 10:01")
    # The receiver leaves the conference (Twilio's participant-leave), then their call ends.
    assert (
        _leg(twilio, transfer, transfer.receiver_call_sid, StatusCallbackEvent="participant-leave").status_code == 204
    )
    _leg(twilio, transfer, transfer.receiver_call_sid, CallStatus="completed", CallDuration="20")
    # The caller is not left on hold: exactly once, they join the agent in the conference again.
    (move,) = _caller_moves(app, contact.provider_sid)
    conference = _twiml_of(move).find("Dial").find("Conference")
    assert conference.text == f"kc-transfer-{contact.id}"
    assert conference.get("endConferenceOnExit") == "true"  # nobody left alone when they leave
    (transfer,) = _transfers(session, contact)
    assert (transfer.status, transfer.ended_at) == ("unanswered", clock.now)
    assert transfer.answered_at is not None  # it was answered: a completed transfer in the figures
    assert "call_transfer_receiver_left" in _events(session, contact)
    # The agent is told on the live-call panel, and may transfer again.
    page = auth.client.get("/phone").get_data(as_text=True)
    assert "Mottagaren (Anna Varm, +46406004000) lade på innan du hade lämnat över." in page
    assert 'id="transfer-to-queue"' in page
    assert session.get(Contact, contact.id).outcome is None  # still the agent's call
    page = _flash(auth, auth.post(f"/phone/transfer/{transfer.id}/complete", csrf_page="/phone"))
    assert "Överlämnandet är redan avslutat." in page


def test_a_receiver_who_never_answers_returns_the_caller_to_the_agent(app, twilio, session, agent, auth, staff):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    with app.app_context():
        clear_recorded()
    _leg(twilio, transfer, transfer.receiver_call_sid, CallStatus="no-answer", Direction="outbound-api")
    (move,) = _caller_moves(app, contact.provider_sid)
    assert _twiml_of(move).find("Dial").find("Conference").text == f"kc-transfer-{contact.id}"
    page = auth.client.get("/phone").get_data(as_text=True)
    assert "Mottagaren (Anna Varm, +46406004000) svarade inte. Medborgaren är tillbaka hos dig." in page
    (transfer,) = _transfers(session, contact)
    assert transfer.status == "unanswered"
    assert transfer.answered_at is None
    assert "call_transfer_unanswered" in _events(session, contact)


def test_the_agent_hears_of_the_returned_caller_through_the_live_stream(app, twilio, session, agent, auth, staff):
    from kontaktcenter.live.feed import feed_of

    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    feed = feed_of(app)
    feed.start()  # on PostgreSQL the notices come back through LISTEN/NOTIFY
    if hasattr(feed, "connected"):
        assert feed.connected.wait(20)
    sub = feed.hub.subscribe(frozenset({f"user:{agent.id}"}))
    try:
        _leg(twilio, transfer, transfer.receiver_call_sid, CallStatus="no-answer")
        notices = []
        while (notice := sub.get(timeout=0 if feed.backend == "memory" else 0.5)) is not None:
            notices.append(notice)
    finally:
        feed.hub.unsubscribe(sub)
    assert ("call.transfer", "unanswered") in [(n.kind, n.data.get("status")) for n in notices]


def test_the_hold_loop_takes_the_caller_back_if_the_move_did_not_reach_twilio(app, twilio, session, agent, auth, staff):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    _leg(twilio, transfer, transfer.receiver_call_sid, CallStatus="busy")
    # The caller's hold loop asks again (the REST move was lost): it is the conference now, not the loop.
    root = parse_twiml(
        twilio.post(f"/twilio/voice/transfer-hold?transfer={transfer.id}", call_params(contact.provider_sid)).get_data()
    )
    assert root.find("Dial").find("Conference").text == f"kc-transfer-{contact.id}"
    assert root.find("Pause") is None


def test_an_agent_who_hangs_up_after_the_receiver_answered_hands_the_caller_over(
    app, twilio, session, agent, auth, staff
):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    _leg(twilio, transfer, transfer.receiver_call_sid, CallStatus="in-progress")
    with app.app_context():
        clear_recorded()
    _leg(twilio, transfer, AGENT_LEG, StatusCallbackEvent="participant-leave")
    (move,) = _caller_moves(app, contact.provider_sid)
    assert _twiml_of(move).find("Dial").find("Conference").text == f"kc-transfer-{contact.id}"
    (transfer,) = _transfers(session, contact)
    assert (transfer.status, transfer.agent_left_at is not None) == ("completed", True)
    assert session.get(Contact, contact.id).outcome == "answered"
    assert session.get(User, agent.id).presence == "available"


def test_receiver_and_agent_both_gone_puts_the_caller_back_in_the_queue(
    app, twilio, session, agent, auth, staff, make_user, monkeypatch, clock
):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    caller_sid = contact.provider_sid
    with app.app_context():
        clear_recorded()
    # The agent hangs up while the receiver's phone rings: the receiver would get the caller...
    clock.set("2026-03-03 10:02")
    _leg(twilio, transfer, AGENT_LEG, StatusCallbackEvent="participant-leave")
    assert _caller_moves(app, caller_sid) == []
    assert session.get(User, agent.id).presence == "available"
    # ...but never answers. A colleague is free, and the distribution is on.
    monkeypatch.setitem(app.config, "phone", {**app.config["phone"], "automatic_distribution": True})
    session.execute(update(User).values(presence="offline"))
    colleague = make_user("agent", queues=["kc-forsta-linjen"], presence="available", phone_identity="client:kollega")
    session.commit()
    with app.app_context():
        clear_recorded()
    clock.set("2026-03-03 10:02:30")
    _leg(twilio, transfer, transfer.receiver_call_sid, CallStatus="no-answer")
    (move,) = _caller_moves(app, caller_sid)
    enqueue = _twiml_of(move).find("Enqueue")
    assert enqueue.text == "kc-forsta-linjen"  # the hold loop of the line, not silence
    assert enqueue.get("waitUrl") == f"{BASE}/twilio/voice/wait"
    session.expire_all()
    again = session.scalar(select(Contact).where(Contact.provider_sid == caller_sid))
    assert again.id != contact.id
    assert (again.answered_at, again.outcome, again.arrived_at) == (None, None, clock.now)
    assert again.ticket_id == contact.ticket_id
    first = session.get(Contact, contact.id)
    assert (first.outcome, first.answered_by_id) == ("answered", agent.id)  # the first conversation stays
    (offer,) = session.scalars(select(CallOffer).where(CallOffer.contact_id == again.id))
    assert offer.user_id == colleague.id  # offered at once, like any waiting call
    assert "call_requeued" in _events(session, contact)
    # Twilio retries the report: nothing more happens.
    _leg(twilio, transfer, transfer.receiver_call_sid, CallStatus="no-answer")
    assert session.scalar(select(func.count(Contact.id)).where(Contact.ticket_id == contact.ticket_id)) == 2


def test_a_receiver_answering_after_the_agent_left_gets_the_caller(app, twilio, session, agent, auth, staff):
    contact, transfer = _start_warm(app, twilio, session, agent, auth, staff)
    _leg(twilio, transfer, AGENT_LEG, StatusCallbackEvent="participant-leave")
    with app.app_context():
        clear_recorded()
    _leg(twilio, transfer, transfer.receiver_call_sid, StatusCallbackEvent="participant-join")
    (move,) = _caller_moves(app, contact.provider_sid)
    assert _twiml_of(move).find("Dial").find("Conference").text == f"kc-transfer-{contact.id}"
    (transfer,) = _transfers(session, contact)
    assert transfer.status == "completed"


def test_an_agent_who_hangs_up_on_the_returned_caller_ends_the_call_but_a_second_try_does_not(
    app, twilio, session, agent, auth, staff
):
    contact, first = _start_warm(app, twilio, session, agent, auth, staff)
    _leg(twilio, first, first.receiver_call_sid, CallStatus="no-answer")  # the caller is back with the agent
    # A second try moves the agent's leg out of the room: Twilio reports the agent leaving it.
    other = staff("Bo Andra", phone="+46406004100")
    _flash(auth, _transfer(auth, contact, kind="person", staff_member_id=str(other.id), warm="1"))
    with app.app_context():
        clear_recorded()
    _leg(twilio, first, AGENT_LEG, StatusCallbackEvent="participant-leave")
    assert _caller_moves(app, contact.provider_sid) == []  # the caller stays on hold for the second try
    second = _transfers(session, contact)[-1]
    _leg(twilio, second, second.receiver_call_sid, CallStatus="busy")  # back with the agent again
    with app.app_context():
        clear_recorded()
    # Now the agent hangs up: the conversation is over, the caller is not left alone in the room.
    _leg(twilio, second, AGENT_LEG, StatusCallbackEvent="participant-leave")
    (hangup,) = _caller_moves(app, contact.provider_sid)
    assert hangup.data == {"Status": "completed"}
