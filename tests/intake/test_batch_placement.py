"""The intake worker's set-based batch against placing the same contacts one by one: for any
mix of contacts (channels, senders, services, replies to open and resolved tickets), the
same tickets, references, decisions, events, clocks and placements are stored."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import utcnow
from kontaktcenter.intake.incoming import ContactError, IncomingContact
from kontaktcenter.intake.receive import accept, receive
from kontaktcenter.intake.worker import route_waiting
from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.tickets import sla
from kontaktcenter.tickets.models import Ticket, TicketEvent
from kontaktcenter.tickets.service import resolve, set_status

PHONES = ["+46701000001", "+46701000002", "+46701000003"]
EMAILS = ["a@example.se", "b@example.se", "c@example.se"]
# First line, a department's specialists when the citizen has an open ticket, confidential.
SERVICES = ["allmant", "bygglov", "skolval", "forsorjningsstod"]
_examples = itertools.count()

# An earlier SMS or e-mail ticket of sender i: open, waiting for the citizen, resolved
# within REOPEN_DAYS, or resolved too long ago to reopen.
earlier = st.lists(
    st.tuples(
        st.sampled_from(["sms", "email"]), st.integers(0, 2), st.sampled_from(["new", "waiting", "recent", "old"])
    ),
    max_size=3,
)
# A waiting contact: channel, sender (3: nobody known), service, minutes after the first.
waiting = st.lists(
    st.tuples(
        st.sampled_from(["web", "sms", "email", "phone"]),
        st.integers(0, 3),
        st.sampled_from(SERVICES),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=8,
)


def _incoming(channel: str, sender: int, service: str, sid: str, arrived) -> IncomingContact:
    phone = PHONES[sender] if sender < 3 else None
    email = EMAILS[sender] if sender < 3 else None
    fields = {
        "sms": {"phone": phone, "reply_channel": "sms" if phone else "none"},
        "email": {"email": email, "reply_channel": "email" if email else "none"},
        "phone": {"phone": phone},
        "web": {"email": email, "phone": phone, "reply_channel": "email" if email else "none"},
    }[channel]
    return IncomingContact(
        channel=channel,
        service_code=service,
        text=f"Fråga {sid}",
        personnummer="19900101-0017" if service == "forsorjningsstod" else None,
        provider_sid=sid,
        arrived_at=arrived,
        **fields,
    )


def _stored(session, tag: str, prior, batch, *, one_by_one: bool, now=None) -> dict:
    """Store the earlier tickets and the waiting contacts, route them, and read back what is stored."""
    savepoint = session.begin_nested()
    try:
        now = now or utcnow().replace(microsecond=0)
        for n, (channel, sender, state) in enumerate(prior):
            received = receive(
                session, _incoming(channel, sender, "allmant", f"{tag}:prior:{n}", now - timedelta(days=12))
            )
            ticket = received.ticket
            if state == "waiting":
                set_status(session, ticket, "waiting_citizen")
            elif state in ("recent", "old"):
                resolve(session, ticket, actor=None, at=now - timedelta(days=1 if state == "recent" else 10))
        session.flush()
        for n, (channel, sender, service, minutes) in enumerate(batch):
            try:
                accept(session, _incoming(channel, sender, service, f"{tag}:{n:02d}", now + timedelta(minutes=minutes)))
            except ContactError:
                continue  # refused alike on both paths
        session.flush()
        if one_by_one:
            while route_waiting(session, limit=1):
                pass
        else:
            route_waiting(session, limit=100)
        session.flush()
        return _normalised(session, tag)
    finally:
        savepoint.rollback()
        session.expire_all()


def _normalised(session, tag: str) -> dict:
    """The rows, with database ids replaced by what identifies them on both paths (the order references were numbered in, provider ids)."""
    session.expire_all()
    contacts = list(session.scalars(select(Contact).where(Contact.provider_sid.like(f"{tag}:%"))))
    sid = {c.id: c.provider_sid for c in contacts}
    tickets = list(session.scalars(select(Ticket).where(Ticket.id.in_({c.ticket_id for c in contacts}))))
    # A reference as its place in the order the tickets were numbered: on PostgreSQL a number
    # taken inside the rolled-back savepoint of the other path is not handed out again.
    numbered = sorted(tickets, key=lambda t: (t.reference[:7], int(t.reference[8:])))
    ref = {t.id: f"#{n}" for n, t in enumerate(numbered)}
    decisions = session.scalars(select(RoutingDecision).where(RoutingDecision.ticket_id.in_(ref)))
    events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(ref)).order_by(TicketEvent.id))
    history: dict[str, list] = {}
    for e in events:
        history.setdefault(ref[e.ticket_id], []).append((e.kind, e.from_value, e.to_value, e.detail, e.actor_id))
    return {
        "contacts": sorted(
            (c.provider_sid, ref.get(c.ticket_id), c.queue_id, c.placement, c.awaiting_routing, c.service_id)
            for c in contacts
        ),
        "tickets": sorted(
            (
                ref[t.id],
                t.queue_id,
                t.service_id,
                t.status,
                t.priority,
                t.confidential,
                t.subject,
                t.first_arrived_at,
                t.first_response_due_at,
                t.resolve_due_at,
                t.resolved_at,
                t.resolution,
                t.reopened_count,
                t.assignee_id,
                t.reply_channel,
                t.reply_to,
                t.route_step,
                t.route_step_due_at is None,
                t.sla_breached,
            )
            for t in tickets
        ),
        "decisions": sorted(
            json.dumps(
                [
                    ref[d.ticket_id],
                    sid.get(d.contact_id),
                    d.rule_id,
                    d.ruleset_version,
                    d.queue_code,
                    d.attributes,
                    d.trace,
                    d.targets,
                    d.priority,
                    d.skills,
                    d.sla,
                ],
                sort_keys=True,
            )
            for d in decisions
        ),
        "events": history,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prior=earlier, batch=waiting)
def test_a_batch_stores_exactly_what_routing_one_by_one_stores(app, session, monkeypatch, prior, batch):
    tag, now = f"batch-{next(_examples)}", utcnow().replace(microsecond=0)
    # A citizen answering resumes the SLA clocks by the time waited until now: the same now on both paths.
    monkeypatch.setattr(sla, "utcnow", lambda: now + timedelta(hours=1))
    with app.app_context():
        batched = _stored(session, tag, prior, batch, one_by_one=False, now=now)
        single = _stored(session, tag, prior, batch, one_by_one=True, now=now)
    for table in batched:
        assert batched[table] == single[table], table
    assert all(not waiting and ticket for _sid, ticket, _q, _p, waiting, _s in batched["contacts"])


def test_two_sms_from_one_number_in_one_batch_share_a_ticket_and_a_reply_reopens_its_ticket(app, session):
    """The cases the comparison above must meet, spelled out: the second SMS joins the ticket
    the first one makes; an SMS to a ticket resolved yesterday reopens it."""
    with app.app_context():
        stored = _stored(
            session,
            "batch-spelled-out",
            [("sms", 1, "recent")],
            [("sms", 0, "allmant", 0), ("sms", 0, "allmant", 1), ("sms", 1, "allmant", 1)],
            one_by_one=False,
        )
    placements = {
        sid.rsplit(":", 1)[1]: (ticket, placement) for sid, ticket, _q, placement, _w, _s in stored["contacts"]
    }
    assert placements["00"][1] == "new"
    assert placements["01"] == (placements["00"][0], "thread")
    assert placements["02"] == (placements["0"][0], "reopen")
    kinds = [kind for kind, *_ in stored["events"][placements["0"][0]]]
    added = kinds.index("contact_added")
    assert kinds[added : added + 3] == ["contact_added", "status", "reopened"]
