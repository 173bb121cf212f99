"""Queued intake's one-statement acknowledgement (intake.receive.accept_at_once) against
the normal path (accept): for any input, the same answer and the same stored row."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

import kontaktcenter.channels.api.views as api
from kontaktcenter.contacts.models import Contact

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


def _post(client, token: str, body: dict, fast: bool):
    key = f"prop-{'fast' if fast else 'full'}-{next(_keys)}"
    original = api._acknowledge_at_once
    if not fast:
        api._acknowledge_at_once = lambda: None  # every request takes the normal path
    try:
        response = client.post(
            "/api/v1/contacts", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        )
    finally:
        api._acknowledge_at_once = original
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
