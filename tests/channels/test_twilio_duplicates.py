"""Parallel duplicates of one CallSid / MessageSid over real HTTP never make a second contact."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from kontaktcenter.channels.clock import CLOCK_KEY
from kontaktcenter.channels.twilio_security import auth_token
from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import db
from kontaktcenter.tickets.models import Message, Ticket
from tests.fixtures.browser import hang_up_open_calls
from tests.fixtures.factories import at
from tests.fixtures.twilio import parse_twiml

pytestmark = pytest.mark.postgres
PARALLEL = 8


@pytest.fixture
def server(live_server):
    app = live_server.app
    app.extensions[CLOCK_KEY] = lambda: at("2026-03-03 10:00")
    try:
        yield live_server
        # Leave the shared live server as it was: a call queued here would wait on, rung at an agent.
        hang_up_open_calls(live_server)
    finally:
        app.extensions.pop(CLOCK_KEY, None)


def _fire_together(server, path: str, params: dict[str, str]) -> list[requests.Response]:
    """PARALLEL identical signed requests released at the same instant, as a Twilio retry storm."""
    return _fire_together_n(server, path, params, PARALLEL)


def _fire_together_n(server, path: str, params: dict[str, str], n: int) -> list[requests.Response]:
    app = server.app
    signature = RequestValidator(auth_token(app)).compute_signature(app.config["PUBLIC_BASE_URL"] + path, params)
    start = threading.Barrier(n)

    def post(_):
        start.wait()
        return requests.post(server.url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(post, range(n)))


def _stored(server, sid: str):
    with server.app.app_context():
        contacts = db.session.scalars(select(Contact).where(Contact.provider_sid == sid)).all()
        ticket_ids = {c.ticket_id for c in contacts}
        tickets = db.session.scalar(select(func.count(Ticket.id)).where(Ticket.id.in_(ticket_ids)))
        receipts = db.session.scalar(select(func.count(Message.id)).where(Message.ticket_id.in_(ticket_ids)))
        total_tickets = db.session.scalar(select(func.count(Ticket.id)))
        db.session.remove()
    return contacts, tickets, receipts, total_tickets


def test_parallel_duplicate_callsid_makes_one_contact_and_one_ticket(server):
    sid = "CA" + secrets.token_hex(16)
    before = _stored(server, sid)[3]
    params = {
        "CallSid": sid,
        "From": "+46701234567",
        "To": "+46406000000",
        "Digits": "2",
        "AccountSid": "AC" + "0" * 32,
    }
    responses = _fire_together(server, "/twilio/voice/menu", params)
    assert [r.status_code for r in responses] == [200] * PARALLEL
    # Every duplicate is answered the same way: into the same queue.
    assert {parse_twiml(r.content).find("Enqueue").text for r in responses} == {"kc-forsta-linjen"}
    contacts, tickets, _, total = _stored(server, sid)
    assert len(contacts) == 1
    assert tickets == 1
    assert total == before + 1


def test_parallel_duplicate_messagesid_makes_one_contact_and_one_receipt(server):
    sid = "SM" + secrets.token_hex(16)
    before = _stored(server, sid)[3]
    params = {
        "MessageSid": sid,
        "From": "+46709990001",
        "To": "+46406000000",
        "Body": "Hej!",
        "AccountSid": "AC" + "0" * 32,
    }
    responses = _fire_together(server, "/twilio/sms/incoming", params)
    assert [r.status_code for r in responses] == [200] * PARALLEL
    replies = {parse_twiml(r.content).find("Message").text for r in responses}
    contacts, tickets, receipts, total = _stored(server, sid)
    assert len(contacts) == 1
    assert tickets == 1
    assert total == before + 1
    assert receipts == 1
    assert len(replies) == 1
    assert contacts[0].ticket_id is not None


def test_parallel_duplicate_ivr_drop_is_stored_once(server):
    sid = "CA" + secrets.token_hex(16)
    params = {
        "CallSid": sid,
        "From": "+46701234568",
        "CallStatus": "completed",
        "CallDuration": "12",
        "AccountSid": "AC" + "0" * 32,
    }
    responses = _fire_together(server, "/twilio/voice/status", params)
    assert [r.status_code for r in responses] == [204] * PARALLEL
    contacts, *_ = _stored(server, sid)
    assert [c.outcome for c in contacts] == ["ivr_dropped"]


def test_parallel_duplicate_callback_request_is_recorded_once(server):
    from sqlalchemy import create_engine, text

    from kontaktcenter.tickets.models import TicketEvent

    sid = "CA" + secrets.token_hex(16)
    base = {"CallSid": sid, "From": "+46701234569", "To": "+46406000000", "AccountSid": "AC" + "0" * 32}
    (queued,) = _fire_together_n(server, "/twilio/voice/menu", {**base, "Digits": "2"}, 1)
    assert queued.status_code == 200
    # Hold the call's row while the duplicates arrive, so they all overlap for certain.
    holder = create_engine(server.app.config["DATABASE_URL"])
    with holder.connect() as conn, ThreadPoolExecutor(1) as background:
        conn.execute(text("SELECT id FROM contacts WHERE provider_sid = :sid FOR UPDATE"), {"sid": sid})
        storm = background.submit(
            _fire_together, server, "/twilio/voice/wait", {**base, "Digits": "1", "QueueTime": "40"}
        )
        time.sleep(1.0)
        conn.rollback()
        responses = storm.result(timeout=60)
    holder.dispose()
    # Every duplicate tells Twilio the same: leave the queue.
    assert [[c.tag for c in parse_twiml(r.content)] for r in responses] == [["Leave"]] * PARALLEL
    contacts, *_ = _stored(server, sid)
    assert [c.outcome for c in contacts] == ["callback_requested"]
    with server.app.app_context():
        kinds = db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == contacts[0].ticket_id)).all()
        db.session.remove()
    assert kinds.count("callback_requested") == 1
    assert kinds.count("kind") == 1


def test_parallel_texts_from_one_new_sender_make_one_ticket(server):
    """Two or more texts sent within a second arrive together: one thread, not one ticket each."""
    app = server.app
    sender = "+4670" + str(secrets.randbelow(9_000_000) + 1_000_000)
    start = threading.Barrier(PARALLEL)

    def text(i):
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": sender,
            "To": "+46406000000",
            "Body": f"Del {i + 1}",
            "AccountSid": "AC" + "0" * 32,
        }
        path = "/twilio/sms/incoming"
        signature = RequestValidator(auth_token(app)).compute_signature(app.config["PUBLIC_BASE_URL"] + path, params)
        start.wait()
        return requests.post(server.url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)

    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(text, range(PARALLEL)))
    assert [r.status_code for r in responses] == [200] * PARALLEL
    with app.app_context():
        tickets = db.session.scalars(select(Contact.ticket_id).where(Contact.citizen_phone == sender)).all()
        db.session.remove()
    assert len(tickets) == PARALLEL
    assert len(set(tickets)) == 1
    replies = [parse_twiml(r.content).find("Message").text for r in responses]
    assert sum(reply.startswith("Tack för ditt sms.") for reply in replies) == 1
