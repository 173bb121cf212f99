"""Callers transferred to a department queue are offered to that department's free caseworkers."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from kontaktcenter.casework.escalation import inbox
from kontaktcenter.contacts.calls import CallOffer, CallTransfer
from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import Queue, User
from kontaktcenter.live.wallboard import figures
from kontaktcenter.metrics.engine import ReportQuery
from kontaktcenter.metrics.transfers import transfer_figures
from kontaktcenter.notify.transport import clear_recorded, recorded
from kontaktcenter.tickets.models import TicketEvent
from tests.fixtures.twilio import BASE, call_params, call_sid, parse_twiml

DEPARTMENT_QUEUE = "grundskola-antagning"  # Grundskoleförvaltningen's


@pytest.fixture
def agent(app, make_user, session, auth, monkeypatch):
    """The first-line agent in a call, signed in; nobody else at a phone; distribution on."""
    monkeypatch.setitem(app.config, "phone", {**app.config["phone"], "automatic_distribution": True})
    session.execute(update(User).values(presence="offline"))
    user = make_user("agent", queues=["kc-forsta-linjen"], presence="available", phone_identity="client:forsta")
    session.commit()
    auth.login(user.username, "secret-pass-123")
    return user


@pytest.fixture
def staff_member(make_user, session, clock):
    """make(role, department, queue, …): a department's caseworker or coordinator with a phone."""

    def make(role="caseworker", department="grundskola", queue=DEPARTMENT_QUEUE, idle_minutes=5, **kw):
        user = make_user(
            role,
            username=f"{role}-{uuid.uuid4().hex[:6]}",
            department=department,
            queues=[queue],
            presence=kw.pop("presence", "available"),
            presence_since=clock.now - timedelta(minutes=idle_minutes),
            phone_identity=kw.pop("phone_identity", f"client:{uuid.uuid4().hex[:8]}"),
            **kw,
        )
        session.commit()
        return user

    return make


def _in_conversation(app, twilio, session, agent: User, caller: str = "+46731115500") -> Contact:
    """A caller queued on the first line (its language noted) and offered to the agent, who answers."""
    sid = call_sid()
    twilio.queue(sid, digits="2", From=caller)
    session.expire_all()
    offer = session.scalar(select(CallOffer).where(CallOffer.user_id == agent.id, CallOffer.result.is_(None)))
    _answer(twilio, offer, agent)
    with app.app_context():
        clear_recorded()
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_sid == sid))


def _transfer_to_department(app, auth, session, contact: Contact) -> CallTransfer:
    queue = session.scalar(select(Queue).where(Queue.code == DEPARTMENT_QUEUE))
    response = auth.post(
        "/phone/transfer",
        {"contact_id": str(contact.id), "kind": "queue", "queue_id": str(queue.id), "note": "Vill byta skola."},
        csrf_page="/phone",
    )
    assert response.status_code == 303
    session.expire_all()
    return session.scalar(select(CallTransfer).where(CallTransfer.contact_id == contact.id))


def _entry(session, transfer: CallTransfer) -> Contact:
    session.expire_all()
    return session.get(Contact, transfer.requeued_contact_id)


def _open_offers(session) -> list[CallOffer]:
    session.expire_all()
    return list(session.scalars(select(CallOffer).where(CallOffer.result.is_(None))))


def _rings(app) -> list[dict]:
    with app.app_context():
        return [r.data for r in recorded() if r.kind == "call"]


def _updates(app) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(r.url.rsplit("/", 1)[1].removesuffix(".json"), r.data) for r in recorded() if r.kind == "call_update"]


def _answer(twilio, offer: CallOffer, user: User):
    return twilio.post(
        f"/twilio/voice/offers/{offer.id}/answer",
        call_params(offer.agent_call_sid, Direction="outbound-api", To=user.phone_identity),
    )


def _events(session, contact: Contact) -> list[TicketEvent]:
    return list(
        session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == contact.ticket_id).order_by(TicketEvent.id))
    )


def test_a_department_transfer_is_offered_to_a_free_caseworker_of_that_department_only(
    app, twilio, session, agent, auth, staff_member
):
    contact = _in_conversation(app, twilio, session, agent)
    sid = contact.provider_sid
    # Ineligible, each idle longer than the one who gets it:
    staff_member(department="forskola", queue="forskola-placering", idle_minutes=90)  # another department
    staff_member(presence="away", idle_minutes=80)
    staff_member(phone_identity="", idle_minutes=70)  # no phone on the profile
    staff_member(languages=("en",), idle_minutes=60)  # not the caller's language
    staff_member(max_open_tickets=0, idle_minutes=50)  # at capacity
    free = staff_member(idle_minutes=5)

    transfer = _transfer_to_department(app, auth, session, contact)

    entry = _entry(session, transfer)
    assert entry.provider_sid == sid  # the caller's CallSid, so Twilio's webhooks find it
    assert session.get(Contact, contact.id).provider_sid == f"{sid}#{contact.id}"
    assert (entry.queue.code, entry.answered_at, entry.outcome, entry.ticket_id) == (
        DEPARTMENT_QUEUE,
        None,
        None,
        contact.ticket_id,
    )
    (offer,) = _open_offers(session)
    assert (offer.contact_id, offer.user_id) == (entry.id, free.id)
    (ring,) = _rings(app)
    assert ring["To"] == free.phone_identity
    assert ring["Url"] == f"{BASE}/twilio/voice/offers/{offer.id}/answer"
    # The caller's own leg was put in the department's Twilio queue with its hold loop.
    ((moved_sid, moved),) = _updates(app)
    assert moved_sid == sid
    assert f"transfer-wait?transfer={transfer.id}" in moved["Twiml"]


def test_a_coordinator_who_makes_themselves_available_on_the_phone_page_is_offered_the_waiting_caller(
    app, twilio, session, agent, auth, staff_member
):
    contact = _in_conversation(app, twilio, session, agent)
    coordinator = staff_member("coordinator", presence="away")
    transfer = _transfer_to_department(app, auth, session, contact)
    assert _open_offers(session) == []  # nobody of the department is at the phone

    auth.logout()
    auth.login(coordinator.username, "secret-pass-123")
    page = auth.client.get("/phone")
    assert page.status_code == 200
    assert "Gör mig tillgänglig" in page.get_data(as_text=True)
    response = auth.post("/phone/presence", {"presence": "available"}, csrf_page="/phone")
    assert response.status_code == 303

    (offer,) = _open_offers(session)
    assert (offer.contact_id, offer.user_id) == (transfer.requeued_contact_id, coordinator.id)


def test_the_caseworker_who_answers_is_bridged_to_exactly_that_caller_and_sees_the_escalated_ticket(
    app, twilio, session, agent, auth, staff_member, clock
):
    contact = _in_conversation(app, twilio, session, agent)
    sid = contact.provider_sid
    other = _in_conversation(app, twilio, session, staff_member("agent", queue="kc-forsta-linjen"), "+46731115599")
    other_sid = other.provider_sid
    caseworker = staff_member()
    transfer = _transfer_to_department(app, auth, session, contact)
    (offer,) = _open_offers(session)
    with app.app_context():
        clear_recorded()

    clock.now += timedelta(seconds=12)
    root = parse_twiml(_answer(twilio, offer, caseworker).get_data())
    assert root.find("Dial").find("Conference").text == f"kc-offer-{offer.id}"
    # Exactly this caller, by their own CallSid, is moved to the caseworker's room.
    assert _updates(app) == [(sid, {"Url": f"{BASE}/twilio/voice/offers/{offer.id}/join", "Method": "POST"})]
    joined = parse_twiml(twilio.post(f"/twilio/voice/offers/{offer.id}/join", call_params(sid)).get_data())
    assert joined.find("Dial").find("Conference").text == f"kc-offer-{offer.id}"
    refused = parse_twiml(twilio.post(f"/twilio/voice/offers/{offer.id}/join", call_params(other_sid)).get_data())
    assert refused.find("Hangup") is not None
    # Twilio reports the caller leaving the department's queue as redirected: the conversation goes on.
    result = twilio.post(
        f"/twilio/voice/transfer-result?transfer={transfer.id}",
        call_params(sid, QueueResult="redirected", QueueTime="12"),
    )
    assert [child.tag for child in parse_twiml(result.get_data())] == []

    entry = _entry(session, transfer)
    assert (entry.answered_by_id, entry.answered_at, entry.outcome) == (caseworker.id, clock.now, None)
    transfer = session.get(CallTransfer, transfer.id)
    assert (transfer.status, transfer.answered_at) == ("answered", clock.now)
    # The ticket stays escalated to the department, in its inbox; who answered is on it.
    ticket = entry.ticket
    assert (ticket.status, ticket.assignee_id, ticket.queue.code) == ("escalated", None, DEPARTMENT_QUEUE)
    answered = [e for e in _events(session, contact) if e.kind == "call_answered_in_department"]
    assert [e.actor_id for e in answered] == [caseworker.id]
    assert session.get(User, caseworker.id).presence == "busy"

    # The caseworker's screen pop and live-call panel show the transferred caller's ticket.
    auth.logout()
    auth.login(caseworker.username, "secret-pass-123")
    pop = auth.client.get("/phone/samtal")
    assert pop.status_code == 200
    assert ticket.reference in pop.get_data(as_text=True)
    page = auth.client.get("/phone").get_data(as_text=True)
    assert "Pågående samtal" in page
    assert ticket.reference in page
    assert "Koppla till en förvaltnings kö" not in page  # transferring on is the first line's

    # The conversation ends: the call record keeps who answered, the caseworker is free again.
    clock.now += timedelta(minutes=4)
    twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="400"))
    entry = _entry(session, transfer)
    assert (entry.outcome, entry.answered_by_id) == ("answered", caseworker.id)
    assert session.get(User, caseworker.id).presence == "available"


def test_nobody_answering_within_the_wait_closes_the_entry_withdraws_the_offer_and_tells_the_caller(
    app, twilio, session, agent, auth, staff_member
):
    contact = _in_conversation(app, twilio, session, agent)
    sid = contact.provider_sid
    caseworker = staff_member()
    transfer = _transfer_to_department(app, auth, session, contact)
    (offer,) = _open_offers(session)
    assert offer.user_id == caseworker.id
    with app.app_context():
        clear_recorded()

    limit = app.config["transfers"]["department_wait_seconds"]
    wait = f"/twilio/voice/transfer-wait?transfer={transfer.id}"
    still = parse_twiml(twilio.post(wait, call_params(sid, QueueTime=str(limit - 1))).get_data())
    assert still.find("Leave") is None
    gone = parse_twiml(twilio.post(wait, call_params(sid, QueueTime=str(limit))).get_data())
    assert gone.find("Leave") is not None
    root = parse_twiml(
        twilio.post(
            f"/twilio/voice/transfer-result?transfer={transfer.id}",
            call_params(sid, QueueResult="leave", QueueTime=str(limit)),
        ).get_data()
    )
    assert "du blir kontaktad" in " ".join(s.text for s in root.iter("Say"))
    assert root.find("Hangup") is not None

    entry = _entry(session, transfer)
    assert entry.outcome == "abandoned"
    assert entry.ended_at == entry.arrived_at + timedelta(seconds=limit)
    assert _open_offers(session) == []
    assert session.get(CallOffer, offer.id).result == "withdrawn"
    assert (offer.agent_call_sid, {"Status": "canceled"}) in _updates(app)  # the caseworker's phone stops ringing
    transfer = session.get(CallTransfer, transfer.id)
    assert (transfer.status, transfer.answered_at) == ("unanswered", None)
    # The handover stays in the department's inbox, the ticket open.
    assert entry.ticket.status == "escalated"
    assert entry.ticket.id in [item.ticket.id for item in inbox(session, caseworker)]
    # A late answer of the withdrawn offer is refused: the caseworker is not put in an empty room.
    late = parse_twiml(_answer(twilio, offer, caseworker).get_data())
    assert late.find("Hangup") is not None


def test_transfers_completed_counts_only_the_department_transfer_a_caseworker_answered(
    app, twilio, session, agent, auth, staff_member
):
    caseworker = staff_member()
    answered = _in_conversation(app, twilio, session, agent, "+46731115501")
    first = _transfer_to_department(app, auth, session, answered)
    (offer,) = _open_offers(session)
    _answer(twilio, offer, caseworker)

    session.execute(update(User).where(User.id == agent.id).values(presence="available"))
    session.commit()
    unanswered = _in_conversation(app, twilio, session, agent, "+46731115502")
    unanswered_sid = unanswered.provider_sid
    second = _transfer_to_department(app, auth, session, unanswered)
    assert _open_offers(session) == []  # the only caseworker is in the first caller's conversation
    twilio.post(
        f"/twilio/voice/transfer-result?transfer={second.id}",
        call_params(unanswered_sid, QueueResult="leave", QueueTime="180"),
    )

    day = date(2026, 3, 3)
    with app.app_context():
        total = transfer_figures(session, ReportQuery(start=day, end=day))
    assert total.to_dict("records") == [{"transfers": 2, "transfers_completed": 1}]
    session.expire_all()
    assert [session.get(CallTransfer, t.id).status for t in (first, second)] == ["answered", "unanswered"]


def test_the_wallboard_counts_the_transferred_caller_once_in_the_department_queue(
    app, twilio, session, agent, auth, clock
):
    contact = _in_conversation(app, twilio, session, agent)
    _transfer_to_department(app, auth, session, contact)
    queues = list(session.scalars(select(Queue).where(Queue.code.in_([DEPARTMENT_QUEUE, "kc-forsta-linjen"]))))
    with app.app_context():
        rows = figures(
            session,
            queues,
            clock.now + timedelta(seconds=30),
            max_callback_attempts=3,
            short_abandon_seconds=5,
            service_level_target=0.8,
        )
    waiting = {row.queue.code: (row.waiting, row.longest_wait_seconds) for row in rows}
    assert waiting == {DEPARTMENT_QUEUE: (1, 30), "kc-forsta-linjen": (0, None)}
