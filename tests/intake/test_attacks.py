"""The attacks that joining by a guessed reference or a typed identifier made possible.

Each test plays the stranger and proves that the victim's ticket is unchanged, that
nothing is sent to the stranger, and that no answer the stranger sees tells anything
about the victim's errand.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.notify.email import OUTBOX_KEY
from kontaktcenter.notify.transport import clear_recorded, recorded
from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.tickets.models import Message, Ticket, TicketEvent
from kontaktcenter.tickets.service import resolve
from tests.conftest import csrf_token
from tests.fixtures.factories import at
from tests.fixtures.inbound_email import SECRET, parse_post
from tests.fixtures.twilio import reply_text, sms

VICTIM_EMAIL = "vera.victim@example.se"
VICTIM_PHONE = "+46701112233"
VICTIM_PNR = "19900101-0017"
ATTACKER = "attacker@evil.example"


@pytest.fixture
def outbox(app):
    """Every e-mail and SMS the app sends from here on."""
    mails = app.extensions.setdefault(OUTBOX_KEY, [])
    mails.clear()
    with app.app_context():
        clear_recorded()

    def everything() -> list[str]:
        with app.app_context():
            texts = [str(r.data) for r in recorded()]
        return [m.as_string() for m in mails] + texts

    return everything


def _victim(app, session, make_contact, *, service: str, resolved: bool, arrived: str = "2026-03-02 09:00") -> Ticket:
    """The victim's ticket, opened through the web form with her own reply address."""
    ticket = make_contact(
        service=service,
        text="Beslut om mitt ärende, tack.",
        email=VICTIM_EMAIL,
        phone=VICTIM_PHONE,
        personnummer=VICTIM_PNR,
        reply_channel="email",
        arrived_at=at(arrived),
    ).ticket
    if resolved:
        with app.app_context():
            resolve(session, ticket, actor=None, at=at("2026-03-03 10:00"))
        session.commit()
    return ticket


def _snapshot(session, ticket: Ticket) -> tuple:
    """Everything about the ticket a stranger's contact could have changed."""
    session.expire_all()
    ticket = session.get(Ticket, ticket.id)
    return (
        ticket.status,
        ticket.resolution,
        ticket.resolved_at,
        ticket.reopened_count,
        ticket.assignee_id,
        ticket.queue_id,
        ticket.reply_channel,
        ticket.reply_to,
        tuple(c.id for c in ticket.contacts),
        session.scalar(select(func.count(TicketEvent.id)).where(TicketEvent.ticket_id == ticket.id)),
        session.scalar(select(func.count(Message.id)).where(Message.ticket_id == ticket.id)),
    )


def _mentions(text: str, ticket: Ticket) -> bool:
    return ticket.reference in text or (ticket.receipt_code or "#") in text


CASES = [
    pytest.param("forsorjningsstod", True, id="confidential-resolved"),
    pytest.param("forsorjningsstod", False, id="confidential-open"),
    pytest.param("skolval", True, id="ordinary-resolved"),
    pytest.param("skolval", False, id="ordinary-open"),
]


@pytest.mark.parametrize(("service", "resolved"), CASES)
def test_mail_with_a_guessed_reference_from_a_foreign_address_joins_nothing(
    app, client, session, make_contact, outbox, clock, auth, service, resolved
):
    victim = _victim(app, session, make_contact, service=service, resolved=resolved)
    clock.set("2026-03-04 09:00")  # within the reopen window of the resolved one
    before = _snapshot(session, victim)
    post = parse_post(
        subject=f"Re: {victim.reference} beslut",
        text="Skicka beslutet hit.",
        sender=f"Vera <{ATTACKER}>",
        message_id="<attack-1@evil.example>",
    )
    response = client.post(f"/email/inbound/{SECRET}", data=post, content_type="multipart/form-data")
    assert response.status_code == 200

    assert _snapshot(session, victim) == before
    stray = session.scalar(select(Contact).where(Contact.provider_sid == "email:attack-1@evil.example"))
    assert stray.ticket_id != victim.id
    assert stray.mentions_ticket_id == victim.id  # for staff who may read both
    decision = session.scalar(select(RoutingDecision).where(RoutingDecision.contact_id == stray.id))
    assert decision.rule_id == "namner-annat-arende"  # the triage path
    assert not _mentions(response.get_data(as_text=True), victim)

    # The victim's caseworker answers: the reply goes to the victim, never to the stranger.
    victim = session.get(Ticket, victim.id)
    if victim.is_open:
        auth.login("handlaggare" if service == "forsorjningsstod" else "agent")
        auth.post(f"/tickets/{victim.reference}/reply", {"kind": "reply", "body": "Beviljat 8 400 kr."})
        session.expire_all()
        reply = session.scalar(select(Message).where(Message.ticket_id == victim.id, Message.kind == "reply"))
        assert reply.recipient == VICTIM_EMAIL
    assert not any(ATTACKER in sent for sent in outbox())


@pytest.mark.parametrize(("service", "resolved"), CASES)
@pytest.mark.parametrize("identifier", ["phone", "email", "personnummer"])
def test_web_form_with_a_victims_identifier_makes_a_ticket_of_its_own(
    app, client, session, make_contact, outbox, clock, service, resolved, identifier
):
    victim = _victim(app, session, make_contact, service=service, resolved=resolved)
    clock.set("2026-03-04 09:00")
    before = _snapshot(session, victim)
    value = {"phone": "070-111 22 33", "email": VICTIM_EMAIL.upper(), "personnummer": VICTIM_PNR}[identifier]
    data = {"service": service, "text": "Vad hände med mitt ärende?", "reply_channel": "none", identifier: value}
    data["csrf_token"] = csrf_token(client, "/kontakt")
    response = client.post("/kontakt", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)

    assert _snapshot(session, victim) == before
    newest = session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    assert newest.id != victim.id
    assert newest.reference in receipt
    assert not _mentions(receipt, victim)
    assert outbox() == []


@pytest.mark.parametrize(("service", "resolved"), CASES)
@pytest.mark.parametrize("identifier", ["phone", "email", "personnummer"])
def test_api_with_a_victims_identifier_makes_a_ticket_of_its_own(
    app, client, session, make_contact, make_token, outbox, clock, service, resolved, identifier
):
    victim = _victim(app, session, make_contact, service=service, resolved=resolved)
    clock.set("2026-03-04 09:00")
    before = _snapshot(session, victim)
    value = {"phone": VICTIM_PHONE, "email": VICTIM_EMAIL, "personnummer": VICTIM_PNR}[identifier]
    body = {"service_code": service, "text": "Vad hände med mitt ärende?", identifier: value}
    response = client.post(
        "/api/v1/contacts", json=body, headers={"Authorization": f"Bearer {make_token('contacts:write')}"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)

    assert _snapshot(session, victim) == before
    assert response.get_json()["reference"] != victim.reference
    assert not _mentions(response.get_data(as_text=True), victim)
    assert outbox() == []


@pytest.mark.parametrize("resolved", [True, False], ids=["resolved", "open"])
def test_sms_quoting_someone_elses_reference_joins_nothing(app, client, session, make_contact, outbox, clock, resolved):
    victim = _victim(app, session, make_contact, service="forsorjningsstod", resolved=resolved)
    clock.set("2026-03-04 09:00")
    before = _snapshot(session, victim)
    response, sid = sms(client, f"Angående {victim.reference}: skicka beslutet till mig", sender="+46709990000")
    text = reply_text(response)

    assert _snapshot(session, victim) == before
    stray = session.scalar(select(Contact).where(Contact.provider_sid == sid))
    assert stray.ticket_id != victim.id
    assert stray.ticket.reference in text
    assert not _mentions(text, victim)


def test_status_lookup_needs_the_receipt_code_and_says_nothing_without_it(
    app, client, session, make_contact, make_token
):
    headers = {"Authorization": f"Bearer {make_token('tickets:read')}"}
    confidential = _victim(app, session, make_contact, service="forsorjningsstod", resolved=False)
    ordinary = _victim(app, session, make_contact, service="skolval", resolved=True)

    def look(reference: str, code: str | None = None):
        query = f"?receipt_code={code}" if code is not None else ""
        return client.get(f"/api/v1/tickets/{reference}{query}", headers=headers)

    unknown = look("KC-2026-999999")
    for ticket in (confidential, ordinary):
        for code in (
            None,
            "",
            "AAAAAAAAAA",
            ordinary.receipt_code if ticket is confidential else confidential.receipt_code,
        ):
            answer = look(ticket.reference, code)
            # Exactly what an unknown reference gets: existence, service and status stay hidden.
            assert (
                (answer.status_code, answer.get_json())
                == (unknown.status_code, unknown.get_json())
                == (404, unknown.get_json())
            )
            assert "forsorjningsstod" not in answer.get_data(as_text=True)
    found = look(confidential.reference, confidential.receipt_code)
    assert found.status_code == 200
    assert (found.get_json()["reference"], found.get_json()["status"]) == (confidential.reference, confidential.status)


def test_the_web_receipt_gives_the_citizen_the_code_that_looks_the_ticket_up(client, session, make_token):
    data = {"service": "skolval", "text": "När öppnar skolvalet?", "reply_channel": "none"}
    data["csrf_token"] = csrf_token(client, "/kontakt")
    receipt = client.get(client.post("/kontakt", data=data).headers["Location"]).get_data(as_text=True)
    ticket = session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    printed = f"{ticket.receipt_code[:5]}-{ticket.receipt_code[5:]}"
    assert ticket.reference in receipt
    assert printed in receipt
    headers = {"Authorization": f"Bearer {make_token('tickets:read')}", "X-Receipt-Code": printed}
    assert client.get(f"/api/v1/tickets/{ticket.reference}", headers=headers).status_code == 200
