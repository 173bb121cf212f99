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


def _take_all_at_once(app, engine, agent_ids: list[int]) -> tuple[list[tuple[int, int]], list[Exception]]:
    """Every agent in its own thread and connection presses "take next" until nothing is left."""
    claims: list[tuple[int, int]] = []
    errors: list[Exception] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(agent_ids))

    def work(agent_id: int) -> None:
        try:
            with app.app_context(), Session(engine, expire_on_commit=False) as s:
                barrier.wait()
                while True:
                    agent = s.scalar(select(User).where(User.id == agent_id))  # read first, as a request does
                    ticket = take_next(s, agent)
                    s.commit()
                    if ticket is None:
                        return
                    with lock:
                        claims.append((ticket.id, agent_id))
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in agent_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return claims, errors


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
            User(
                username=f"claim-{tag}-{i}",
                name=f"Agent {i}",
                role="agent",
                password_hash=hash_password("x" * 12),
                department=dept,
                queues=[queue],
            )
            for i in range(agents_n)
        ]
        s.add_all(agents)
        start = datetime(2026, 3, 2, 8, tzinfo=UTC)
        for i in range(tickets_n):
            create_ticket(s, queue=queue, service=None, first_arrived_at=start + timedelta(seconds=i))
        s.commit()
        agent_ids, queue_id = [a.id for a in agents], queue.id

    claims, errors = _take_all_at_once(app, engine, agent_ids)

    try:
        assert errors == []
        counts = Counter(ticket_id for ticket_id, _ in claims)
        assert len(counts) == tickets_n  # every ticket was handed out
        assert max(counts.values()) == 1  # and none twice
        with Session(engine) as s:
            rows = s.execute(select(Ticket.id, Ticket.assignee_id).where(Ticket.queue_id == queue_id)).all()
            events = Counter(
                s.scalars(
                    select(TicketEvent.ticket_id)
                    .join(Ticket)
                    .where(Ticket.queue_id == queue_id, TicketEvent.kind == "assigned")
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


def test_agents_taking_at_once_on_sqlite_get_each_ticket_exactly_once(tmp_path):
    """The embedded default: SQLite serialises the writers; no ticket goes to two agents."""
    from kontaktcenter.app import create_app
    from kontaktcenter.commands import upgrade_database
    from kontaktcenter.directory.service import load_catalogue

    url = f"sqlite:///{tmp_path / 'claims.sqlite3'}"
    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "TESTING": True})
    engine = app.extensions[ENGINE_KEY]
    agents_n, tickets_n = 8, 120
    with app.app_context(), Session(engine, expire_on_commit=False) as s:
        load_catalogue(s)
        queue = s.scalar(select(Queue).where(Queue.code == "kc-forsta-linjen"))
        agents = [
            User(username=f"lite-{i}", name=f"Agent {i}", role="agent", password_hash="x", queues=[queue])
            for i in range(agents_n)
        ]
        s.add_all(agents)
        start = datetime(2026, 3, 2, 8, tzinfo=UTC)
        for i in range(tickets_n):
            create_ticket(s, queue=queue, service=None, first_arrived_at=start + timedelta(seconds=i))
        s.commit()
        agent_ids = [a.id for a in agents]
    claims, errors = _take_all_at_once(app, engine, agent_ids)
    with Session(engine) as s:
        stored = dict(s.execute(select(Ticket.id, Ticket.assignee_id)).all())
    engine.dispose()
    assert errors == []
    assert sorted(t for t, _ in claims) == sorted(stored)  # every ticket handed out once
    assert dict(claims) == stored


@pytest.mark.postgres
def test_take_next_reads_the_head_of_the_claimable_index_instead_of_sorting_the_backlog(app, session):
    """FOR UPDATE … LIMIT 1 cannot use a top-N sort: without the partial index every claim
    sorts every waiting ticket. The statuses are literals, so the index also serves a
    statement psycopg has prepared (a generic plan cannot match a bound parameter)."""
    from sqlalchemy import text

    from kontaktcenter.casework.claims import _pick_and_claim

    picked, _claim = _pick_and_claim()
    statement = select(picked).params(claim_queue_ids=[1, 2])
    as_sent = str(statement.compile(session.get_bind(), compile_kwargs={"render_postcompile": True}))
    assert "tickets.status IN ('new', 'open', 'escalated')" in as_sent  # the queues stay parameters
    sql = str(statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True, "render_postcompile": True}))
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_sort = off"))
    plan = "\n".join(session.execute(text("EXPLAIN " + sql)).scalars())
    assert "ix_tickets_claimable" in plan
    assert "Sort" not in plan
