"""Data minimisation: a personnummer is stored only for services that need one, on every
channel that takes one (web form, JSON API direct and queued, Open311), by intake's one rule."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import Ticket
from tests.conftest import csrf_token

PNR = "19900101-0017"
STORED = "199001010017"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _contact_of(session, reference: str) -> Contact:
    (contact,) = session.scalar(select(Ticket).where(Ticket.reference == reference)).contacts
    return contact


@pytest.mark.parametrize("intake", ["direct", "queued"])
def test_the_api_drops_a_personnummer_its_service_does_not_need_and_says_so(
    app, client, session, make_token, monkeypatch, intake
):
    monkeypatch.setitem(app.config, "API_INTAKE", intake)
    body = {"service_code": "bygglov", "text": "Staket?", "personnummer": PNR}
    response = client.post(
        "/api/v1/contacts", json=body, headers={**_bearer(make_token("contacts:write")), "Idempotency-Key": "k1"}
    )
    assert response.status_code == (201 if intake == "direct" else 202)
    answer = response.get_json()
    assert answer["notices"] == [
        {
            "field": "personnummer",
            "message": "not stored: service bygglov does not need a personnummer (data minimisation)",
        }
    ]
    (contact,) = session.scalars(select(Contact).where(Contact.provider_sid.like("api:%:k1"))).all()
    assert contact.citizen_personnummer is None
    assert session.scalar(select(Contact.id).where(Contact.citizen_personnummer == STORED)) is None


@pytest.mark.parametrize("intake", ["direct", "queued"])
def test_the_api_keeps_the_personnummer_of_a_service_that_needs_one(
    app, client, session, make_token, monkeypatch, intake
):
    monkeypatch.setitem(app.config, "API_INTAKE", intake)
    body = {"service_code": "hemtjanst", "text": "Hemtjänst för mamma", "personnummer": PNR}
    response = client.post(
        "/api/v1/contacts", json=body, headers={**_bearer(make_token("contacts:write")), "Idempotency-Key": "k2"}
    )
    assert response.status_code in (201, 202)
    assert "notices" not in response.get_json()
    (contact,) = session.scalars(select(Contact).where(Contact.provider_sid.like("api:%:k2"))).all()
    assert contact.citizen_personnummer == STORED


def test_the_api_answers_without_notices_when_no_personnummer_was_given(client, make_token):
    response = client.post(
        "/api/v1/contacts",
        json={"service_code": "bygglov", "text": "Staket?"},
        headers=_bearer(make_token("contacts:write")),
    )
    assert response.status_code == 201
    assert "notices" not in response.get_json()


def test_an_invalid_personnummer_for_a_service_that_needs_one_is_refused_and_stores_nothing(
    client, session, make_token
):
    before = session.scalar(select(Contact.id).order_by(Contact.id.desc()).limit(1))
    response = client.post(
        "/api/v1/contacts",
        json={"service_code": "hemtjanst", "text": "Hej", "personnummer": "19900101-0018"},
        headers=_bearer(make_token("contacts:write")),
    )
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "personnummer"
    assert session.scalar(select(Contact.id).order_by(Contact.id.desc()).limit(1)) == before


def test_open311_drops_a_personnummer_and_its_notice_says_so(client, session, make_token):
    report = {
        "service_code": "gatubelysning",
        "lat": "55.605",
        "long": "13.0038",
        "attribute[fara]": "nej",
        "description": "Lampan är trasig.",
        "personnummer": PNR,
        "api_key": make_token("open311"),
    }
    response = client.post("/open311/v2/requests.json", data=report)
    assert response.status_code == 201
    (record,) = response.get_json()
    assert "Personnumret sparades inte" in record["service_notice"]
    assert _contact_of(session, record["service_request_id"]).citizen_personnummer is None
    plain = client.post("/open311/v2/requests.json", data={k: v for k, v in report.items() if k != "personnummer"})
    assert "Personnumret" not in plain.get_json()[0]["service_notice"]


def test_the_web_form_shares_the_rule(client, session):
    for service, expected in (("skolval", None), ("hemtjanst", STORED)):
        data = {
            "service": service,
            "text": "Hej",
            "reply_channel": "none",
            "personnummer": PNR,
            "csrf_token": csrf_token(client, "/kontakt"),
        }
        assert client.post("/kontakt", data=data).status_code == 302
        contact = session.scalar(select(Contact).order_by(Contact.id.desc()).limit(1))
        assert (contact.service.code, contact.citizen_personnummer) == (service, expected)
