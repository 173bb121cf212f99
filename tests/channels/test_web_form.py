"""The citizen form /kontakt: a valid errand becomes a ticket; bad input stores nothing."""

import re

import pytest
from sqlalchemy import func, select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import Ticket
from tests.conftest import csrf_token


def _post(client, lang="sv", **fields):
    data = {"service": "skolval", "text": "När öppnar skolvalet?", "reply_channel": "email", "email": "anna@example.se"}
    data.update(fields)
    data["csrf_token"] = csrf_token(client, f"/kontakt?lang={lang}")
    return client.post(f"/kontakt?lang={lang}", data=data)


def _counts(session):
    return session.scalar(select(func.count(Contact.id))), session.scalar(select(func.count(Ticket.id)))


def test_form_is_swedish_first(client):
    page = client.get("/kontakt").get_data(as_text=True)
    assert '<html lang="sv" dir="ltr">' in page
    assert "Kontakta Malmö stad" in page


def test_valid_errand_makes_contact_ticket_and_receipt(client, session):
    response = _post(client)
    assert response.status_code == 302
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    reference = re.search(r"KC-\d{4}-\d{6}", receipt).group(0)
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert ticket.service.code == "skolval"
    assert ticket.queue.code == "kc-forsta-linjen"
    (contact,) = ticket.contacts
    assert contact.channel == "web"
    assert contact.citizen_email == "anna@example.se"
    assert [e.kind for e in ticket.events][:2] == ["created", "routed"]


def test_confidential_service_is_routed_to_the_department(client, session):
    _post(client, service="forsorjningsstod")
    ticket = session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    assert ticket.queue.code == "asf-forsorjningsstod"
    assert ticket.confidential


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": ""}, "Beskriv ditt ärende."),
        ({"text": "x" * 5001}, "Beskrivningen får vara högst 5000 tecken."),
        ({"service": "finns-inte"}, "Välj en tjänst i listan."),
        ({"service": ""}, "Välj vad ditt ärende gäller."),
        ({"email": "inte-en-adress"}, "Skriv en giltig e-postadress"),
        ({"email": "", "reply_channel": "email"}, "Skriv din e-postadress, så att vi kan svara dig med e-post."),
        ({"name": "n" * 201}, "Namnet får vara högst 200 tecken."),
    ],
)
def test_bad_input_gets_a_swedish_message_and_stores_nothing(client, session, fields, message):
    before = _counts(session)
    response = _post(client, **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'role="alert"' in page  # the error summary is announced
    assert _counts(session) == before


def test_bad_input_in_english(client, session):
    before = _counts(session)
    response = _post(client, lang="en", text="")
    assert response.status_code == 400
    assert "Describe your request." in response.get_data(as_text=True)
    assert _counts(session) == before


def test_missing_csrf_token_stores_nothing(client, session):
    before = _counts(session)
    response = client.post("/kontakt", data={"service": "skolval", "text": "Hej", "reply_channel": "none"})
    assert response.status_code == 400
    assert "Säkerhetstoken saknas" in response.get_data(as_text=True)
    assert _counts(session) == before
