"""The retention hold: a logged staff action with a reason, only on a ticket of one's own work."""

from __future__ import annotations

from sqlalchemy import select

from kontaktcenter.tickets.models import TicketEvent


def _ticket(make_contact):
    received = make_contact(
        service="forsorjningsstod", text="Jag behöver hjälp med hyran.", personnummer="19900101-0017"
    )
    return received.ticket


def test_caseworker_holds_and_releases_with_a_reason(client, auth, session, make_contact):
    ticket = _ticket(make_contact)
    auth.login("handlaggare")
    assert auth.post(f"/tickets/{ticket.reference}/bevara", {"reason": "  "}).status_code == 302
    session.refresh(ticket)
    assert ticket.retention_hold == ""  # no reason, no hold

    assert auth.post(f"/tickets/{ticket.reference}/bevara", {"reason": "Överklagat beslut"}).status_code == 302
    session.refresh(ticket)
    assert ticket.retention_hold == "Överklagat beslut"
    event = session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "retention_hold")
    )
    assert event.to_value == "Överklagat beslut"
    assert event.actor.username == "handlaggare"

    assert (
        auth.post(
            f"/tickets/{ticket.reference}/bevara", {"reason": "Domen har vunnit laga kraft", "release": "1"}
        ).status_code
        == 302
    )
    session.refresh(ticket)
    assert ticket.retention_hold == ""
    kinds = session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)).all()
    assert "retention_released" in kinds


def test_others_may_not_hold(client, auth, session, make_contact):
    ticket = _ticket(make_contact)
    auth.login("agent")  # an agent: not a hold role
    assert auth.post(f"/tickets/{ticket.reference}/bevara", {"reason": "x"}).status_code == 403
    auth.logout()
    auth.login("bygglov")  # a caseworker of another department: the ticket's existence is hidden
    assert auth.post(f"/tickets/{ticket.reference}/bevara", {"reason": "x"}).status_code == 404
    session.refresh(ticket)
    assert ticket.retention_hold == ""


def test_ticket_page_offers_the_hold_to_caseworkers(client, auth, session, make_contact):
    ticket = _ticket(make_contact)
    auth.login("handlaggare")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert f"/tickets/{ticket.reference}/bevara" in page
