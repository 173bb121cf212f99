"""The API's usual case with the token's check in the contact's INSERT, against the normal
path: queued intake's one-statement acknowledgement (intake.receive.accept_at_once) against
accept, and direct intake's receive_at_once against receive. For any input, the same answer
and the same stored rows."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

import kontaktcenter.channels.api.views as api
import kontaktcenter.intake.receive as receive_module
from kontaktcenter.app import create_app
from kontaktcenter.channels.tokens.models import ApiToken
from kontaktcenter.channels.tokens.service import create_token, hash_token, revoke_token
from kontaktcenter.commands import upgrade_database
from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import ENGINE_KEY, db
from kontaktcenter.directory.models import User
from kontaktcenter.directory.service import load_catalogue
from kontaktcenter.live.feed import feed_of
from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.tickets.models import Ticket, TicketEvent
from tests.conftest import PG_URL, _drop_postgres, _fresh_postgres

SERVICES = ["bygglov", "skolval", "forsorjningsstod", "finns-inte", "utskrift-hjalp", ""]
NEEDS = ["interpreter", "hearing", "vision", "easy_read", "telepati"]
_keys = itertools.count()

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
bodies = st.fixed_dictionaries(
    {"service_code": st.sampled_from(SERVICES), "text": texts},
    optional={
        "subject": texts,
        "language": st.sampled_from(["sv", "en", "ar", "xx", "SV"]),
        "needs": st.lists(st.sampled_from(NEEDS), max_size=3, unique=True),
        "interpreter_language": st.sampled_from(["ar", "so", "x"]),
        "citizen_name": texts,
        "phone": st.sampled_from(["070-123 45 67", "+46701234567", "12", "", "\x00070"]),
        "email": st.sampled_from(["a@example.se", "A@Example.SE", "not-an-address", "", "a\x00@example.se"]),
        "personnummer": st.sampled_from(["19900101-0017", "19900101-1234", ""]),
        "reply_channel": st.sampled_from(["email", "sms", "phone", "none", "brevduva"]),
    },
)

# Columns the two paths fill alike; the id, the key-made provider_sid and the clock's times differ by design.
COMPARED = [c.key for c in Contact.__table__.c if c.key not in ("id", "provider_sid", "arrived_at", "created_at")]


def _post(client, token: str, body: dict, fast: bool, at_once: str = "_acknowledge_at_once"):
    key = f"prop-{'fast' if fast else 'full'}-{next(_keys)}"
    original = getattr(api, at_once)
    if not fast:
        setattr(api, at_once, lambda: None)  # every request takes the normal path
    try:
        response = client.post(
            "/api/v1/contacts", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        )
    finally:
        setattr(api, at_once, original)
    return key, response


def _row(session, key: str) -> dict | None:
    session.expire_all()
    contact = session.scalar(select(Contact).where(Contact.provider_sid.like(f"api:%:{key}")))
    return None if contact is None else {name: getattr(contact, name) for name in COMPARED}


def _answer(response, key: str) -> tuple:
    body = response.get_json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("received_at",)}
        body = {k: (v.replace(key, "KEY") if isinstance(v, str) else v) for k, v in body.items()}
        if isinstance(body.get("links"), dict):
            body["links"] = {k: v.replace(key, "KEY") for k, v in body["links"].items()}
    return response.status_code, body, (response.headers.get("Location") or "").replace(key, "KEY")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_fast_and_normal_paths_store_the_same_rows_and_give_the_same_answers(
    app, client, session, make_token, monkeypatch, body
):
    monkeypatch.setitem(app.config, "API_INTAKE", "queued")
    token = make_token("contacts:write")
    fast_key, fast = _post(client, token, body, fast=True)
    full_key, full = _post(client, token, body, fast=False)
    assert _answer(fast, fast_key) == _answer(full, full_key)
    assert _row(session, fast_key) == _row(session, full_key)


def test_the_usual_case_is_stored_by_the_one_statement(app, client, session, make_token, monkeypatch):
    """So the comparison above compares two paths: a plain contact takes the fast one."""
    monkeypatch.setitem(app.config, "API_INTAKE", "queued")
    stored = []
    real = api.accept_at_once
    monkeypatch.setattr(api, "accept_at_once", lambda *args: stored.append(real(*args)) or stored[-1])
    key, response = _post(
        client, make_token("contacts:write"), {"service_code": "bygglov", "text": "Plank?"}, fast=True
    )
    assert response.status_code == 202
    assert len(stored) == 1
    assert stored[0] is not None
    assert _row(session, key)["awaiting_routing"] is True


# Direct intake: what differs by design besides the above is the ticket's id, reference and receipt code.
DIRECT_COMPARED = [name for name in COMPARED if name != "ticket_id"]
TICKET_COMPARED = [
    c.key for c in Ticket.__table__.c if c.key not in ("id", "reference", "receipt_code", "created_at", "updated_at")
]
for _differs in ("route_step_due_at", "first_arrived_at"):  # clocks started at each path's own now
    TICKET_COMPARED.remove(_differs)


def _routed(session, key: str) -> tuple | None:
    session.expire_all()
    contact = session.scalar(select(Contact).where(Contact.provider_sid.like(f"api:%:{key}")))
    if contact is None:
        return None
    ticket = contact.ticket
    return (
        {name: getattr(contact, name) for name in DIRECT_COMPARED},
        {name: getattr(ticket, name) for name in TICKET_COMPARED},
        [(e.kind, e.from_value, e.to_value) for e in ticket.events],
    )


def _direct_answer(response) -> tuple:
    body = response.get_json()
    if isinstance(body, dict) and "reference" in body:  # a ticket: its own reference, code and times
        body = {k: v for k, v in body.items() if k not in ("reference", "receipt_code", "created_at", "updated_at")}
        body["links"] = sorted(body["links"])
    return response.status_code, body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_direct_intake_stores_and_answers_alike_with_the_token_checked_in_the_insert(
    app, client, session, make_token, body
):
    # Nobody to offer tickets to: which agent is least busy depends on the tickets before.
    session.execute(update(User).values(presence="offline"))
    token = make_token("contacts:write")
    assert _isolated(session, client, token, body, fast=True) == _isolated(session, client, token, body, fast=False)


def _isolated(session, client, token: str, body: dict, *, fast: bool) -> tuple:
    """The answer and the stored rows, then deleted: the other path's contact must not find
    this one in its citizen's history (routing reads the citizen's earlier tickets)."""
    key, response = _post(client, token, body, fast=fast, at_once="_route_at_once")
    stored = _direct_answer(response), _routed(session, key)
    contact = session.scalar(select(Contact).where(Contact.provider_sid.like(f"api:%:{key}")))
    if contact is not None:
        ticket_id = contact.ticket_id
        session.execute(delete(RoutingDecision).where(RoutingDecision.ticket_id == ticket_id))
        session.execute(delete(TicketEvent).where(TicketEvent.ticket_id == ticket_id))
        session.execute(delete(Contact).where(Contact.id == contact.id))
        session.execute(delete(Ticket).where(Ticket.id == ticket_id))
        session.commit()
    return stored


def test_direct_intake_reads_no_token_of_its_own_in_the_usual_case(app, client, session, make_token, monkeypatch):
    """So the comparison above compares two paths: a plain contact is routed by receive_at_once."""
    token = make_token("contacts:write")
    routed = []
    real = api.receive_at_once
    monkeypatch.setattr(api, "receive_at_once", lambda *args: routed.append(real(*args)) or routed[-1])
    monkeypatch.setattr(api, "check_token", lambda *args: pytest.fail("the token was read on its own"))
    key, response = _post(
        client, token, {"service_code": "bygglov", "text": "Plank?"}, fast=True, at_once="_route_at_once"
    )
    assert response.status_code == 201
    assert routed[0] is not None
    assert _routed(session, key)[0]["awaiting_routing"] is False


@pytest.mark.parametrize("scope", ["tickets:read", "revoked"])
def test_a_token_that_may_not_create_contacts_stores_nothing_on_either_path(client, session, make_token, scope):
    token = make_token("contacts:write" if scope == "revoked" else scope)
    if scope == "revoked":
        revoke_token(session, session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token))))
        session.commit()
    key, response = _post(
        client, token, {"service_code": "bygglov", "text": "Plank?"}, fast=True, at_once="_route_at_once"
    )
    assert response.status_code == (401 if scope == "revoked" else 403)
    assert _routed(session, key) is None


def test_a_retry_of_a_routed_contact_gets_its_ticket_and_stores_nothing_more(client, session, make_token):
    token = make_token("contacts:write")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "retry-direct-1"}
    first = client.post("/api/v1/contacts", json={"service_code": "bygglov", "text": "Plank?"}, headers=headers)
    again = client.post("/api/v1/contacts", json={"service_code": "bygglov", "text": "Plank?"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["reference"] == first.get_json()["reference"]
    stored = session.scalars(select(Contact).where(Contact.provider_sid.like("api:%:retry-direct-1"))).all()
    assert len(stored) == 1


@pytest.fixture
def own_database(tmp_path):
    """An app on a database of its own, bound to its engine as in production (not to a test's
    connection, inside which every statement stays in one transaction whatever the code asks)."""
    url = _fresh_postgres(PG_URL) if PG_URL else f"sqlite:///{tmp_path / 'own.sqlite3'}"
    upgrade_database(url)
    # The rate limiter is one per process: an app made with it off would turn it off for every later test.
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "TESTING": True, "RATELIMIT_ENABLED": True})
    with app.app_context():
        load_catalogue(db.session)
        _token, raw = create_token(db.session, "own", "contacts:write")
        db.session.commit()
    yield app, raw
    with app.app_context():
        db.session.remove()
    feed_of(app).stop()
    app.extensions[ENGINE_KEY].dispose()
    if PG_URL:
        _drop_postgres(url)


@pytest.mark.parametrize("key", ["atomic-1", None])
def test_a_direct_contact_that_cannot_be_routed_leaves_nothing_stored(own_database, monkeypatch, key):
    """Direct intake is one transaction on either path (with an Idempotency-Key the token is
    checked in the INSERT; without one, the full path): a failure after the contact's INSERT
    takes the contact back too, so the client's retry is not met by a contact without a ticket."""
    app, token = own_database

    def unroutable(*_args, **_kwargs):
        raise RuntimeError("routing failed")

    monkeypatch.setattr(receive_module, "place", unroutable)
    headers = {"Authorization": f"Bearer {token}", **({"Idempotency-Key": key} if key else {})}
    with pytest.raises(RuntimeError, match="routing failed"):
        app.test_client().post("/api/v1/contacts", json={"service_code": "bygglov", "text": "Plank?"}, headers=headers)
    with app.app_context():
        assert db.session.scalar(select(func.count(Contact.id))) == 0
