"""Working a ticket: console counts, presence, replies through the channel, reopen, search, knowledge base."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kontaktcenter.casework.models import KnowledgeArticle
from kontaktcenter.directory.models import Service, User
from kontaktcenter.notify.email import OUTBOX_KEY
from kontaktcenter.notify.transport import recorded
from kontaktcenter.tickets.models import Message, Ticket
from tests.fixtures.factories import at


def test_console_counts_waiting_tickets_and_the_oldest(client, auth, session, everyone_away, make_contact):
    make_contact(service="allmant", arrived_at=at("2026-03-02 08:15"))
    make_contact(service="allmant", arrived_at=at("2026-03-02 09:30"))
    auth.login("agent2")
    page = client.get("/console").get_data(as_text=True)
    row = page.split("Kontaktcenter – första linjen</th>", 1)[1].split("</tr>", 1)[0]
    row = re.sub(r' data-label="[^"]*"', "", row)  # the column names each cell carries for narrow screens
    assert "<td>2</td><td>2</td><td>2026-03-02 08:15</td><td>0</td>" in row


def test_presence_is_set_from_the_console_and_bad_values_change_nothing(client, auth, session):
    auth.login("agent2")
    auth.post("/console/presence", {"presence": "away"})
    agent = session.scalar(select(User).where(User.username == "agent2"))
    session.refresh(agent)
    assert agent.presence == "away"
    response = auth.post("/console/presence", {"presence": "sleeping"})
    assert "Okänd närvarostatus." in client.get(response.headers["Location"]).get_data(as_text=True)
    session.refresh(agent)
    assert agent.presence == "away"


def test_reply_goes_out_by_sms_when_the_citizen_asked_for_sms(app, client, auth, session, everyone_away, make_contact):
    ticket = make_contact(service="allmant", phone="0701234567", reply_channel="sms").ticket
    auth.login("agent")
    auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "reply", "body": "Hej! Sophämtningen sker på tisdagar."})
    message = session.scalar(select(Message).where(Message.ticket_id == ticket.id, Message.kind == "reply"))
    assert message.channel == "sms"
    assert message.recipient == "+46701234567"
    assert message.provider_sid.startswith("SM")
    with app.app_context():
        sent = [r for r in recorded() if r.kind == "message"]
    assert sent[-1].data["To"] == "+46701234567"
    assert "tisdagar" in sent[-1].data["Body"]
    session.refresh(ticket.contacts[0])
    assert ticket.contacts[0].first_response_at is not None


def test_reply_by_email_and_internal_note_and_phone_note(app, client, auth, session, everyone_away, make_contact):
    ticket = make_contact(service="allmant", email="Sven@Example.se", reply_channel="email").ticket
    outbox = app.extensions.setdefault(OUTBOX_KEY, [])
    outbox.clear()
    auth.login("agent")
    auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "note", "body": "Kollat med enheten."})
    assert outbox == []  # a note is never sent
    auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "phone_note", "body": "Ringde och förklarade."})
    auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "reply", "body": "Här är svaret."})
    assert [m["To"] for m in outbox] == ["sven@example.se"]
    assert f"[{ticket.reference}]" in outbox[0]["Subject"]
    kinds = session.execute(
        select(Message.kind, Message.channel).where(Message.ticket_id == ticket.id).order_by(Message.id)
    ).all()
    assert kinds == [("note", ""), ("reply", "phone"), ("reply", "email")]


def test_reply_without_a_reply_channel_is_refused_and_nothing_is_stored(
    client, auth, session, everyone_away, make_contact
):
    ticket = make_contact(service="allmant", reply_channel="none").ticket
    auth.login("agent")
    response = auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "reply", "body": "Svar"})
    assert "Skriv en intern anteckning." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Message).where(Message.ticket_id == ticket.id)) == 0


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "reply", "body": "   "}, "Meddelandet är tomt."),
        ({"kind": "sms-to-everyone", "body": "Hej"}, "Okänd typ av meddelande."),
        ({"kind": "note", "body": "x" * 10_001}, "Meddelandet får vara högst 10 000 tecken."),
    ],
)
def test_bad_replies_are_refused_with_a_message_and_nothing_is_stored(
    client, auth, session, everyone_away, make_contact, form, message
):
    ticket = make_contact(service="allmant", email="sven@example.se", reply_channel="email").ticket
    outbox = client.application.extensions.setdefault(OUTBOX_KEY, [])
    outbox.clear()
    auth.login("agent")
    response = auth.post(f"/tickets/{ticket.reference}/reply", form)
    assert message in client.get(response.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Message).where(Message.ticket_id == ticket.id)) == 0
    assert outbox == []


def test_a_typed_number_or_address_never_reopens_a_ticket(app, session, make_contact):
    """Anyone may type a citizen's phone or e-mail into the form: that proves nothing, so
    the contact makes a ticket of its own and the resolved one stays as it was."""
    first = make_contact(
        service="skolval", phone="0701234567", email="a@example.se", arrived_at=at("2026-03-02 09:00")
    ).ticket
    with app.app_context():
        from kontaktcenter.tickets.service import resolve

        resolve(session, first, actor=None, at=at("2026-03-02 10:00"))
    session.commit()
    assert first.resolution == "first_contact"
    same_phone = make_contact(service="skolval", phone="+46701234567", arrived_at=at("2026-03-03 09:00")).ticket
    same_email = make_contact(service="skolval", email="A@example.se", arrived_at=at("2026-03-04 09:00")).ticket
    assert len({first.id, same_phone.id, same_email.id}) == 3
    assert (first.status, first.reopened_count, len(first.contacts)) == ("resolved", 0, 1)


def test_search_by_reference_phone_email_personnummer_and_text(client, auth, session, everyone_away, make_contact):
    ticket = make_contact(
        service="skolval",
        text="Vilken skola har plats för tvillingar?",
        phone="0701234567",
        email="c@example.se",
        personnummer="19900101-0017",
    ).ticket
    secret = make_contact(service="budget-skuldradgivning", text="tvillingar och skulder", phone="0709876543").ticket
    auth.login("agent")
    for q in (ticket.reference.lower(), "070-123 45 67", "C@Example.se", "900101-0017", "tvillingar"):
        page = auth.post("/sok", {"q": q}, csrf_page="/kontakt").get_data(as_text=True)
        assert ticket.reference in page, q
    # Free text never looks inside confidential tickets…
    assert secret.reference not in auth.post("/sok", {"q": "skulder"}, csrf_page="/kontakt").get_data(as_text=True)
    # …and not even an exact identifier finds one for those who may not read it.
    by_phone = (
        auth.post("/sok", {"q": "0709876543"}, csrf_page="/kontakt").get_data(as_text=True).split("Träffar", 1)[1]
    )
    assert secret.reference not in by_phone
    # Personnummer are matched exactly, never by part.
    assert (
        ticket.reference
        not in auth.post("/sok", {"q": "19900101"}, csrf_page="/kontakt")
        .get_data(as_text=True)
        .split("Sök</button>", 1)[1]
    )
    bad = auth.post("/sok", {"q": "a@b"}, csrf_page="/kontakt")
    assert bad.status_code == 400
    assert "inte giltig" in bad.get_data(as_text=True)


def _service(session, code):
    return session.scalar(select(Service).where(Service.code == code))


def test_coordinator_keeps_the_knowledge_base_of_their_own_department(client, auth, session):
    auth.login("kultursamordnare")
    response = auth.post(
        "/kunskapsbank/ny",
        {
            "service": _service(session, "bibliotekskort").id,
            "title": "Förlorat kort",
            "body": "Spärra kortet på Mina sidor.",
            "active": "y",
        },
    )
    assert response.status_code == 302
    refused = auth.post(
        "/kunskapsbank/ny",
        {"service": _service(session, "bygglov").id, "title": "Bygglov", "body": "Nej.", "active": "y"},
    )
    assert refused.status_code == 400  # not one of their services: not even offered
    titles = session.scalars(select(KnowledgeArticle.title)).all()
    assert titles == ["Förlorat kort"]
    auth.logout()
    auth.login("agent")
    assert auth.post("/kunskapsbank/ny", {"title": "x"}).status_code == 403
    assert "Spärra kortet på Mina sidor." in client.get("/kunskapsbank?q=kort").get_data(as_text=True)


def test_quick_answers_are_offered_on_the_ticket_and_fill_the_reply(client, auth, session, everyone_away, make_contact):
    article = KnowledgeArticle(
        service=_service(session, "bibliotekskort"), title="Förlorat kort", body="Spärra kortet på Mina sidor."
    )
    session.add(article)
    ticket = make_contact(service="bibliotekskort", text="Jag har tappat mitt kort").ticket
    auth.login("agent")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert "Förlorat kort" in page
    filled = client.get(f"/tickets/{ticket.reference}?answer={article.id}").get_data(as_text=True)
    assert 'maxlength="10000">Spärra kortet på Mina sidor.</textarea>' in filled
    searched = client.get(f"/tickets/{ticket.reference}?kb=mina+sidor").get_data(as_text=True)
    assert "Förlorat kort" in searched


def test_ticket_shows_the_citizens_other_contacts(client, auth, session, everyone_away, make_contact):
    earlier = make_contact(
        service="bygglov", phone="0701234567", arrived_at=at("2026-03-02 09:00") - timedelta(days=30)
    ).ticket
    ticket = make_contact(service="skolval", phone="0701234567").ticket
    auth.login("agent")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    section = page.split("Medborgarens andra kontakter", 1)[1].split("Meddelanden", 1)[0]
    assert f'href="/tickets/{earlier.reference}?via={ticket.reference}"' in section  # opened as "serving this citizen"
    assert f'href="/tickets/{session.get(Ticket, ticket.id).reference}"' not in section


def test_console_lists_each_tickets_next_due_time(client, auth, session, everyone_away, make_contact):
    ticket = make_contact(
        service="allmant", arrived_at=at("2026-03-02 09:00"), email="d@example.se", reply_channel="email"
    ).ticket
    auth.login("agent2")

    def row() -> str:
        return (
            client.get("/console").get_data(as_text=True).split(f">{ticket.reference}</a>", 1)[1].split("</tr>", 1)[0]
        )

    assert '2026-03-03 09:00 <span class="meta">(första svar)</span>' in row()
    auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "reply", "body": "Svar"})
    assert '2026-03-16 09:00 <span class="meta">(löst)</span>' in row()  # answered: the resolution clock is next
