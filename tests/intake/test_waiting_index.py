"""The intake worker finds waiting contacts through the partial index, however many are stored."""

import pytest
from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql

from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import utcnow
from kontaktcenter.intake.worker import oldest_waiting, waiting_batch


@pytest.mark.postgres
def test_the_workers_look_for_waiting_contacts_uses_the_partial_index_not_every_stored_contact(session):
    """With "awaiting_routing IS true" PostgreSQL could not use ix_contacts_awaiting_routing
    and read every contact ever stored on each look (a seq scan of 18,555 contacts, 5.5 ms,
    growing with the table, in bench/intake.py's database), several times a second per worker."""
    now = utcnow()
    routed = [{"channel": "web", "arrived_at": now, "created_at": now, "awaiting_routing": False}] * 5000
    session.execute(insert(Contact.__table__), routed)
    session.execute(insert(Contact.__table__), [{**routed[0], "awaiting_routing": True}] * 3)
    session.execute(text("ANALYZE contacts"))
    dialect = postgresql.dialect()
    for statement in (waiting_batch(200, [], locked=True), waiting_batch(200, [1, 2], locked=True)):
        sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(session.execute(text("EXPLAIN " + sql)).scalars())
        assert "ix_contacts_awaiting_routing" in plan, plan
        assert "Seq Scan on contacts" not in plan, plan
    assert oldest_waiting(session) == now
