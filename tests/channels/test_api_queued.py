"""Queued intake (API_INTAKE = "queued"): acknowledged at once with 202, routed by the intake worker."""

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

import kontaktcenter.intake.placement as placement
from kontaktcenter.channels.tokens.models import ApiToken
from kontaktcenter.channels.tokens.service import hash_token
from kontaktcenter.config import ConfigError, load_config
from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import ENGINE_KEY, utcnow
from kontaktcenter.directory.models import Service
from kontaktcenter.intake.commands import GiveWay, HostLoad
from kontaktcenter.intake.incoming import IncomingContact
from kontaktcenter.intake.receive import accept
from kontaktcenter.intake.worker import RoutingBackoff, route_all_waiting, route_waiting
from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.scheduling.jobs import discover_jobs
from kontaktcenter.tickets.models import Ticket
from kontaktcenter.vocabulary import OPEN_STATUSES

CONTACT = {
    "service_code": "bygglov",
    "text": "Behöver jag bygglov för ett staket?",
    "reply_channel": "email",
    "email": "eva@example.se",
}


@pytest.fixture
def queued(app, monkeypatch):
    monkeypatch.setitem(app.config, "API_INTAKE", "queued")


def _post(client, token, body=CONTACT, key=None):
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/contacts", json=body, headers=headers)


def _route(app, session):
    with app.app_context():
        return route_all_waiting(session)


def _waiting(session):
    return session.scalars(select(Contact).where(Contact.awaiting_routing.is_(True)).order_by(Contact.id)).all()


def test_contact_is_stored_and_acknowledged_before_it_is_routed(queued, client, session, make_token):
    token = make_token("contacts:write")
    response = _post(client, token, key="case-1")
    assert response.status_code == 202
    body = response.get_json()
    assert body["id"] == "case-1"
    assert (body["status"], body["ticket"]) == ("received", None)
    assert response.headers["Location"] == "/api/v1/contacts/case-1"
    (contact,) = _waiting(session)
    assert contact.ticket_id is None
    assert (contact.channel, contact.citizen_email, contact.service.code) == ("web", "eva@example.se", "bygglov")

    assert (
        client.get("/api/v1/contacts/case-1", headers={"Authorization": f"Bearer {token}"}).get_json()["status"]
        == "received"
    )


def test_a_contact_sent_without_a_key_whose_quick_store_hid_its_commit_is_stored_once(
    queued, client, session, make_token, monkeypatch
):
    """The one-statement store committed, but its answer was lost (a connection that broke after
    the commit: run again, it finds the key taken and reports nothing stored). The full path then
    stores under the same made-up key, so it finds that contact: one contact, acknowledged."""
    import kontaktcenter.channels.api.views as views

    real = views.accept_at_once

    def stored_but_unanswered(*args, **kw):
        real(*args, **kw)
        return None

    monkeypatch.setattr(views, "accept_at_once", stored_but_unanswered)
    token = make_token("contacts:write")
    before = session.scalar(select(func.count(Contact.id)))
    response = _post(client, token)  # no Idempotency-Key: the server makes one up
    assert response.status_code == 202
    assert session.scalar(select(func.count(Contact.id))) == before + 1
    key = response.get_json()["id"]
    assert session.scalar(select(func.count(Contact.id)).where(Contact.provider_sid.like(f"%:{key}"))) == 1


def test_the_worker_gives_it_the_ticket_direct_intake_would(app, queued, client, session, make_token):
    token = make_token("contacts:write")
    _post(client, token, key="case-2")
    assert _route(app, session) == 1
    assert _waiting(session) == []

    read = client.get("/api/v1/contacts/case-2", headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200
    body = read.get_json()
    assert body["status"] == "routed"
    ticket = session.scalar(select(Ticket).where(Ticket.reference == body["ticket"]["reference"]))
    assert ticket.status in OPEN_STATUSES
    (contact,) = ticket.contacts
    assert contact.queue is ticket.queue is not None
    # The same rules decided, with the decision recorded, and the SLA counts from arrival.
    decision = session.scalar(select(RoutingDecision).where(RoutingDecision.ticket_id == ticket.id))
    assert decision.contact_id == contact.id
    assert decision.queue_code == ticket.queue.code
    assert ticket.first_arrived_at == contact.arrived_at
    assert ticket.first_response_due_at is not None


def test_a_retry_makes_no_second_contact_before_or_after_routing(app, queued, client, session, make_token):
    token = make_token("contacts:write")
    first, again = _post(client, token, key="order-7"), _post(client, token, key="order-7")
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.get_json()["id"] == again.get_json()["id"]
    _route(app, session)
    routed = _post(client, token, key="order-7")
    assert routed.status_code == 200
    assert routed.headers["Location"] == f"/api/v1/tickets/{routed.get_json()['reference']}"
    assert session.scalar(select(func.count(Contact.id)).where(Contact.provider_sid.like("%:order-7"))) == 1


def test_without_a_key_each_post_gets_its_own_id(queued, client, session, make_token):
    token = make_token("contacts:write")
    ids = {_post(client, token).get_json()["id"] for _ in range(2)}
    assert len(ids) == 2
    assert all(uuid.UUID(i) for i in ids)
    assert len(_waiting(session)) == 2


def test_a_token_reads_only_its_own_contacts(queued, client, make_token):
    _post(client, make_token("contacts:write", "system A"), key="shared-key")
    other = client.get(
        "/api/v1/contacts/shared-key", headers={"Authorization": f"Bearer {make_token('contacts:write', 'system B')}"}
    )
    assert other.status_code == 404
    assert other.mimetype == "application/problem+json"
    reader = client.get(
        "/api/v1/contacts/shared-key", headers={"Authorization": f"Bearer {make_token('tickets:read')}"}
    )
    assert reader.status_code == 403


def test_bad_contacts_are_refused_as_in_direct_intake_and_nothing_waits(queued, client, session, make_token):
    response = _post(client, make_token("contacts:write"), {**CONTACT, "service_code": "finns-inte"})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "service"
    assert _waiting(session) == []


def _revoked(session, make_token):
    from kontaktcenter.channels.tokens.service import revoke_token

    raw = make_token("contacts:write")
    revoke_token(session, session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw))))
    session.commit()
    return raw


def _inactive_service(session):
    service = session.scalar(select(Service).where(Service.code == "bygglov"))
    service.active = False
    session.commit()


@pytest.mark.parametrize(
    ("case", "status", "field"),
    [
        ("unknown token", 401, None),
        ("revoked token", 401, None),
        ("wrong scope", 403, None),
        ("inactive service", 422, "service"),
        ("bad e-mail", 422, "email"),
        ("NUL in the text", 422, "text"),
        ("not JSON", 415, None),
    ],
)
def test_the_one_statement_acknowledgement_stores_nothing_it_should_not(
    queued, client, session, make_token, case, status, field
):
    """The usual case is stored by one INSERT … SELECT that checks the token and the service
    itself; everything else falls to the full path, which says what is wrong."""
    token = {"unknown token": "kc_not-a-token", "revoked token": None, "wrong scope": make_token("tickets:read")}.get(
        case
    )
    if case == "revoked token":
        token = _revoked(session, make_token)
    token = token or make_token("contacts:write")
    if case == "inactive service":
        _inactive_service(session)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"}
    if case == "not JSON":
        response = client.post("/api/v1/contacts", data="service_code=bygglov", headers=headers)
    else:
        body = {
            "bad e-mail": {**CONTACT, "email": "inte en adress"},
            "NUL in the text": {**CONTACT, "text": "Hej\x00då"},
        }.get(case, CONTACT)
        response = client.post("/api/v1/contacts", json=body, headers=headers)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    if field:
        assert response.get_json()["errors"][0]["field"] == field
    assert session.scalar(select(func.count(Contact.id)).where(Contact.provider_sid.like("%:k-1"))) == 0


def test_an_acknowledgement_is_one_statement(app, queued, client, session, make_token):
    """No BEGIN, COMMIT or separate token and service reads: the acknowledgement's only
    round trip to the database is the INSERT (the token's use is noted once a minute)."""
    token = make_token("contacts:write")
    _post(client, token, key="warm")  # notes the token's use
    statements = []
    engine = app.extensions[ENGINE_KEY]

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement.split()[0])

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert _post(client, token, key="counted").status_code == 202
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements == ["INSERT"]
    (contact,) = session.scalars(select(Contact).where(Contact.provider_sid.like("%:counted"))).all()
    assert (contact.service.code, contact.awaiting_routing, contact.callback_attempts) == ("bygglov", True, 0)
    assert contact.created_at is not None


def test_worker_routes_oldest_first_and_places_like_direct_intake(app, session, make_contact):
    from kontaktcenter.tickets.service import resolve

    earlier = make_contact(service="bygglov", email="olle@example.se", text="Plank?")
    with app.app_context():
        resolve(session, earlier.ticket, actor=None)
    session.commit()
    with app.app_context():
        again = accept(
            session,
            IncomingContact(
                channel="web", service_code="bygglov", email="olle@example.se", text="En fråga till om planket."
            ),
        )
        new = accept(
            session, IncomingContact(channel="web", service_code="skolval", email="lina@example.se", text="Skolval?")
        )
        session.commit()
        assert route_waiting(session, limit=1) == 1
        assert _waiting(session) == [new.contact]  # the older contact went first
        assert route_all_waiting(session) == 1
    # A typed e-mail address proves nothing: a ticket of its own, the resolved one untouched.
    assert again.contact.ticket is not None
    assert again.contact.ticket is not earlier.ticket
    assert (earlier.ticket.status, earlier.ticket.reopened_count) == ("resolved", 0)
    assert new.contact.ticket is not None
    assert new.contact.ticket is not earlier.ticket


def test_a_contact_that_cannot_be_routed_stays_waiting_and_holds_up_no_one(app, session, monkeypatch, caplog):
    real = placement.write_new_tickets

    def broken_for_one(session, contacts):
        if any(contact.text == "trasig" for contact in contacts):
            raise LookupError("rule routes to unknown queue")
        return real(session, contacts)

    monkeypatch.setattr(placement, "write_new_tickets", broken_for_one)
    with app.app_context():
        stuck = accept(session, IncomingContact(channel="web", service_code="allmant", text="trasig"))
        fine = accept(session, IncomingContact(channel="web", service_code="allmant", text="hel"))
        assert route_all_waiting(session) == 1
    assert fine.contact.ticket is not None
    assert _waiting(session) == [stuck.contact]
    assert "could not be routed" in caplog.text


def test_a_contact_that_cannot_be_routed_rests_before_the_next_try(app, session, monkeypatch, caplog):
    real = placement.write_new_tickets
    broken = {"trasig"}

    def broken_while_listed(session, contacts):
        if any(contact.text in broken for contact in contacts):
            raise LookupError("rule routes to unknown queue")
        return real(session, contacts)

    monkeypatch.setattr(placement, "write_new_tickets", broken_while_listed)
    now = [0.0]
    backoff = RoutingBackoff(first=10, longest=30, clock=lambda: now[0])

    def route_and_log():
        caplog.clear()
        with app.app_context():
            routed = route_all_waiting(session, backoff=backoff)
        return routed, caplog.text

    with app.app_context():
        stuck = accept(session, IncomingContact(channel="web", service_code="allmant", text="trasig"))
        accept(session, IncomingContact(channel="web", service_code="allmant", text="hel"))
    routed, logged = route_and_log()
    assert routed == 1
    assert "tried again in 10 s" in logged
    # While it rests it is left out: the next batch goes through whole, and nothing is logged.
    with app.app_context():
        accept(session, IncomingContact(channel="web", service_code="allmant", text="hel igen"))
    now[0] = 9
    assert route_and_log() == (1, "")
    # After the pause it is tried again; the pause doubles, up to `longest`.
    now[0] = 10
    routed, logged = route_and_log()
    assert routed == 0
    assert "tried again in 20 s" in logged
    now[0] = 29
    assert route_and_log() == (0, "")
    now[0] = 30
    assert "tried again in 30 s" in route_and_log()[1]
    # Once the cause is mended, it is routed at its next try.
    broken.clear()
    now[0] = 60
    assert route_and_log() == (1, "")
    assert stuck.contact.ticket is not None
    assert _waiting(session) == []


def test_intake_worker_command_routes_what_waits(queued, client, session, runner, make_token):
    token = make_token("contacts:write")
    for n in range(3):
        _post(client, token, key=f"cli-{n}")
    # --give-way 1: routing what waits is tested here, not giving way to a busy machine (tested below)
    result = runner.invoke(
        args=["intake-worker", "--seconds", "0.3", "--idle", "0.05", "--nice", "0", "--give-way", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "3 contact(s) routed" in result.output
    assert _waiting(session) == []


def _give_way(busy: list[float], max_delay: float = 120):
    return GiveWay(0.5, timedelta(seconds=max_delay), others=lambda: busy[0])


def test_the_worker_gives_way_while_the_machine_is_busy(app, session):
    busy = [0.8]
    give_way = _give_way(busy)
    with app.app_context():
        waiting = accept(session, IncomingContact(channel="web", service_code="allmant", text="Hej"))
        session.commit()
        assert route_all_waiting(session, give_way=give_way.now) == 0
        assert waiting.contact.awaiting_routing
        busy[0] = 0.2  # the burst is over
        assert route_all_waiting(session, give_way=give_way.now) == 1
    assert waiting.contact.ticket is not None
    assert give_way.waited > 0


def test_the_worker_stops_giving_way_once_the_oldest_contact_has_waited_too_long(app, session):
    with app.app_context():
        accept(
            session,
            IncomingContact(
                channel="web", service_code="allmant", text="Hej", arrived_at=utcnow() - timedelta(seconds=121)
            ),
        )
        session.commit()
        assert route_all_waiting(session, give_way=_give_way([0.9]).now) == 1
        never = GiveWay(1.0, timedelta(seconds=120), others=lambda: 1.0)  # --give-way 1
        accept(session, IncomingContact(channel="web", service_code="allmant", text="Hej igen"))
        session.commit()
        assert route_all_waiting(session, give_way=never.now) == 1


@pytest.mark.skipif(not HostLoad.STAT.exists(), reason="reads Linux's /proc/stat")
def test_host_load_counts_other_processes_not_its_own():
    load = HostLoad()
    burn = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 0.6\nwhile time.time() < end: pass"]
    )
    burn.wait()
    others = load.others()
    # One busy core of this machine's cores, at least most of it.
    assert others > 0.5 / os.cpu_count()
    end = time.monotonic() + 0.6
    while time.monotonic() < end:  # this process's own work does not count
        pass
    assert load.others() < others


def test_scheduler_routes_what_waits_as_a_safety_net(app, session):
    job = discover_jobs()["intake.route_waiting"]
    assert job.trigger == "interval"
    with app.app_context():
        waiting = accept(session, IncomingContact(channel="web", service_code="allmant", text="Hej"))
        job.func(session, None)
    assert waiting.contact.ticket is not None
    assert not waiting.contact.awaiting_routing


@pytest.mark.parametrize(
    "option",
    [
        ["--batch", "0"],
        ["--idle", "-1"],
        ["--nice", "20"],
        ["--give-way", "1.5"],
        ["--max-delay", "-1"],
        ["--seconds", "soon"],
    ],
)
def test_intake_worker_refuses_bad_options_and_routes_nothing(app, session, runner, option):
    with app.app_context():
        accept(session, IncomingContact(channel="web", service_code="allmant", text="Hej"))
    result = runner.invoke(args=["intake-worker", "--nice", "0", *option])
    assert result.exit_code == 2
    assert option[0] in result.output
    assert len(_waiting(session)) == 1


def test_api_intake_setting_is_checked_at_start():
    with pytest.raises(ConfigError, match="API_INTAKE"):
        load_config(environ={}, overrides={"API_INTAKE": "later"})
    assert load_config(environ={"API_INTAKE": "queued"})["API_INTAKE"] == "queued"


def _at_once(app, n, work):
    """Run work(i, session) in n threads, each with its own session; returns the exceptions raised."""
    engine, errors = app.extensions[ENGINE_KEY], []

    def run(i):
        try:
            with app.app_context(), Session(engine, expire_on_commit=False) as s:
                work(i, s)
        except Exception as exc:  # reported to the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


@pytest.mark.postgres
def test_two_workers_route_each_contact_exactly_once(app):
    """Real PostgreSQL, real concurrent workers: FOR UPDATE SKIP LOCKED hands each contact to one."""
    engine = app.extensions[ENGINE_KEY]
    tag = uuid.uuid4().hex[:8]
    with app.app_context(), Session(engine, expire_on_commit=False) as s:
        ids = [
            accept(
                s,
                IncomingContact(
                    channel="web", service_code="allmant", text=f"{tag} {n}", provider_sid=f"test:{tag}:{n}"
                ),
            ).contact.id
            for n in range(60)
        ]
        s.commit()
    routed = Counter()

    def worker(name, s):
        routed[name] = route_all_waiting(s, batch=5)

    errors = _at_once(app, 2, worker)
    try:
        assert errors == []
        assert sum(routed.values()) == 60
        with Session(engine) as s:
            rows = s.execute(select(Contact.ticket_id, Contact.awaiting_routing).where(Contact.id.in_(ids))).all()
            decisions = Counter(
                s.scalars(select(RoutingDecision.contact_id).where(RoutingDecision.contact_id.in_(ids)))
            )
        assert all(ticket_id is not None and not waiting for ticket_id, waiting in rows)
        assert len({ticket_id for ticket_id, _ in rows}) == 60  # one ticket each
        assert set(decisions.values()) == {1}  # routed once each
    finally:
        with Session(engine) as s:
            ticket_ids = s.scalars(select(Contact.ticket_id).where(Contact.id.in_(ids))).all()
            s.execute(delete(Contact).where(Contact.id.in_(ids)))
            s.execute(delete(Ticket).where(Ticket.id.in_([t for t in ticket_ids if t])))
            s.commit()


@pytest.mark.postgres
def test_parallel_duplicates_of_one_contact_store_it_once(app):
    """Eight requests with one Idempotency-Key at once: ON CONFLICT DO NOTHING keeps one, all get it."""
    engine = app.extensions[ENGINE_KEY]
    sid = f"test:{uuid.uuid4().hex}"
    barrier, ids = threading.Barrier(8), []

    def send(_i, s):
        barrier.wait()
        ids.append(
            accept(s, IncomingContact(channel="web", service_code="allmant", text="Hej", provider_sid=sid)).contact.id
        )
        s.commit()

    errors = _at_once(app, 8, send)
    try:
        assert errors == []
        assert len(ids) == 8
        assert len(set(ids)) == 1
    finally:
        with Session(engine) as s:
            s.execute(delete(Contact).where(Contact.provider_sid == sid))
            s.commit()
