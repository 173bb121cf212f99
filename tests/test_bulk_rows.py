"""database.insert_rows and update_rows: many rows in one statement on PostgreSQL (one JSON
parameter), an executemany elsewhere; what is written is what the ORM would write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from kontaktcenter.database import ENGINE_KEY, insert_rows, lost_connection, update_rows
from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.tickets.models import Ticket, TicketEvent

DECISIONS = RoutingDecision.__table__
EVENTS = TicketEvent.__table__


def _decision(ticket_id: int, n: int, decided_at: datetime) -> dict:
    return {
        "ticket_id": ticket_id,
        "contact_id": None,
        "rule_id": f"regel-{n}-😀",
        "ruleset_version": "v1",
        "queue_code": "kc-forsta-linjen",
        # JSON of every shape: a list must stay one value, not become an array dimension.
        "attributes": {"text": 'Hej "där" \\ åäö مرحبا 😀\t', "n": n, "none": None},
        "trace": [{"rule": "a", "why": ["x", 1]}, []],
        "targets": [],
        "priority": None if n % 2 else n,
        "skills": {},
        "sla": {"first_response_hours": 8},
        "decided_at": decided_at,
    }


def test_inserted_rows_read_back_as_written_with_their_ids(session, make_contact):
    ticket_id = make_contact("web", "allmant").ticket.id
    at = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))  # not UTC: stored as the instant
    rows = [_decision(ticket_id, n, at) for n in range(3)]
    written = insert_rows(session.connection(), DECISIONS, rows, DECISIONS.c.rule_id, DECISIONS.c.id)
    ids = dict(written)
    assert sorted(ids) == ["regel-0-😀", "regel-1-😀", "regel-2-😀"]
    stored = {
        d.rule_id: d for d in session.scalars(select(RoutingDecision).where(RoutingDecision.id.in_(ids.values())))
    }
    for row in rows:
        decision = stored[row["rule_id"]]
        assert decision.id == ids[row["rule_id"]]
        assert decision.attributes == row["attributes"]
        assert decision.trace == row["trace"]
        assert decision.targets == []
        assert decision.skills == {}
        assert decision.sla == row["sla"]
        assert decision.priority == row["priority"]
        assert decision.decided_at == at.astimezone(UTC)


def test_updated_rows_change_only_the_rows_and_columns_named(session, make_contact):
    first, second, third = (make_contact("web", "allmant").ticket for _ in range(3))
    session.commit()
    later = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    update_rows(
        session.connection(),
        Ticket.__table__,
        "id",
        [
            {"id": first.id, "reference": "KC-2026-990001", "updated_at": later},
            {"id": second.id, "reference": "KC-2026-990002", "updated_at": later},
        ],
    )
    session.expire_all()
    rows = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_([first.id, second.id, third.id])))}
    assert (rows[first.id].reference, rows[first.id].updated_at) == ("KC-2026-990001", later)
    assert (rows[second.id].reference, rows[second.id].updated_at) == ("KC-2026-990002", later)
    assert rows[third.id].updated_at != later
    assert rows[first.id].subject == first.subject  # a column not named stays


def test_rows_that_cannot_be_written_as_given_are_refused_and_nothing_is_written(session, make_contact):
    ticket_id = make_contact("web", "allmant").ticket.id
    session.commit()
    before = session.scalars(select(TicketEvent.id).where(TicketEvent.ticket_id == ticket_id)).all()
    event = {"ticket_id": ticket_id, "at": datetime.now(UTC), "actor_id": None, "kind": "note"}
    with pytest.raises((ValueError, StatementError), match="naive datetime"):  # StatementError: SQLite's, around it
        insert_rows(session.connection(), EVENTS, [{**event, "at": datetime(2026, 1, 1, 9, 0)}])
    # A row with a column more would be written without it.
    with pytest.raises(ValueError, match="different columns"):
        insert_rows(session.connection(), EVENTS, [event, {**event, "to_value": "x"}])
    session.rollback()
    assert session.scalars(select(TicketEvent.id).where(TicketEvent.ticket_id == ticket_id)).all() == before


def test_a_row_the_database_refuses_is_raised_as_sqlalchemy_raises_it(session, make_contact):
    ticket_id = make_contact("web", "allmant").ticket.id
    session.commit()
    event = {"ticket_id": ticket_id + 10_000, "at": datetime.now(UTC), "actor_id": None, "kind": "note"}
    savepoint = session.begin_nested()
    with pytest.raises(IntegrityError):  # no such ticket
        insert_rows(session.connection(), EVENTS, [event])
    savepoint.rollback()
    assert session.scalars(select(TicketEvent.id).where(TicketEvent.ticket_id == ticket_id + 10_000)).all() == []


@pytest.mark.postgres
def test_a_connection_lost_under_the_rows_is_invalidated_as_sqlalchemy_does(app, make_contact, session):
    """What lost_connection reads, so the intake worker rolls back and tries the batch again."""
    ticket_id = make_contact("web", "allmant").ticket.id
    session.commit()
    engine = app.extensions[ENGINE_KEY]
    event = {"ticket_id": ticket_id, "at": datetime.now(UTC), "actor_id": None, "kind": "note"}
    with engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
        with engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as raised:
            insert_rows(connection, EVENTS, [event])
        assert lost_connection(raised.value)
        assert connection.invalidated
