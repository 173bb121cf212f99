"""Inbound SMS: a new ticket or the sender's open one, the reference in the answer, delivery reports."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import Message, Ticket
from kontaktcenter.tickets.service import add_message, resolve, set_status
from tests.fixtures.factories import at
from tests.fixtures.twilio import BASE, SENDER, message_sid, reply_text, sms, twilio_post


def _contact(session, sid: str) -> Contact:
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_sid == sid))


def _counts(session):
    session.expire_all()
    return (
        session.scalar(select(func.count(Contact.id))),
        session.scalar(select(func.count(Ticket.id))),
        session.scalar(select(func.count(Message.id))),
    )


@pytest.fixture
def sender():
    """A number of its own per test, so earlier tests' tickets never join the thread."""
    return "+4670" + str(secrets.randbelow(9_000_000) + 1_000_000)


def test_first_sms_makes_a_ticket_and_answers_with_its_reference(client, session, clock, sender):
    response, sid = sms(client, "Hej! När töms soptunnorna på Möllevången?", sender=sender)
    contact = _contact(session, sid)
    ticket = contact.ticket
    assert reply_text(response) == (
        f"Tack för ditt sms. Ditt ärendenummer är {ticket.reference} och din kvittokod är "
        f"{ticket.receipt_code[:5]}-{ticket.receipt_code[5:]}. Svara på det här sms:et om du vill lägga till något. "
        "Personuppgifter: http://localhost/personuppgifter"
    )
    assert contact.channel == "sms"
    assert contact.citizen_phone == sender
    assert contact.reply_channel == "sms"
    assert contact.text == "Hej! När töms soptunnorna på Möllevången?"
    assert contact.service.code == "allmant"
    assert ticket.queue.code == "kc-forsta-linjen"
    # The automatic answer is on the ticket, and is not a first response (METRICS.md).
    (receipt,) = ticket.messages
    assert receipt.automatic
    assert receipt.kind == "reply"
    assert receipt.channel == "sms"
    assert contact.first_response_at is None


def test_national_format_sender_is_normalised(client, session, clock):
    response, sid = sms(client, "Hej", sender="0701112233")
    reply_text(response)
    assert _contact(session, sid).citizen_phone == "+46701112233"


def test_second_sms_joins_the_senders_open_ticket(client, session, clock, sender):
    first, sid1 = sms(client, "Jag har fått fel faktura.", sender=sender)
    reply_text(first)
    clock.set("2026-03-10 09:00")
    second, sid2 = sms(client, "Fakturanummer 4711.", sender=sender)
    ticket = _contact(session, sid1).ticket
    assert reply_text(second) == f"Tack, vi har lagt till ditt sms i ärende {ticket.reference}."
    assert _contact(session, sid2).ticket_id == ticket.id
    assert [c.text for c in ticket.contacts] == ["Jag har fått fel faktura.", "Fakturanummer 4711."]
    assert "contact_added" in [e.kind for e in ticket.events]


def test_sms_after_the_thread_window_starts_a_new_ticket(client, session, clock, app, sender):
    _, sid1 = sms(client, "Första frågan", sender=sender)
    days = app.config["SMS_THREAD_DAYS"]
    clock.set("2026-03-03 10:00")
    clock.now = clock.now.replace(day=3 + days, hour=9, minute=1)  # just past the window
    _, sid2 = sms(client, "En ny fråga", sender=sender)
    assert _contact(session, sid1).ticket_id != _contact(session, sid2).ticket_id


def test_sms_soon_after_resolution_reopens_the_ticket(client, session, clock, sender):
    _, sid1 = sms(client, "Fråga", sender=sender)
    ticket = _contact(session, sid1).ticket
    resolve(session, ticket, actor=None, at=at("2026-03-03 10:30"))
    session.commit()
    clock.set("2026-03-05 09:00")  # within REOPEN_DAYS: the errand came back (not solved at first contact)
    response, sid2 = sms(client, "Tack för svaret, men det fungerar fortfarande inte", sender=sender)
    assert _contact(session, sid2).ticket_id == ticket.id
    assert ticket.reference in reply_text(response)
    session.expire_all()
    assert session.get(Ticket, ticket.id).is_open


def test_sms_long_after_resolution_starts_a_new_ticket(client, session, clock, sender, app):
    _, sid1 = sms(client, "Fråga", sender=sender)
    ticket = _contact(session, sid1).ticket
    resolve(session, ticket, actor=None, at=at("2026-03-03 10:30"))
    session.commit()
    clock.set("2026-03-13 09:00")  # past REOPEN_DAYS (7) but within SMS_THREAD_DAYS (14)
    assert app.config["REOPEN_DAYS"] < 10 < app.config["SMS_THREAD_DAYS"]
    response, sid2 = sms(client, "En helt ny fråga", sender=sender)
    new = _contact(session, sid2).ticket
    assert new.id != ticket.id
    assert reply_text(response).startswith(f"Tack för ditt sms. Ditt ärendenummer är {new.reference} ")


def test_citizens_answer_reopens_a_ticket_waiting_for_them(client, session, clock, sender):
    _, sid1 = sms(client, "Fråga", sender=sender)
    ticket = _contact(session, sid1).ticket
    set_status(session, ticket, "waiting_citizen")
    session.commit()
    sms(client, "Här kommer svaret", sender=sender)
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == "open"


def test_retried_messagesid_makes_no_second_contact_or_receipt(client, session, clock, sender):
    first, sid = sms(client, "Hej", sender=sender)
    before = _counts(session)
    again, _ = sms(client, "Hej", sender=sender, sid=sid)
    assert reply_text(again) == reply_text(first)
    assert _counts(session) == before


def test_mms_pictures_are_mentioned(client, session, clock, sender):
    _, sid = sms(client, "Se bilden", sender=sender, NumMedia="2")
    assert _contact(session, sid).text == "Se bilden\n[2 bilagor (MMS) kom inte med]"


@pytest.mark.parametrize("path", ["/twilio/sms/incoming", "/twilio/sms/status"])
@pytest.mark.parametrize("signature", ["", "AAAA", None])
def test_forged_sms_webhooks_get_403_and_change_nothing(client, session, clock, path, signature):
    params = {"MessageSid": message_sid(), "From": SENDER, "Body": "Hej", "MessageStatus": "delivered"}
    if signature is None:  # signed with another account's token
        signature = RequestValidator("not-our-token").compute_signature(BASE + path, params)
    before = _counts(session)
    assert twilio_post(client, path, params, signature=signature).status_code == 403
    assert _counts(session) == before


# -- delivery status of our replies -------------------------------------------------------


def _sent_reply(session, client, sender):
    _, sid = sms(client, "Fråga", sender=sender)
    ticket = _contact(session, sid).ticket
    message = add_message(
        session, ticket, kind="reply", body="Svar", channel="sms", recipient=sender, provider_sid=message_sid()
    )
    message.delivery_status = "queued"
    session.commit()
    return message


def _status(client, message, status):
    params = {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": message.provider_sid,
        "MessageStatus": status,
        "To": message.recipient,
    }
    return twilio_post(client, "/twilio/sms/status", params)


def test_delivery_status_callbacks_update_the_message(client, session, clock, sender):
    message = _sent_reply(session, client, sender)
    for status in ("sent", "delivered"):
        assert _status(client, message, status).status_code == 204
        session.expire_all()
        assert session.get(Message, message.id).delivery_status == status


def test_a_late_status_never_moves_a_message_back(client, session, clock, sender):
    message = _sent_reply(session, client, sender)
    _status(client, message, "delivered")
    _status(client, message, "sent")  # Twilio does not promise order
    session.expire_all()
    assert session.get(Message, message.id).delivery_status == "delivered"


def test_status_for_an_unknown_message_changes_nothing(client, session, clock):
    before = _counts(session)
    params = {"MessageSid": message_sid(), "MessageStatus": "delivered"}
    assert twilio_post(client, "/twilio/sms/status", params).status_code == 204
    assert _counts(session) == before


def test_agents_sms_reply_goes_through_the_client_and_its_delivery_is_reported(
    app, client, session, clock, sender, auth
):
    """Citizen texts → agent answers on the ticket page → Twilio gets it → delivery report → citizen texts back."""
    from urllib.parse import urlsplit

    from kontaktcenter.notify.transport import clear_recorded, recorded

    _, sid = sms(client, "Hur ansöker jag om parkeringstillstånd?", sender=sender)
    ticket = _contact(session, sid).ticket
    with app.app_context():
        clear_recorded()
    auth.login("agent")
    response = auth.post(
        f"/tickets/{ticket.reference}/reply", {"kind": "reply", "body": "Du ansöker på malmo.se/parkering."}
    )
    assert response.status_code in (302, 303)
    with app.app_context():
        (sent,) = [r for r in recorded() if r.kind == "message"]
    assert sent.data["To"] == sender
    assert sent.data["Body"] == "Du ansöker på malmo.se/parkering."
    callback = urlsplit(sent.data["StatusCallback"])
    session.expire_all()
    message = session.scalar(select(Message).where(Message.ticket_id == ticket.id, Message.automatic.is_(False)))
    assert message.provider_sid == sent.response["sid"]
    params = {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": message.provider_sid,
        "MessageStatus": "delivered",
        "To": sender,
    }
    assert twilio_post(client, callback.path, params).status_code == 204
    session.expire_all()
    assert session.get(Message, message.id).delivery_status == "delivered"
    # The citizen's answer joins the same ticket.
    again, sid2 = sms(client, "Tack!", sender=sender)
    assert _contact(session, sid2).ticket_id == ticket.id
    assert reply_text(again) == f"Tack, vi har lagt till ditt sms i ärende {ticket.reference}."
