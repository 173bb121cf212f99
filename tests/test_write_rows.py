"""database.write_rows: several tables' rows inserted and updated in one statement on
PostgreSQL (one executemany each elsewhere), written as if one by one, failing as they would."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kontaktcenter.database import utcnow, write_rows
from kontaktcenter.tickets.models import Ticket, TicketEvent
from kontaktcenter.tickets.service import event_values

EVENTS, TICKETS = TicketEvent.__table__, Ticket.__table__


def _events(session, ticket_id: int) -> int:
    return session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id))


def test_inserts_and_updates_of_several_tables_are_all_written(session, make_contact):
    first, second = make_contact("web", "allmant").ticket, make_contact("web", "allmant").ticket
    before = _events(session, first.id), _events(session, second.id)
    started = utcnow()
    write_rows(
        session.connection(),
        (
            EVENTS,
            None,
            [
                {"ticket_id": t.id, **event_values("note", at=utcnow(), to_value=v)}
                for t, v in ((first, "1"), (first, "2"), (second, "3"))
            ],
        ),
        (TICKETS, "id", [{"id": first.id, "priority": 1}, {"id": second.id, "priority": 5}]),
        (EVENTS, None, []),  # nothing to write: left out
    )
    assert (_events(session, first.id), _events(session, second.id)) == (before[0] + 2, before[1] + 1)
    priorities = dict(
        session.execute(select(Ticket.id, Ticket.priority).where(Ticket.id.in_([first.id, second.id]))).all()
    )
    assert priorities == {first.id: 1, second.id: 5}
    # An updated ticket is stamped as the ORM would stamp it (its onupdate), not left NULL or as it was.
    stamped = session.scalars(select(Ticket.updated_at).where(Ticket.id.in_([first.id, second.id]))).all()
    assert all(at >= started for at in stamped)
    notes = session.scalars(
        select(TicketEvent.to_value)
        .where(TicketEvent.ticket_id == first.id, TicketEvent.kind == "note")
        .order_by(TicketEvent.id)
    ).all()
    assert notes == ["1", "2"]


def test_a_write_that_fails_raises_as_sqlalchemy_would_and_nothing_of_the_others_stays(session, make_contact):
    ticket = make_contact("web", "allmant").ticket
    session.commit()
    before, priority = _events(session, ticket.id), ticket.priority
    with pytest.raises(IntegrityError):
        write_rows(
            session.connection(),
            (TICKETS, "id", [{"id": ticket.id, "priority": priority + 1}]),
            (EVENTS, None, [{"ticket_id": ticket.id, **event_values("note", at=utcnow())}]),
            (EVENTS, None, [{"ticket_id": 987_654_321, **event_values("note", at=utcnow())}]),  # no such ticket
        )
    session.rollback()
    assert _events(session, ticket.id) == before
    assert session.scalar(select(Ticket.priority).where(Ticket.id == ticket.id)) == priority
