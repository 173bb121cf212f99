"""Placement by proof: the citizen's own e-mail and SMS replies join their ticket by one
status rule; replies go to the ticket's own address; staff link a call by hand."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import utcnow
from kontaktcenter.notify.email import OUTBOX_KEY
from kontaktcenter.tickets.models import Message, Ticket, TicketEvent
from kontaktcenter.tickets.service import resolve, set_status
from tests.fixtures.factories import at
from tests.fixtures.inbound_email import SECRET, parse_post
from tests.fixtures.twilio import reply_text, sms

PACKAGE = Path(__file__).resolve().parents[2] / "kontaktcenter"


def _email_ticket(app, client, session, clock, sender="Anna <anna@example.se>") -> Ticket:
    post = parse_post(sender=sender, message_id="<first@example.se>")
    reference = client.post(f"/email/inbound/{SECRET}", data=post, content_type="multipart/form-data").get_json()[
        "reference"
    ]
    return session.scalar(select(Ticket).where(Ticket.reference == reference))


def _sms_ticket(client, session, clock, number="+46702223344") -> Ticket:
    """An SMS ticket on the real clock, as e-mail arrives on it."""
    clock.now = utcnow()
    _response, sid = sms(client, "Hej, soptunnan är inte tömd.", sender=number)
    return session.scalar(select(Contact).where(Contact.provider_sid == sid)).ticket


def _email_reply(client, ticket: Ticket, message_id: str, sender="ANNA@Example.se"):
    post = parse_post(
        subject=f"SV: [{ticket.reference}] Fråga", text="Tack, en sak till.", sender=sender, message_id=message_id
    )
    return client.post(f"/email/inbound/{SECRET}", data=post, content_type="multipart/form-data")


def _sms_reply(client, number="+46702223344"):
    return sms(client, "En sak till.", sender=number)


def _after(session, ticket: Ticket, assignee_before: int | None) -> tuple:
    """What the one status rule decides: status, reopenings, whether the assignee stayed,
    and the events written from the joining contact on (messages, such as the SMS receipt, aside)."""
    session.expire_all()
    ticket = session.get(Ticket, ticket.id)
    kinds = [
        e.kind
        for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))
    ]
    last = [k for k in kinds[len(kinds) - kinds[::-1].index("contact_added") - 1 :] if not k.startswith("message:")]
    return ticket.status, ticket.reopened_count, ticket.resolved_at, ticket.assignee_id == assignee_before, last


@pytest.mark.parametrize("state", ["resolved", "waiting_citizen", "open"])
def test_the_citizens_own_email_and_sms_replies_follow_one_status_rule(app, client, session, clock, state):
    by_mail = _email_ticket(app, client, session, clock)
    by_sms = _sms_ticket(client, session, clock)
    assignees = {t.id: t.assignee_id for t in (by_mail, by_sms)}
    with app.app_context():
        for ticket in (by_mail, by_sms):
            if state == "resolved":
                resolve(session, ticket, actor=None, at=utcnow())
            else:
                set_status(session, ticket, state)
    session.commit()
    clock.now = utcnow()  # e-mail arrives on the real clock: both replies come just after
    response = _email_reply(client, by_mail, "<reply-1@example.se>")
    assert response.get_json() == {"reference": by_mail.reference, "created": True}
    sms_response, _sid = _sms_reply(client)
    assert by_sms.reference in reply_text(sms_response)

    mail_after = _after(session, by_mail, assignees[by_mail.id])
    sms_after = _after(session, by_sms, assignees[by_sms.id])
    assert mail_after == sms_after
    assert mail_after[:3] == ("open", 1 if state == "resolved" else 0, None)
    # A reopened ticket goes back to the queue; otherwise its handler keeps it.
    assert mail_after[3] is (state != "resolved" or assignees[by_mail.id] is None)
    placements = [c.placement for c in session.get(Ticket, by_mail.id).contacts]
    assert placements == ["new", "reference"]


def test_a_reply_to_a_ticket_resolved_long_ago_makes_a_new_ticket_that_mentions_it(app, client, session, clock):
    ticket = _email_ticket(app, client, session, clock)
    with app.app_context():
        resolve(session, ticket, actor=None, at=utcnow())
        ticket.resolved_at = utcnow() - timedelta(days=8)  # e-mail arrives on the real clock: resolved eight days ago
    session.commit()
    reference = _email_reply(client, ticket, "<late@example.se>").get_json()["reference"]
    assert reference != ticket.reference
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == "resolved"
    late = session.scalar(select(Contact).where(Contact.provider_sid == "email:late@example.se"))
    assert late.mentions_ticket_id == ticket.id


def test_replies_go_to_the_address_the_citizen_chose_not_the_latest_contact(
    app, client, session, clock, auth, make_contact
):
    ticket = make_contact(service="allmant", email="own@example.se", phone="0703334455", reply_channel="email").ticket
    outbox = app.extensions.setdefault(OUTBOX_KEY, [])
    outbox.clear()
    auth.login("agent")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert "own@example.se" in page.split("Svaret går till", 1)[1].split("</section>", 1)[0]  # shown before sending
    auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "reply", "body": "Svar ett."})
    assert [m["To"] for m in outbox] == ["own@example.se"]


def test_changing_the_reply_address_is_an_explicit_logged_action(app, client, session, auth, make_contact):
    ticket = make_contact(service="allmant", email="own@example.se", reply_channel="email").ticket
    outbox = app.extensions.setdefault(OUTBOX_KEY, [])
    outbox.clear()
    auth.login("agent")
    before = (ticket.reply_channel, ticket.reply_to)
    bad = auth.post(
        f"/tickets/{ticket.reference}/reply-address", {"reply_channel": "email", "reply_to": "inte en adress"}
    )
    assert "giltig e-postadress" in client.get(bad.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    assert (session.get(Ticket, ticket.id).reply_channel, session.get(Ticket, ticket.id).reply_to) == before

    auth.post(f"/tickets/{ticket.reference}/reply-address", {"reply_channel": "email", "reply_to": "New@Example.se"})
    session.expire_all()
    ticket = session.get(Ticket, ticket.id)
    assert (ticket.reply_channel, ticket.reply_to) == ("email", "new@example.se")
    event = session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "reply_address")
    )
    assert (event.actor.username, event.from_value, event.to_value) == (
        "agent",
        "email:own@example.se",
        "email:new@example.se",
    )
    auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "reply", "body": "Svar."})
    assert [m["To"] for m in outbox] == ["new@example.se"]


def _call_ticket(make_contact, phone="0705556677") -> Ticket:
    return make_contact(
        channel="phone", service="allmant", phone=phone, reply_channel="phone", arrived_at=at("2026-03-05 09:00")
    ).ticket


def test_a_call_never_joins_by_caller_id_but_staff_can_link_it_on_the_callers_word(
    app, client, session, auth, make_contact
):
    earlier = make_contact(
        service="allmant", phone="0705556677", reply_channel="sms", arrived_at=at("2026-03-02 09:00")
    ).ticket
    with app.app_context():
        resolve(session, earlier, actor=None, at=at("2026-03-03 10:00"))
    session.commit()
    call = _call_ticket(make_contact)
    call_reference = call.reference
    assert call.id != earlier.id  # the number alone joins nothing
    auth.login("agent")
    page = client.get(f"/tickets/{call_reference}").get_data(as_text=True)
    assert f"Koppla till {earlier.reference}" in page
    response = auth.post(f"/tickets/{call_reference}/link", {"to": earlier.reference})
    assert response.headers["Location"].endswith(f"/tickets/{earlier.reference}")
    session.expire_all()
    earlier = session.get(Ticket, earlier.id)
    assert session.scalar(select(Ticket).where(Ticket.reference == call_reference)) is None
    assert [(c.channel, c.placement) for c in earlier.contacts] == [("web", "new"), ("phone", "linked")]
    assert (earlier.status, earlier.reopened_count) == ("open", 1)
    linked = session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == earlier.id, TicketEvent.kind == "contact_linked")
    )
    assert (linked.actor.username, linked.from_value) == ("agent", call_reference)


def test_a_ticket_with_work_on_it_is_not_linked_away(app, client, session, auth, make_contact):
    earlier = make_contact(service="allmant", phone="0705556678", arrived_at=at("2026-03-02 09:00")).ticket
    call = _call_ticket(make_contact, phone="0705556678")
    auth.login("agent")
    auth.post(f"/tickets/{call.reference}/reply", {"kind": "note", "body": "Ringde om soptunnan."})
    response = auth.post(f"/tickets/{call.reference}/link", {"to": earlier.reference})
    assert "kan inte kopplas" in client.get(response.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    assert session.get(Ticket, call.id) is not None
    assert [c.ticket_id for c in session.get(Ticket, call.id).contacts] == [call.id]
    assert session.scalar(select(Message.body).where(Message.ticket_id == call.id)) == "Ringde om soptunnan."


def test_linking_to_a_ticket_the_user_may_not_read_is_404_and_changes_nothing(app, client, session, auth, make_contact):
    secret = make_contact(service="forsorjningsstod", phone="0705556679", personnummer="19900101-0017").ticket
    call = _call_ticket(make_contact, phone="0705556679")
    auth.login("agent2")
    assert secret.reference not in client.get(f"/tickets/{call.reference}").get_data(as_text=True)
    assert auth.post(f"/tickets/{call.reference}/link", {"to": secret.reference}).status_code == 404
    session.expire_all()
    assert [c.ticket_id for c in session.get(Ticket, call.id).contacts] == [call.id]


def _imports(module: Path) -> set[str]:
    """The kontaktcenter packages a module imports (relative imports resolved)."""
    parts = module.relative_to(PACKAGE.parent).with_suffix("").parts
    found = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level]
                name = ".".join((*base, node.module) if node.module else base)
            else:
                name = node.module or ""
            names = [name] if node.module else [f"{name}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("kontaktcenter.") and n.count(".") >= 1}
    return found


@pytest.mark.parametrize(
    ("package", "below"),
    [
        ("contacts", {"routing", "casework", "intake", "channels"}),
        ("tickets", {"routing", "casework", "intake", "channels"}),
        ("routing", {"casework", "intake", "channels"}),
        ("casework", {"intake", "channels"}),
    ],
)
def test_intake_sits_above_routing_and_casework(package, below):
    """The intake sits above routing and casework, and the ticket (its access rule, its clocks,
    its events) below both: no package imports one above it."""
    offending = {
        str(module.relative_to(PACKAGE.parent)): sorted(_imports(module) & below)
        for module in (PACKAGE / package).rglob("*.py")
        if _imports(module) & below
    }
    assert offending == {}


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"reply_channel": "brevduva", "reply_to": "a@example.se"}, "Välj hur medborgaren vill få svar."),
        ({"reply_channel": "sms", "reply_to": "12"}, "giltigt telefonnummer"),
        ({"reply_channel": "email", "reply_to": ""}, "giltig e-postadress"),
    ],
)
def test_a_bad_reply_address_is_refused_with_a_message_and_changes_nothing(
    client, session, auth, make_contact, form, message
):
    ticket = make_contact(service="allmant", email="own@example.se", reply_channel="email").ticket
    auth.login("agent")
    response = auth.post(f"/tickets/{ticket.reference}/reply-address", form)
    assert message in client.get(response.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    ticket = session.get(Ticket, ticket.id)
    assert (ticket.reply_channel, ticket.reply_to) == ("email", "own@example.se")
    assert (
        session.scalar(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "reply_address")
        )
        is None
    )


@pytest.mark.parametrize("target", ["", "KC-2099-999999", "inte-en-referens", "x" * 500])
def test_linking_to_a_missing_or_malformed_reference_is_404_and_changes_nothing(
    client, session, auth, make_contact, target
):
    call = _call_ticket(make_contact, phone="0705556680")
    auth.login("agent")
    assert auth.post(f"/tickets/{call.reference}/link", {"to": target}).status_code == 404
    session.expire_all()
    assert [c.ticket_id for c in session.get(Ticket, call.id).contacts] == [call.id]
