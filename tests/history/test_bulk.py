"""Bulk inserts for the history import: COPY on PostgreSQL, executemany elsewhere — same rows either way."""

from sqlalchemy import select

from kontaktcenter.directory.models import Queue
from kontaktcenter.history.bulk import insert_rows
from kontaktcenter.tickets.models import Ticket, TicketEvent
from tests.fixtures.factories import at


def test_ids_come_back_in_row_order_and_defaults_and_json_are_kept(session):
    queue_id = session.scalar(select(Queue.id).where(Queue.code == "kc-forsta-linjen"))
    when = at("2026-03-02 09:00")
    rows = [
        {"reference": f"KC-1999-{n:06d}", "queue_id": queue_id, "first_arrived_at": when, "subject": f"rad {n}"}
        for n in range(1, 4)
    ]
    rows[2]["subject"] = "tab\there, new\nline, back\\slash \\N"
    ids = insert_rows(session, Ticket.__table__, rows, return_ids=True)
    insert_rows(
        session, TicketEvent.__table__, [{"ticket_id": ids[1], "at": when, "kind": "imported", "detail": {"k": [1, 2]}}]
    )
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
    assert [tickets[i].reference for i in ids] == ["KC-1999-000001", "KC-1999-000002", "KC-1999-000003"]
    assert [tickets[i].subject for i in ids] == ["rad 1", "rad 2", "tab\there, new\nline, back\\slash \\N"]
    # Columns the rows leave out get the models' defaults, as an ORM insert would give them.
    assert {(t.status, t.priority, t.resolution, t.escalated) for t in tickets.values()} == {
        ("new", 3, "unresolved", False)
    }
    event = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ids[1]))
    assert event.detail == {"k": [1, 2]}
    assert event.at == when
