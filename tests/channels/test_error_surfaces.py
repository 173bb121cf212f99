"""A DomainError from a channel's view, answered in that channel's own format by the app's
handler (errors_http): problem+json, Open311's error list in JSON and XML, TwiML, plain text
for the SMS webhook. Nothing
the refused request began is stored."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import Ticket, TicketEvent

BASE, TWILIO_TOKEN = "http://localhost", "test-auth-token"  # the test app's PUBLIC_BASE_URL and TWILIO_AUTH_TOKEN


def _stored(session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Contact, Ticket, TicketEvent))


def test_api_a_contact_for_an_unknown_service_is_problem_json_naming_the_field(client, session, make_token):
    before = _stored(session)
    response = client.post(
        "/api/v1/contacts",
        json={"service_code": "finns-inte", "text": "Hej", "reply_channel": "none"},
        headers={"Authorization": f"Bearer {make_token('contacts:write')}", "Accept-Language": "sv"},
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert (problem["type"], problem["title"], problem["status"]) == ("about:blank", "Unprocessable Content", 422)
    assert problem["errors"] == [{"field": "service", "message": problem["detail"]}]
    assert _stored(session) == before


def test_api_a_missing_token_is_a_401_problem(client, session):
    response = client.get("/api/v1/tickets/KC-2026-000001")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="kontaktcenter"'
    assert response.get_json()["title"] == "Unauthorized"


REPORT = {
    "service_code": "gatubelysning",
    "lat": "95",  # not on Earth
    "long": "13.0038",
    "attribute[fara]": "nej",
    "description": "Lampan är trasig.",
}


def test_open311_a_refused_request_is_its_error_list_in_json(client, session, make_token):
    before = _stored(session)
    response = client.post("/open311/v2/requests.json", data={**REPORT, "api_key": make_token("open311")})
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    (error,) = response.get_json()
    assert error["code"] == 400
    assert "between -90" in error["description"]
    assert _stored(session) == before


def test_open311_a_refused_request_is_its_error_list_in_xml(client, session, make_token):
    before = _stored(session)
    response = client.post("/open311/v2/requests.xml", data={**REPORT, "api_key": make_token("open311")})
    assert response.status_code == 400
    assert response.content_type.startswith("text/xml")
    root = ET.fromstring(response.get_data())  # noqa: S314 - our own app's answer
    assert root.tag == "errors"
    assert root.find("error/code").text == "400"
    assert "between -90" in root.find("error/description").text
    assert _stored(session) == before


def test_open311_a_wrong_api_key_is_a_403_naming_the_key(client, session):
    response = client.post("/open311/v2/requests.json", data={**REPORT, "lat": "55.6", "api_key": "fel"})
    assert response.status_code == 403
    (error,) = response.get_json()
    assert error["code"] == 403
    assert error["description"].startswith("api_key: ")


def _signed_post(client, path: str, params: dict[str, str]):
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(BASE + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def test_twiml_a_refused_webhook_is_a_spoken_swedish_apology_and_the_call_ends(client, session):
    before = _stored(session)
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": "CA" + "1" * 32, "QueueResult": "teleported"}
    response = _signed_post(client, "/twilio/voice/queue-result", params)
    assert response.status_code == 200  # Twilio speaks only the TwiML of a 2xx answer
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data())  # noqa: S314 - our own app's answer
    assert [child.tag for child in root] == ["Say", "Hangup"]
    say = root.find("Say")
    assert say.get("language") == "sv-SE"
    assert say.text == "Något gick fel. Ring gärna igen."
    assert "QueueResult" not in response.get_data(as_text=True)  # the reason is for the log, not the caller
    assert _stored(session) == before


def test_twilio_sms_a_text_that_cannot_become_a_contact_is_refused_in_plain_text(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "sms", {"service": "finns-inte"})  # a site file naming no service we have
    before = _stored(session)
    params = {"AccountSid": "AC" + "0" * 32, "MessageSid": "SM" + "2" * 32, "From": "+46701234567", "Body": "Hej"}
    response = _signed_post(client, "/twilio/sms/incoming", params)
    assert response.status_code == 422
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "service: unknown service 'finns-inte'"
    assert _stored(session) == before
