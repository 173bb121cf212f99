"""The feed: notices of what changed, sent after commit, on every backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from sqlalchemy import select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import Queue
from kontaktcenter.live.feed import RESET, Feed, PostgresFeed, RedisFeed, choose_backend, wait_until
from kontaktcenter.live.notices import Notice
from kontaktcenter.tickets.models import Ticket
from tests.fixtures.twilio import call_params, call_sid
from tests.live.conftest import drain

FIRST_LINE = "kc-forsta-linjen"


def _queue(session, code=FIRST_LINE) -> Queue:
    return session.scalar(select(Queue).where(Queue.code == code))


@pytest.fixture
def take(app):
    return lambda sub: drain(sub, app)


def test_a_new_ticket_is_announced_on_its_queue_after_commit(make_contact, session, hub, take):
    sub = hub.subscribe([f"queue:{_queue(session).id}"])
    try:
        received = make_contact("web", "allmant")
        notices = take(sub)
    finally:
        hub.unsubscribe(sub)
    created = [n for n in notices if n.kind == "ticket.created"]
    assert [n.data["ticket"] for n in created] == [received.ticket.id]
    assert created[0].id
    assert created[0].at > 0


def test_nothing_is_sent_for_a_rolled_back_change(session, hub, make_user, take):
    agent = make_user("agent", queues=[FIRST_LINE], presence="available")
    session.commit()
    sub = hub.subscribe(["presence", f"user:{agent.id}"])
    try:
        agent.presence = "away"
        session.flush()
        assert take(sub) == []  # flushed, not committed: nothing yet
        session.rollback()
        assert take(sub) == []
        agent.presence = "away"
        session.commit()
        kinds = [(n.topic, n.kind, n.data) for n in take(sub)]
    finally:
        hub.unsubscribe(sub)
    assert ("presence", "agent.presence", {"user": agent.id, "presence": "away"}) in kinds


def test_notices_carry_no_personal_data(twilio, session, hub, take):
    queue = _queue(session)
    sub = hub.subscribe([f"queue:{queue.id}"])
    caller = "+46701234567"
    try:
        twilio.queue(call_sid(), digits="2", From=caller)
        notices = take(sub)
    finally:
        hub.unsubscribe(sub)
    assert any(n.kind == "call.queued" for n in notices)
    for n in notices:
        text = n.public()
        assert caller not in text
        assert "4670" not in text
        assert set(json.loads(text)) <= {"topic", "kind", "at", "ticket", "contact", "queue", "status"}


def test_a_call_answered_by_an_agent_tells_that_agent(twilio, session, hub, make_user, take):
    agent = make_user("agent", queues=[FIRST_LINE], presence="available")
    session.commit()
    sid = call_sid()
    twilio.queue(sid, digits="2")
    sub = hub.subscribe([f"user:{agent.id}"])
    try:
        twilio.post(f"/twilio/voice/bridge?agent={agent.id}", call_params(sid, QueueTime="42"))
        notices = take(sub)
    finally:
        hub.unsubscribe(sub)
    contact = session.scalar(select(Contact).where(Contact.provider_sid == sid))
    connected = [n for n in notices if n.kind == "call.connected"]
    assert [n.data["contact"] for n in connected] == [contact.id]
    assert any(n.kind == "agent.presence" and n.data["presence"] == "busy" for n in notices)


def test_a_confidential_tickets_notice_names_its_audience(make_contact, session, hub, take):
    sub = hub.subscribe([f"queue:{q.id}" for q in session.scalars(select(Queue))])
    try:
        received = make_contact("web", "forsorjningsstod")
        notices = [n for n in take(sub) if n.kind == "ticket.created"]
    finally:
        hub.unsubscribe(sub)
    ticket = session.get(Ticket, received.ticket.id)
    assert ticket.confidential
    assert notices
    assert all(n.audience is not None for n in notices)
    assert ticket.service.department_id in notices[0].audience.departments


def test_replay_after_a_known_id_and_reset_for_an_unknown_one():
    feed = Feed(replay_size=3)
    feed.publish([Notice("queue:1", "a"), Notice("queue:2", "b"), Notice("queue:1", "c"), Notice("queue:1", "d")])
    recent = list(feed.hub._recent)
    assert [n.kind for n in recent] == ["b", "c", "d"]  # bounded
    assert [n.kind for n in feed.hub.since(recent[0].id, frozenset({"queue:1"}))] == ["c", "d"]
    assert feed.hub.since("0-forgotten", frozenset({"queue:1"})) is None


def test_backend_choice():
    assert choose_backend("auto", "postgresql+psycopg://x/y", "") == "postgres"
    assert choose_backend("auto", "sqlite:///x", "redis://r/4") == "redis"
    assert choose_backend("auto", "sqlite:///x", "") == "memory"
    assert choose_backend("memory", "postgresql+psycopg://x/y", "") == "memory"
    with pytest.raises(ValueError, match="backend"):
        choose_backend("kafka", "sqlite:///x", "")


def test_a_payload_too_big_for_one_notify_is_split():
    from kontaktcenter.live.feed import MAX_PAYLOAD, _batches

    notices = [Notice(f"queue:{i}", "ticket.created", {"ticket": i}, id=f"{i}-x") for i in range(500)]
    batches = list(_batches(notices))
    assert len(batches) > 1
    assert all(len(b) < MAX_PAYLOAD + 200 for b in batches)
    assert sum(len(json.loads(b)) for b in batches) == 500


# -- PostgreSQL LISTEN/NOTIFY, across processes ------------------------------------------

LISTENER = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import create_engine
    from kontaktcenter.live.feed import PostgresFeed
    feed = PostgresFeed(create_engine(sys.argv[1]), sys.argv[2])
    sub = feed.hub.subscribe(["queue:7"])
    feed.start()
    feed.connected.wait(20)
    print("listening", flush=True)
    notice = sub.get(timeout=20)
    print(notice.kind if notice else "nothing", notice.data.get("ticket") if notice else "", flush=True)
    feed.stop()
    """
)


@pytest.mark.postgres
def test_postgres_notify_reaches_a_listener_in_another_process(database_url):
    from sqlalchemy import create_engine

    channel = f"kc_live_test_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(
        [sys.executable, "-c", LISTENER, database_url, channel], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout.readline().strip() == "listening"
        engine = create_engine(database_url)
        publisher = PostgresFeed(engine, channel)
        publisher.publish(
            [Notice("queue:8", "ticket.created", {"ticket": 1}), Notice("queue:7", "ticket.created", {"ticket": 2})]
        )
        line = proc.stdout.readline().strip()
        engine.dispose()
    finally:
        proc.wait(timeout=30)
    assert line == "ticket.created 2"  # the other queue's notice was not for it


@pytest.mark.postgres
def test_postgres_listener_in_this_process_receives_a_commit_from_another_connection(database_url):
    from sqlalchemy import create_engine

    channel = f"kc_live_test_{uuid.uuid4().hex[:8]}"
    engine = create_engine(database_url)
    feed = PostgresFeed(engine, channel)
    sub = feed.hub.subscribe(["presence"])
    feed.start()
    try:
        assert feed.connected.wait(20)
        other = PostgresFeed(create_engine(database_url), channel)  # another pool, another connection
        other.publish([Notice("presence", "agent.presence", {"user": 1, "presence": "away"})])
        notice = sub.get(timeout=10)
        other.stop()
        other.engine.dispose()
    finally:
        feed.stop()
        engine.dispose()
    assert notice is not None
    assert notice.data == {"user": 1, "presence": "away"}


@pytest.mark.postgres
def test_postgres_listener_resets_its_pages_after_losing_the_connection(database_url):
    from sqlalchemy import create_engine, text

    channel = f"kc_live_test_{uuid.uuid4().hex[:8]}"
    engine = create_engine(database_url)
    feed = PostgresFeed(engine, channel)
    sub = feed.hub.subscribe(["presence"])
    feed.start()
    try:
        assert feed.connected.wait(20)
        with engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE :q AND pid <> pg_backend_pid()"
                ),
                {"q": f'LISTEN "{channel}"%'},
            )
        assert wait_until(lambda: not feed.connected.is_set(), 10)
        assert feed.connected.wait(20)
        assert sub.get(timeout=5) is RESET
        PostgresFeed(engine, channel).publish([Notice("presence", "agent.presence", {"user": 2})])
        notice = sub.get(timeout=10)
    finally:
        feed.stop()
        engine.dispose()
    assert notice is not None
    assert notice.data == {"user": 2}


@pytest.mark.postgres
def test_postgres_publisher_whose_connection_the_server_ended_publishes_on_a_new_one(database_url):
    """The publishing connection lives as long as the process: a database restart, or an
    administrator's pg_terminate_backend, must not lose the next committed change's notice."""
    from sqlalchemy import create_engine, text

    channel = f"kc_live_test_{uuid.uuid4().hex[:8]}"
    engine = create_engine(database_url)
    with engine.connect() as conn:  # publishers that earlier tests left open
        others = (
            conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = 'kontaktcenter live publisher'")
            )
            .scalars()
            .all()
        )
    feed = PostgresFeed(engine, channel)
    sub = feed.hub.subscribe(["presence"])
    feed.start()
    publisher = PostgresFeed(engine, channel)
    try:
        assert feed.connected.wait(20)
        publisher.publish([Notice("presence", "agent.presence", {"user": 1})])
        assert sub.get(timeout=10).data == {"user": 1}
        checked_out = engine.pool.checkedout()
        with engine.connect() as conn:
            ended = (
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = 'kontaktcenter live publisher' AND pid <> ALL(:others)"
                    ),
                    {"others": others},
                )
                .scalars()
                .all()
            )
        assert ended == [True]  # the publisher's own connection, outside the pool
        publisher.publish([Notice("presence", "agent.presence", {"user": 2})])
        notice = sub.get(timeout=10)
        assert engine.pool.checkedout() == checked_out
    finally:
        publisher.stop()
        feed.stop()
        engine.dispose()
    assert notice is not None
    assert notice.data == {"user": 2}


# -- Redis pub/sub (db 4) ------------------------------------------------------------------

REDIS_URL = os.environ.get("KC_TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.skipif(not _redis_up(), reason=f"no Redis at {REDIS_URL}")
def test_redis_pubsub_carries_notices_between_feeds():
    channel = f"kc_live_test_{uuid.uuid4().hex[:8]}"
    listening = RedisFeed(REDIS_URL, channel)
    sub = listening.hub.subscribe(["queue:3"])
    listening.start()
    try:
        assert listening.connected.wait(10)
        RedisFeed(REDIS_URL, channel).publish(
            [Notice("queue:3", "call.queued", {"contact": 5, "queue": 3}), Notice("queue:4", "call.queued", {})]
        )
        notice = sub.get(timeout=10)
        extra = sub.get(timeout=0.3)
    finally:
        listening.stop()
    assert notice is not None
    assert notice.kind == "call.queued"
    assert notice.data == {"contact": 5, "queue": 3}
    assert extra is None
