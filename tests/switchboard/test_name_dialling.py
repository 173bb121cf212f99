"""Name dialling on the general line, driven by Twilio-signed webhooks: match → confirm →
connect, absence notice and alternative, no match, ambiguous, no speech, hang-ups."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.switchboard.models import SwitchboardRequest
from tests.fixtures.factories import at
from tests.fixtures.twilio import TUESDAY_MORNING, call_params, call_sid, parse_twiml

SB = "/twilio/voice/switchboard"


@pytest.fixture
def people(make_staff, session):
    anna = make_staff("Anna Svensson", title="Bygglovshandläggare", phone="+46403410001", keywords="bygglov")
    erik = make_staff(
        "Erik Johansson",
        title="Bygglovsarkitekt",
        phone="+46403410002",
        absent_until=at("2026-03-10 00:00"),
        absence_message="Erik är föräldraledig.",
        alternative=anna,
    )
    make_staff("Anders Larsson", title="Skolvalshandläggare", dept="grundskola", phone="+46403440001")
    make_staff("Anders Larson", title="Rektor", dept="grundskola", phone="+46403440002")
    session.commit()
    return {"anna": anna, "erik": erik}


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    root = parse_twiml(response.get_data())
    assert root.tag == "Response"
    return root


def said(root: ET.Element) -> str:
    return " ".join((e.text or "") for e in root.iter("Say"))


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def request_of(session, sid: str) -> SwitchboardRequest:
    session.expire_all()
    return session.scalar(
        select(SwitchboardRequest)
        .join(Contact, Contact.id == SwitchboardRequest.contact_id)
        .where(Contact.provider_sid == sid)
    )


def choose_switchboard(twilio, sid: str) -> ET.Element:
    return twiml(twilio.queue(sid, digits="0"))


def speak(twilio, sid: str, words: str, confidence: str = "0.92") -> ET.Element:
    return twiml(twilio.post(f"{SB}/name", call_params(sid, SpeechResult=words, Confidence=confidence)))


def test_the_switchboard_digit_asks_for_a_name_with_the_directorys_names_as_hints(twilio, session, people):
    sid = call_sid()
    root = choose_switchboard(twilio, sid)
    gather = root.find("Gather")
    assert gather.get("input") == "speech"
    assert gather.get("language") == "sv-SE"
    assert "Anna Svensson" in gather.get("hints")
    assert "Säg namnet på personen eller verksamheten du söker." in said(gather)
    assert path(gather.get("action")) == f"{SB}/name"
    request = request_of(session, sid)
    assert request.via == "digit"
    assert request.contact.outcome == "ivr_dropped"  # in the IVR: out of the queue figures
    assert request.contact.ticket_id is None


def test_a_retried_menu_makes_no_second_request(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    choose_switchboard(twilio, sid)
    assert session.scalar(select(func.count()).select_from(Contact).where(Contact.provider_sid == sid)) == 1
    assert session.scalar(select(func.count()).select_from(SwitchboardRequest)) == 1


def test_a_confident_match_is_confirmed_connected_and_recorded(twilio, session, people, clock):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    root = speak(twilio, sid, "Ana Svenson.")
    gather = root.find("Gather")
    assert "Tryck 1 för att bli kopplad till Anna Svensson, Bygglovshandläggare." in said(gather)
    confirm_path = path(gather.get("action"))
    assert confirm_path == f"{SB}/confirm?staff={people['anna'].id}"
    request = request_of(session, sid)
    assert (request.via, request.staff_member_id, request.connected_at) == ("speech", people["anna"].id, None)

    root = twiml(twilio.post(confirm_path, call_params(sid, Digits="1")))
    dial = root.find("Dial")
    assert dial.find("Number").text == "+46403410001"
    dialled_path = path(dial.get("action"))

    clock.now = TUESDAY_MORNING + timedelta(minutes=5)
    root = twiml(twilio.post(dialled_path, call_params(sid, DialCallStatus="completed", DialCallDuration="240")))
    assert [c.tag for c in root] == ["Hangup"]
    request = request_of(session, sid)
    assert request.connected_to_id == people["anna"].id
    assert request.connected_at == TUESDAY_MORNING + timedelta(minutes=1)  # answered 240 s before the end
    assert request.contact.ticket_id is None  # never in a queue
    # Connected, not dropped: the core report's IVR drops do not count it (the switchboard figures do).
    assert request.contact.outcome == "switchboard"
    twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="400"))
    session.expire_all()
    assert request_of(session, sid).contact.outcome == "switchboard"  # the call's end keeps it


def test_an_absent_person_has_the_notice_read_and_the_alternative_offered(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    root = speak(twilio, sid, "Erik Johansson")
    text = said(root)
    assert "Erik Johansson är frånvarande till och med 2026-03-09." in text
    assert "Erik är föräldraledig." in text
    gather = root.find("Gather")
    assert path(gather.get("action")) == f"{SB}/confirm?staff={people['anna'].id}"
    root = twiml(twilio.post(path(gather.get("action")), call_params(sid, Digits="1")))
    assert root.find("Dial").find("Number").text == "+46403410001"
    twiml(
        twilio.post(
            path(root.find("Dial").get("action")), call_params(sid, DialCallStatus="completed", DialCallDuration="30")
        )
    )
    request = request_of(session, sid)
    assert request.staff_member_id == people["erik"].id  # asked for
    assert request.connected_to_id == people["anna"].id  # connected to the alternative


def test_the_absent_person_is_never_dialled_even_by_a_forged_confirm(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    root = twiml(twilio.post(f"{SB}/confirm?staff={people['erik'].id}", call_params(sid, Digits="1")))
    assert root.find("Dial") is None
    assert root.find("Enqueue") is not None


def assert_queued(session, root, sid: str, via: str) -> None:
    assert root.find("Enqueue") is not None
    request = request_of(session, sid)
    assert request.via == via
    assert request.staff_member_id is None
    assert request.connected_at is None
    contact = request.contact
    assert contact.provider_sid == sid
    assert contact.ticket is not None  # the queued call's own contact and ticket
    assert contact.outcome is None
    assert session.scalar(select(func.count()).select_from(Contact).where(Contact.provider_sid == sid)) == 1


def test_no_match_goes_to_the_switchboard_queue(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    root = speak(twilio, sid, "Zlatan Ibrahimovic")
    assert_queued(session, root, sid, "speech")


def test_an_ambiguous_name_goes_to_the_switchboard_queue(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    root = speak(twilio, sid, "Anders Larsson")
    assert_queued(session, root, sid, "speech")


def test_speech_heard_with_low_confidence_goes_to_the_queue(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    root = speak(twilio, sid, "Anna Svensson", confidence="0.1")
    assert_queued(session, root, sid, "speech")


def test_no_speech_goes_to_the_queue_as_a_digit_request(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    root = twiml(twilio.post(f"{SB}/name", call_params(sid)))
    assert_queued(session, root, sid, "digit")


def test_no_key_at_the_confirmation_goes_to_the_queue(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    speak(twilio, sid, "Anna Svensson")
    root = twiml(twilio.post(f"{SB}/queue", call_params(sid)))
    assert root.find("Enqueue") is not None
    assert request_of(session, sid).staff_member_id == people["anna"].id


def test_an_unanswered_dial_goes_to_the_queue(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    speak(twilio, sid, "Anna Svensson")
    root = twiml(twilio.post(f"{SB}/dialled?staff={people['anna'].id}", call_params(sid, DialCallStatus="no-answer")))
    assert "Personen svarar inte just nu." in said(root)
    assert root.find("Enqueue") is not None
    assert request_of(session, sid).connected_at is None


def test_a_hang_up_at_the_name_prompt_stays_one_unconnected_request(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="12"))
    request = request_of(session, sid)
    assert request.connected_at is None
    assert request.contact.outcome == "ivr_dropped"
    assert request.contact.ended_at is not None
    assert session.scalar(select(func.count()).select_from(Contact).where(Contact.provider_sid == sid)) == 1


def test_a_caller_who_hangs_up_while_it_rings_is_not_connected_nor_queued(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    speak(twilio, sid, "Anna Svensson")
    root = twiml(
        twilio.post(
            f"{SB}/dialled?staff={people['anna'].id}",
            call_params(sid, DialCallStatus="canceled", CallStatus="completed"),
        )
    )
    assert [c.tag for c in root] == ["Hangup"]
    request = request_of(session, sid)
    assert request.connected_at is None
    assert request.contact.ticket_id is None


def test_an_unsigned_or_forged_webhook_changes_nothing(client, session, people):
    before = session.scalar(select(func.count()).select_from(SwitchboardRequest))
    response = client.post(f"{SB}/name", data=call_params(call_sid(), SpeechResult="Anna Svensson", Confidence="0.9"))
    assert response.status_code == 403
    response = client.post(
        f"{SB}/name", data=call_params(call_sid(), SpeechResult="Anna"), headers={"X-Twilio-Signature": "forged"}
    )
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(SwitchboardRequest)) == before


def test_over_long_and_nul_speech_is_heard_as_no_match(twilio, session, people):
    sid = call_sid()
    choose_switchboard(twilio, sid)
    root = speak(twilio, sid, "Anna\x00 " + "x" * 5000)
    assert root.find("Enqueue") is not None


def test_name_dialling_off_keeps_digit_0_a_plain_queue(app, twilio, session, people, monkeypatch):
    monkeypatch.setitem(app.config, "switchboard", {**app.config["switchboard"], "name_dialling": False})
    sid = call_sid()
    root = choose_switchboard(twilio, sid)
    assert root.find("Enqueue") is not None
    assert request_of(session, sid) is None
