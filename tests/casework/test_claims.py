"""Take next: the most urgent ticket to exactly one agent, even with twenty asking at once."""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kontaktcenter.auth.service import hash_password
from kontaktcenter.casework.claims import take, take_next
from kontaktcenter.database import ENGINE_KEY
from kontaktcenter.directory.models import Department, Queue, User
from kontaktcenter.tickets.models import Ticket, TicketEvent
from kontaktcenter.tickets.service import TicketError, create_ticket


def test_take_next_gives_the_most_urgent_then_the_oldest(app, session, everyone_away, make_user, make_contact):
    old = make_contact(service="allmant", arrived_at=datetime(2026, 3, 2, 8, tzinfo=UTC)).ticket
    new = make_contact(service="allmant", arrived_at=datetime(2026, 3, 2, 9, tzinfo=UTC)).ticket
    urgent = make_contact(service="allmant", arrived_at=datetime(2026, 3, 2, 10, tzinfo=UTC)).ticket
    urgent.priority = 8
    session.commit()
    agent = make_user(queues=["kc-forsta-linjen"])
    mine = set()
    with app.app_context():
        first = take_next(session, agent)
        assert first.id == urgent.id
        second = take_next(session, agent)
        assert second.id == old.id
        mine = {first.id, second.id}
    assert urgent.assignee_id == agent.id
    assert urgent.status == "open"
    assert urgent.taken_by_id == agent.id
    assert new.id not in mine


def test_take_next_with_empty_queues_gives_nothing(app, session, make_user):
    agent = make_user(queues=[])
    with app.app_context():
        assert take_next(session, agent) is None


def test_taking_a_ticket_someone_else_has_is_refused(app, session, everyone_away, make_user, make_contact):
    ticket = make_contact(service="allmant").ticket
    a, b = make_user(queues=["kc-forsta-linjen"]), make_user(queues=["kc-forsta-linjen"])
    with app.app_context():
        take(session, ticket, a)
        with pytest.raises(TicketError, match="redan tagits"):
            take(session, ticket, b)
    assert ticket.assignee_id == a.id


def test_take_next_button_opens_the_ticket(client, auth, session, everyone_away, make_contact):
    ticket = make_contact(service="allmant", text="Var hämtar jag sopkärl?").ticket
    ticket.priority = 9
    session.commit()
    auth.login("agent")
    response = auth.post("/console/next")
    assert response.headers["Location"].endswith(f"/tickets/{ticket.reference}")
    session.refresh(ticket)
    assert ticket.assignee.username == "agent"


@pytest.mark.postgres
def test_twenty_agents_taking_at_once_get_each_ticket_exactly_once(app):
    """Real PostgreSQL, real concurrent transactions: SELECT … FOR UPDATE SKIP LOCKED."""
    engine = app.extensions[ENGINE_KEY]
    tag = uuid.uuid4().hex[:8]
    agents_n, tickets_n = 20, 200
    with app.app_context(), Session(engine, expire_on_commit=False) as s:
        dept = s.scalar(select(Department).where(Department.code == "serviceforvaltningen"))
        queue = Queue(code=f"test-claims-{tag}", name_sv="Test", name_en="Test", kind="first_line", department=dept)
        s.add(queue)
        agents = [
            User(username=f"claim-{tag}-{i}", name=f"Agent {i}", role="agent", password_hash=hash_password("x" * 12), department=dept, queues=[queue])
            for i in range(agents_n)
        ]
        s.add_all(agents)
        start = datetime(2026, 3, 2, 8, tzinfo=UTC)
        for i in range(tickets_n):
            create_ticket(s, queue=queue, service=None, first_arrived_at=start + timedelta(seconds=i))
        s.commit()
        agent_ids, queue_id = [a.id for a in agents], queue.id

    claims: list[tuple[int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(agents_n)
    errors = []

    def work(agent_id: int) -> None:
        try:
            with app.app_context(), Session(engine, expire_on_commit=False) as s:
                agent = s.get(User, agent_id)
                barrier.wait()
                while True:
                    ticket = take_next(s, agent)
                    s.commit()
                    if ticket is None:
                        return
                    with lock:
                        claims.append((ticket.id, agent_id))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in agent_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    try:
        assert errors == []
        counts = Counter(ticket_id for ticket_id, _ in claims)
        assert len(counts) == tickets_n  # every ticket was handed out
        assert max(counts.values()) == 1  # and none twice
        with Session(engine) as s:
            rows = s.execute(select(Ticket.id, Ticket.assignee_id).where(Ticket.queue_id == queue_id)).all()
            events = Counter(
                s.scalars(
                    select(TicketEvent.ticket_id).join(Ticket).where(Ticket.queue_id == queue_id, TicketEvent.kind == "assigned")
                )
            )
        assert dict(rows) == dict(claims)  # the database agrees with what each agent was told
        assert set(events.values()) == {1}
        assert len({agent for _, agent in claims}) > 1  # the work was really shared
    finally:
        with Session(engine) as s:
            ids = s.scalars(select(Ticket.id).where(Ticket.queue_id == queue_id)).all()
            s.execute(delete(TicketEvent).where(TicketEvent.ticket_id.in_(ids)))
            s.execute(delete(Ticket).where(Ticket.id.in_(ids)))
            s.execute(delete(User).where(User.id.in_(agent_ids)))
            s.execute(delete(Queue).where(Queue.id == queue_id))
            s.commit()
