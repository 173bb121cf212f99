"""Inbound e-mail (SendGrid Inbound Parse): credentials, new tickets, threading by reference, retries."""

import base64

import pytest
from sqlalchemy import func, select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import Ticket
from tests.fixtures.inbound_email import SECRET, parse_post


@pytest.fixture(autouse=True)
def _secret(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_EMAIL_SECRET", SECRET)


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _contacts(session):
    return session.scalar(select(func.count(Contact.id)))


def test_new_email_becomes_a_ticket(client, session):
    response = client.post(
        "/email/inbound", data=parse_post(), headers=basic("sendgrid", SECRET), content_type="multipart/form-data"
    )
    assert response.status_code == 200
    reference = response.get_json()["reference"]
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    (contact,) = ticket.contacts
    assert contact.channel == "email"
    assert contact.citizen_email == "anna@example.se"
    assert contact.citizen_name == "Anna Svensson"
    assert contact.subject == "Fråga om förskoleplats"
    assert contact.reply_channel == "email"
    assert contact.provider_sid == "email:abc-1@mail.example"


def test_secret_in_the_url_works_too(client):
    response = client.post(f"/email/inbound/{SECRET}", data=parse_post(), content_type="multipart/form-data")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/email/inbound", {}), ("/email/inbound", basic("sendgrid", "fel")), ("/email/inbound/fel", {})],
)
def test_wrong_or_missing_credentials_are_refused_and_store_nothing(client, session, path, headers):
    before = _contacts(session)
    response = client.post(path, data=parse_post(), headers=headers, content_type="multipart/form-data")
    assert response.status_code == 403
    assert _contacts(session) == before


def test_no_secret_configured_refuses_everything(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_EMAIL_SECRET", "")
    assert client.post("/email/inbound/", data=parse_post(), content_type="multipart/form-data").status_code in (
        403,
        404,
    )
    assert (
        client.post(
            "/email/inbound", data=parse_post(), headers=basic("x", ""), content_type="multipart/form-data"
        ).status_code
        == 403
    )


def test_retried_post_makes_no_second_contact(client, session):
    first = client.post(f"/email/inbound/{SECRET}", data=parse_post(), content_type="multipart/form-data").get_json()
    before = _contacts(session)
    again = client.post(f"/email/inbound/{SECRET}", data=parse_post(), content_type="multipart/form-data").get_json()
    assert again == {"reference": first["reference"], "created": False}
    assert _contacts(session) == before


def test_reply_with_the_reference_threads_onto_the_ticket(client, session):
    reference = client.post(
        f"/email/inbound/{SECRET}", data=parse_post(), content_type="multipart/form-data"
    ).get_json()["reference"]
    reply = parse_post(
        subject=f"Re: [{reference}] Fråga om förskoleplats",
        text="Tack! En fråga till.",
        message_id="<abc-2@mail.example>",
    )
    response = client.post(f"/email/inbound/{SECRET}", data=reply, content_type="multipart/form-data")
    assert response.get_json() == {"reference": reference, "created": True}
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert [c.text for c in ticket.contacts] == ["Hej, när får vi besked om plats?", "Tack! En fråga till."]
    assert [c.placement for c in ticket.contacts] == ["new", "reference"]


def test_reply_to_a_resolved_ticket_reopens_it(client, session, make_contact):
    received = make_contact(service="skolval", email="anna@example.se", reply_channel="email")
    ticket = received.ticket
    from kontaktcenter.tickets.service import resolve

    resolve(session, ticket, actor=None)
    session.commit()
    reply = parse_post(subject=f"SV: {ticket.reference} svar", message_id="<abc-3@mail.example>")
    client.post(f"/email/inbound/{SECRET}", data=reply, content_type="multipart/form-data")
    session.refresh(ticket)
    assert ticket.status != "resolved"
    assert ticket.reopened_count == 1


def test_unknown_reference_makes_a_new_ticket(client, session):
    response = client.post(
        f"/email/inbound/{SECRET}",
        data=parse_post(subject="Re: [KC-1999-000001] gammalt"),
        content_type="multipart/form-data",
    )
    assert response.get_json()["created"] is True
    assert response.get_json()["reference"] != "KC-1999-000001"


def test_post_without_a_sender_is_400(client, session):
    before = _contacts(session)
    data = parse_post()
    data["from"] = ""
    data["envelope"] = "{}"
    response = client.post(f"/email/inbound/{SECRET}", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert _contacts(session) == before


def test_html_only_mail_keeps_its_text(client, session):
    data = parse_post(message_id="<html-1@mail.example>")
    data["text"] = ""
    data["html"] = "<html><body><p>Hej <b>där</b>,</p><p>fråga om avfall.</p></body></html>"
    reference = client.post(f"/email/inbound/{SECRET}", data=data, content_type="multipart/form-data").get_json()[
        "reference"
    ]
    contact = session.scalar(
        select(Contact).join(Ticket, Contact.ticket_id == Ticket.id).where(Ticket.reference == reference)
    )
    assert contact.text == "Hej där , fråga om avfall."
