"""JSON API v1: Bearer tokens with scopes, problem+json errors, idempotent contacts, the OpenAPI document."""

import pytest
from sqlalchemy import func, select

from kontaktcenter.channels.tokens.models import ApiToken
from kontaktcenter.channels.tokens.service import hash_token
from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import Ticket
from kontaktcenter.vocabulary import OPEN_STATUSES

CONTACT = {
    "service_code": "bygglov",
    "text": "Behöver jag bygglov för ett staket?",
    "reply_channel": "email",
    "email": "eva@example.se",
}


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _contacts(session):
    return session.scalar(select(func.count(Contact.id)))


def test_contact_becomes_a_routed_ticket(client, session, make_token):
    response = client.post("/api/v1/contacts", json=CONTACT, headers=_bearer(make_token("contacts:write")))
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] in OPEN_STATUSES
    assert body["service_code"] == "bygglov"
    assert response.headers["Location"] == f"/api/v1/tickets/{body['reference']}"
    ticket = session.scalar(select(Ticket).where(Ticket.reference == body["reference"]))
    (contact,) = ticket.contacts
    assert contact.channel == "web"
    assert contact.citizen_email == "eva@example.se"
    assert ticket.queue is not None


def test_tokens_are_stored_hashed(session, make_token):
    raw = make_token("contacts:write")
    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert raw not in stored
    assert hash_token(raw) in stored


def test_idempotency_key_makes_one_contact(client, session, make_token):
    headers = {**_bearer(make_token("contacts:write")), "Idempotency-Key": "order-42"}
    before = _contacts(session)
    first = client.post("/api/v1/contacts", json=CONTACT, headers=headers)
    again = client.post("/api/v1/contacts", json=CONTACT, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["reference"] == again.get_json()["reference"]
    assert _contacts(session) == before + 1


@pytest.mark.parametrize(
    ("scope", "method", "path", "expected"),
    [
        ("tickets:read", "post", "/api/v1/contacts", 403),
        ("services:read", "post", "/api/v1/contacts", 403),
        ("contacts:write", "get", "/api/v1/services", 403),
        ("open311", "get", "/api/v1/services", 403),
        ("services:read", "get", "/api/v1/services", 200),
    ],
)
def test_each_call_needs_its_scope(client, make_token, scope, method, path, expected):
    response = getattr(client, method)(
        path, json=CONTACT if method == "post" else None, headers=_bearer(make_token(scope))
    )
    assert response.status_code == expected
    if expected == 403:
        assert response.mimetype == "application/problem+json"
        assert scope in response.get_json()["detail"]


def test_missing_unknown_and_revoked_tokens_get_401(client, session, make_token):
    raw = make_token("services:read")
    session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw))).revoked_at = func.now()
    session.commit()
    for headers in ({}, _bearer("kc_not-a-token"), _bearer(raw), {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/services", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({**CONTACT, "service_code": "finns-inte"}, 422, "service"),
        ({k: v for k, v in CONTACT.items() if k != "text"}, 422, "text"),
        ({**CONTACT, "email": "inte-en-adress"}, 422, "email"),
        ({**CONTACT, "reply_channel": "sms"}, 422, "phone"),
        ({**CONTACT, "needs": ["telepati"]}, 422, "needs"),
        ({**CONTACT, "language": "svenska"}, 422, "language"),
        ({**CONTACT, "favourite_colour": "blue"}, 422, "favourite_colour"),
        # PostgreSQL text cannot hold NUL: refused as bad input on every database, never a 500
        # (by the input guard, which names the JSON member as sent).
        ({**CONTACT, "service_code": "\x00"}, 422, "service_code"),
        ({**CONTACT, "text": "hej\x00"}, 422, "text"),
    ],
)
def test_bad_contacts_get_problem_json_naming_the_field_and_store_nothing(
    client, session, make_token, body, status, field
):
    before = _contacts(session)
    response = client.post("/api/v1/contacts", json=body, headers=_bearer(make_token("contacts:write")))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert field in [e["field"] for e in problem["errors"]]
    assert _contacts(session) == before


def test_non_json_and_broken_json_are_refused(client, make_token):
    headers = _bearer(make_token("contacts:write"))
    assert client.post("/api/v1/contacts", data="text=hej", headers=headers).status_code == 415
    broken = client.post("/api/v1/contacts", data="{not json", headers={**headers, "Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.mimetype == "application/problem+json"


def test_ticket_status_by_reference_shows_no_personal_data(client, make_token, make_contact):
    received = make_contact(service="skolval", text="Mitt barn heter Kim.", email="p@example.se", reply_channel="email")
    code = received.ticket.receipt_code.lower()  # as the citizen types it from the receipt
    response = client.get(
        f"/api/v1/tickets/{received.ticket.reference}?receipt_code={code[:5]}-{code[5:]}",
        headers=_bearer(make_token("tickets:read")),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert "receipt_code" not in body
    assert body["reference"] == received.ticket.reference
    assert body["status"] == received.ticket.status
    assert "Kim" not in response.get_data(as_text=True)
    assert "p@example.se" not in response.get_data(as_text=True)


def test_unknown_ticket_and_unknown_path_are_problem_404(client, make_token):
    headers = _bearer(make_token("tickets:read"))
    for path in ("/api/v1/tickets/KC-2026-999999", "/api/v1/nothing-here"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


def test_services_list_leaves_out_walk_in_topics(client, make_token):
    body = client.get("/api/v1/services", headers=_bearer(make_token("services:read"))).get_json()
    codes = {s["code"] for s in body}
    assert "skolval" in codes
    assert "utskrift-hjalp" not in codes
    assert next(s for s in body if s["code"] == "forsorjningsstod")["requires_personnummer"] is True


def test_api_rate_limit_per_token(app, client, make_token, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_API", "2 per minute")
    limited, other = _bearer(make_token("services:read")), _bearer(make_token("services:read", "another"))
    assert [client.get("/api/v1/services", headers=limited).status_code for _ in range(3)] == [200, 200, 429]
    refused = client.get("/api/v1/services", headers=limited)
    assert refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get("/api/v1/services", headers=other).status_code == 200


def test_api_limit_counts_every_call_of_the_client_and_refuses_before_storing(
    app, client, session, make_token, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_API", "2 per minute")
    headers = _bearer(make_token("contacts:write"))
    assert client.post("/api/v1/contacts", json=CONTACT, headers=headers).status_code == 201
    assert client.get("/api/v1/tickets/KC-2026-999999", headers=headers).status_code in (403, 404)
    refused = client.post("/api/v1/contacts", json={**CONTACT, "text": "En till"}, headers=headers)
    assert refused.status_code == 429
    assert session.scalar(select(func.count(Contact.id)).where(Contact.text == "En till")) == 0


def test_openapi_document_describes_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint not in ("api.openapi", "api.not_found"):
            path = rule.rule.replace("<", "{").replace(">", "}")
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served


def test_token_use_is_noted_after_the_work_is_committed(client, session, make_token):
    raw = make_token("contacts:write")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    assert token.last_used_at is None
    assert client.post("/api/v1/contacts", json=CONTACT, headers=_bearer(raw)).status_code == 201
    session.refresh(token)
    first = token.last_used_at
    assert first is not None
    # Within the same minute the row is not written again (no lock on the token row per call).
    client.post("/api/v1/contacts", json=CONTACT, headers=_bearer(raw))
    session.refresh(token)
    assert token.last_used_at == first


def test_the_api_neither_reads_nor_writes_a_cookie_session(client, make_token):
    # Its clients authenticate with tokens: no session is opened, so none is sent back.
    client.get("/kontakt?lang=en")  # a citizen's session, with a language in it
    response = client.get("/api/v1/services", headers=_bearer(make_token("services:read")))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
