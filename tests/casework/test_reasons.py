"""The agent's contact reason when resolving or escalating, and knowledge-base use on a ticket."""

from __future__ import annotations

from sqlalchemy import select

from kontaktcenter.casework.models import KnowledgeArticle
from kontaktcenter.directory.models import ContactReason, Queue, Service
from kontaktcenter.tickets.models import TicketEvent

HANDOVER = {"citizen_wants": "Vill ändra sin ansökan om bygglov.", "urgency": "normal"}


def _reason(session, service: str, code: str) -> ContactReason:
    return session.scalar(
        select(ContactReason).join(Service).where(Service.code == service, ContactReason.code == code)
    )


def _queue_id(session, code):
    return session.scalar(select(Queue.id).where(Queue.code == code))


def _flash(client, response) -> str:
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_phone_ticket_needs_a_reason_to_resolve_and_nothing_changes_without(
    client, auth, session, everyone_away, make_contact
):
    ticket = make_contact(channel="phone", service="bygglov", phone="0701234567").ticket
    auth.login("agent")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert "Status på ärende" in page or "status-arende" in page or "Kontaktorsak" in page
    refused = auth.post(f"/tickets/{ticket.reference}/resolve")
    assert "Välj varför medborgaren hörde av sig" in _flash(client, refused)
    session.refresh(ticket)
    assert ticket.status != "resolved"
    assert ticket.contacts[0].reason_id is None

    reason = _reason(session, "bygglov", "status-arende")
    auth.post(f"/tickets/{ticket.reference}/resolve", {"reason": reason.id})
    session.refresh(ticket)
    assert ticket.status == "resolved"
    assert ticket.contacts[0].reason_id == reason.id
    assert (
        session.scalar(
            select(TicketEvent.to_value).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "reason")
        )
        == "status-arende"
    )


def test_written_ticket_resolves_without_a_reason_and_takes_one_if_given(
    client, auth, session, everyone_away, make_contact
):
    plain = make_contact(service="bygglov", email="a@example.se").ticket
    given = make_contact(service="bygglov", email="b@example.se").ticket
    auth.login("agent")
    auth.post(f"/tickets/{plain.reference}/resolve")
    reason = _reason(session, "bygglov", "annat-fel")
    auth.post(f"/tickets/{given.reference}/resolve", {"reason": reason.id})
    session.refresh(plain)
    session.refresh(given)
    assert (plain.status, plain.contacts[0].reason_id) == ("resolved", None)
    assert (given.status, given.contacts[0].reason_id) == ("resolved", reason.id)


def test_a_reason_of_another_service_or_a_retired_one_is_refused(client, auth, session, everyone_away, make_contact):
    ticket = make_contact(channel="phone", service="bygglov", phone="0701234568").ticket
    auth.login("agent")
    foreign = _reason(session, "forsorjningsstod", "annat-varde")
    refused = auth.post(f"/tickets/{ticket.reference}/resolve", {"reason": foreign.id})
    assert "hör inte till ärendets tjänst" in _flash(client, refused)
    retired = _reason(session, "bygglov", "komplettering")
    retired.active = False
    session.commit()
    refused = auth.post(f"/tickets/{ticket.reference}/resolve", {"reason": retired.id})
    assert "används inte längre" in _flash(client, refused)
    session.refresh(ticket)
    assert ticket.status != "resolved"
    assert ticket.contacts[0].reason_id is None


def test_escalating_a_phone_ticket_needs_a_reason_shown_at_the_field(
    client, auth, session, everyone_away, make_contact
):
    ticket = make_contact(channel="phone", service="bygglov", phone="0701234569").ticket
    queue_before = ticket.queue.code
    auth.login("agent")
    form = client.get(f"/tickets/{ticket.reference}/escalate").get_data(as_text=True)
    assert 'name="reason"' in form
    refused = auth.post(
        f"/tickets/{ticket.reference}/escalate", {**HANDOVER, "queue": _queue_id(session, "sbk-bygglov")}
    )
    assert refused.status_code == 400
    assert 'id="reason-error"' in refused.get_data(as_text=True)
    session.refresh(ticket)
    assert (ticket.escalated, ticket.queue.code) == (False, queue_before)

    reason = _reason(session, "bygglov", "behover-bygglov")
    done = auth.post(
        f"/tickets/{ticket.reference}/escalate",
        {**HANDOVER, "queue": _queue_id(session, "sbk-bygglov"), "reason": reason.id},
    )
    assert done.status_code == 302
    session.refresh(ticket)
    assert ticket.escalated
    assert ticket.contacts[0].reason_id == reason.id


def test_using_an_article_records_knowledge_used_and_fills_the_reply(
    client, auth, session, everyone_away, make_contact
):
    article = KnowledgeArticle(
        service=session.scalar(select(Service).where(Service.code == "bibliotekskort")),
        title="Förlorat kort",
        body="Spärra kortet på Mina sidor.",
    )
    session.add(article)
    ticket = make_contact(service="bibliotekskort", text="Jag har tappat mitt kort").ticket
    session.commit()
    auth.login("agent")
    used = auth.post(f"/tickets/{ticket.reference}/kunskap/{article.id}")
    assert used.status_code == 302
    assert f"answer={article.id}" in used.headers["Location"]
    assert "Spärra kortet på Mina sidor.</textarea>" in client.get(used.headers["Location"]).get_data(as_text=True)
    events = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "knowledge_used")
    ).all()
    assert [e.to_value for e in events] == [str(article.id)]
    article.active = False
    session.commit()
    auth.post(f"/tickets/{ticket.reference}/kunskap/{article.id}")
    assert (
        session.scalar(
            select(TicketEvent.id)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "knowledge_used")
            .offset(1)
        )
        is None
    )  # an inactive article is refused, not recorded
