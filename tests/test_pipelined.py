"""database.pipelined: statements whose results nobody reads, sent together (PostgreSQL's
pipeline mode), written as if sent one by one, and failing as they would."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from kontaktcenter.database import pipelined, utcnow
from kontaktcenter.tickets.models import Ticket, TicketEvent
from kontaktcenter.tickets.service import event_values

EVENTS = insert(TicketEvent.__table__).inline()


def _events(session, ticket_id: int) -> int:
    return session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id))


def test_statements_in_a_pipeline_are_written_in_order(session, make_contact):
    ticket = make_contact("web", "allmant").ticket
    before = _events(session, ticket.id)
    connection = session.connection()
    with pipelined(session):
        connection.execute(EVENTS, [{"ticket_id": ticket.id, **event_values("note", at=utcnow(), to_value="1")}])
        connection.execute(EVENTS, {"ticket_id": ticket.id, **event_values("note", at=utcnow(), to_value="2")})
        connection.execute(Ticket.__table__.update().where(Ticket.id == ticket.id).values(priority=1))
    assert _events(session, ticket.id) == before + 2
    assert session.scalar(select(Ticket.priority).where(Ticket.id == ticket.id)) == 1
    notes = session.scalars(
        select(TicketEvent.to_value).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "note")
    ).all()
    assert notes == ["1", "2"]


def test_a_statement_that_fails_in_a_pipeline_raises_as_sqlalchemy_would_and_nothing_of_it_stays(session, make_contact):
    ticket = make_contact("web", "allmant").ticket
    session.commit()
    before = _events(session, ticket.id)
    with pytest.raises(IntegrityError):
        _write_a_good_and_a_bad_event(session, ticket.id)
    session.rollback()
    assert _events(session, ticket.id) == before


def _write_a_good_and_a_bad_event(session, ticket_id: int) -> None:
    connection = session.connection()
    with pipelined(session):
        connection.execute(EVENTS, {"ticket_id": ticket_id, **event_values("note", at=utcnow())})
        connection.execute(EVENTS, {"ticket_id": 987_654_321, **event_values("note", at=utcnow())})  # no such ticket
