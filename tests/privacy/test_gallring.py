"""Gallring: a year of history, `gallring --run` at a fixed now; reports for the past are
byte-identical, nothing past its period holds personal data, kept and open tickets are
untouched, and a second run changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import String, cast, func, insert, literal, select, update

from kontaktcenter.casework.models import Escalation
from kontaktcenter.contacts.models import Contact
from kontaktcenter.demo import generate_history
from kontaktcenter.directory.models import Queue, Service, User
from kontaktcenter.history.write import write_history
from kontaktcenter.metrics.engine import FIGURE_NAMES, ReportQuery, parse_by, records
from kontaktcenter.metrics.exports import to_csv
from kontaktcenter.metrics.report import report
from kontaktcenter.metrics.rollups import compute_rollups
from kontaktcenter.privacy import gallring
from kontaktcenter.privacy.hold import set_hold
from kontaktcenter.privacy.models import GallringRecord
from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.scheduling.jobs import discover_jobs
from kontaktcenter.tickets.models import Message, Ticket, TicketEvent
from kontaktcenter.vocabulary import RETENTION_ACTIONS
from kontaktcenter.worktime.calendar import WorkCalendar
from kontaktcenter.worktime.periods import parse_period

CAL = WorkCalendar()
YEAR_START, YEAR_END = date(2025, 1, 1), date(2025, 12, 31)
NOW = datetime(2026, 7, 1, 1, 25, tzinfo=UTC)  # P6M: closed before 2026-01-01; P1Y: before 2025-07-01
PERSONAL = ("citizen_name", "citizen_phone", "citizen_email", "citizen_personnummer", "subject", "text")


# --- the period parser --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "before"),
    [
        ("P2Y", datetime(2024, 7, 1, 1, 25, tzinfo=UTC)),
        ("P6M", datetime(2026, 1, 1, 1, 25, tzinfo=UTC)),
        ("p18m", datetime(2025, 1, 1, 1, 25, tzinfo=UTC)),
        ("P1Y6M", datetime(2025, 1, 1, 1, 25, tzinfo=UTC)),
        ("P90D", NOW - timedelta(days=90)),
        ("P2W", NOW - timedelta(days=14)),
        ("P1M1D", datetime(2026, 5, 31, 1, 25, tzinfo=UTC)),
    ],
)
def test_period_before(text, before):
    assert parse_period(text).before(NOW) == before


def test_period_clamps_to_month_end():
    assert parse_period("P1M").before(datetime(2026, 3, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert parse_period("P1Y").before(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2027, 2, 28, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "P", "2Y", "P0Y", "PT1M", "P1.5Y", "P1Y2", "P-1Y", "P1D1Y", "1 year"])
def test_period_rejects(text):
    with pytest.raises(ValueError, match="duration|zero"):
        parse_period(text)


def test_catalogue_rules_are_valid(session):
    services = session.scalars(select(Service)).all()
    for s in services:
        parse_period(s.retention_period)
        assert s.retention_action in RETENTION_ACTIONS
    by_code = {s.code: s for s in services}
    assert (by_code["forsorjningsstod"].retention_period, by_code["forsorjningsstod"].retention_action) == (
        "P2Y",
        "anonymise",
    )
    assert (by_code["allmant"].retention_period, by_code["allmant"].retention_action) == ("P6M", "delete")


def test_job_is_registered():
    assert "privacy.gallring" in discover_jobs()


# --- a year of history with personal data --------------------------------------------------


def _year(session) -> dict:
    rows = [r for i, r in enumerate(generate_history(YEAR_END + timedelta(days=1), 365, seed=17)) if i % 20 == 0]
    for row in rows[:2000:100]:  # errands left open for the year: gallring must keep them
        row.resolved_at, row.resolution = None, "unresolved"
    write_history(session, rows)
    c = Contact
    session.execute(
        update(Contact).values(
            citizen_name=literal("Namn ") + cast(c.id, String),
            citizen_phone=literal("+46701") + cast(c.id, String),
            citizen_email=literal("person") + cast(c.id, String) + literal("@example.se"),
            citizen_personnummer=literal("1990") + cast(c.id, String),
            subject="Fråga om mitt ärende",
            text="Jag heter Namn och bor på Storgatan 1.",
            reply_channel="email",
        )
    )
    session.execute(update(Ticket).values(subject="Ämne", reply_to="person@example.se", receipt_code="ABCD2345"))
    tickets = session.execute(select(Ticket.id, Ticket.queue_id, Ticket.escalated, Ticket.first_arrived_at)).all()
    kc = session.scalar(select(Queue.id).where(Queue.code == "kc-forsta-linjen"))
    departments = dict(session.execute(select(Queue.id, Queue.department_id)).all())
    session.execute(
        insert(Message),
        [
            {
                "ticket_id": t.id,
                "kind": "reply",
                "channel": "email",
                "body": "Hej Namn!",
                "recipient": "person@example.se",
                "created_at": t.first_arrived_at,
            }
            for t in tickets
        ],
    )
    session.execute(
        insert(TicketEvent),
        [
            {
                "ticket_id": t.id,
                "at": t.first_arrived_at,
                "kind": "reply_address",
                "from_value": None,
                "to_value": "email: person@example.se",
                "detail": {"reason": "medborgaren bad om det"},
            }
            for t in tickets
        ],
    )
    session.execute(
        insert(RoutingDecision),
        [
            {
                "ticket_id": t.id,
                "rule_id": "r1",
                "ruleset_version": "v1",
                "queue_code": "kc-forsta-linjen",
                "attributes": {"text": "Storgatan 1"},
                "trace": [{"rule": "r1", "text": "Storgatan 1"}],
                "decided_at": t.first_arrived_at,
            }
            for t in tickets
        ],
    )
    session.execute(
        insert(Escalation),
        [
            {
                "ticket_id": t.id,
                "department_id": departments[t.queue_id],
                "from_queue_id": kc,
                "to_queue_id": t.queue_id,
                "citizen_wants": "Namn vill ha pengar",
                "how_to_reach": "+46701234",
                "created_at": t.first_arrived_at,
            }
            for t in tickets
            if t.escalated
        ],
    )
    # Calls dropped in the IVR: a phone number and no ticket.
    for i in range(3):
        arrived = datetime(2025, 2, 3 + i, 9, tzinfo=UTC)
        session.add(
            Contact(
                channel="phone",
                citizen_phone=f"+4670999000{i}",
                arrived_at=arrived,
                started_at=arrived,
                ended_at=arrived + timedelta(seconds=20),
                outcome="ivr_dropped",
                placement=None,
            )
        )
    session.flush()
    # Kept: a closed ticket under a hold (a pending appeal), due by its rule.
    held = session.scalar(
        select(Ticket)
        .join(Service)
        .where(
            Service.code == "forskoleplats",
            Ticket.status == "resolved",
            Ticket.resolved_at < datetime(2025, 5, 1, tzinfo=UTC),
        )
        .order_by(Ticket.id)
        .limit(1)
    )
    set_hold(
        session, held, session.scalar(select(User).where(User.username == "handlaggare")), "Överklagat, väntar på dom"
    )
    session.commit()
    return {"held": held.id}


def _csv(session, *, use_rollups: bool) -> bytes:
    by, period = parse_by("service,period:month")
    query = ReportQuery(YEAR_START, YEAR_END, by=by, period=period, as_of=NOW)
    table = report(session, query, CAL, use_rollups=use_rollups)
    return to_csv([*query.group_columns, *FIGURE_NAMES], records(table))


def _rows(session, model, where=None) -> list[tuple]:
    stmt = select(*model.__table__.columns).order_by(model.__table__.c.id)
    if where is not None:
        stmt = stmt.where(where)
    return [tuple(r) for r in session.execute(stmt)]


def _snapshot(session, ticket_ids=None) -> dict:
    def w(col):
        return col.in_(ticket_ids) if ticket_ids is not None else None

    return {
        "contacts": _rows(session, Contact, w(Contact.ticket_id)),
        "tickets": _rows(session, Ticket, w(Ticket.id)),
        "messages": _rows(session, Message, w(Message.ticket_id)),
        "events": _rows(session, TicketEvent, w(TicketEvent.ticket_id)),
        "escalations": _rows(session, Escalation, w(Escalation.ticket_id)),
        "decisions": _rows(session, RoutingDecision, w(RoutingDecision.ticket_id)),
    }


def test_gallring_over_a_year(session, runner):
    marks = _year(session)
    compute_rollups(session, YEAR_START, YEAR_END, CAL, 5, datetime(2026, 3, 1, tzinfo=UTC))
    session.commit()
    before = {True: _csv(session, use_rollups=True), False: _csv(session, use_rollups=False)}
    assert before[True] == before[False]

    rules = {r.service_id: r for r in gallring.rules(session, NOW)}
    tickets = session.execute(
        select(Ticket.id, Ticket.service_id, Ticket.status, Ticket.resolved_at, Ticket.retention_hold)
    ).all()
    due = [
        t.id
        for t in tickets
        if t.status == "resolved" and t.resolved_at <= rules[t.service_id].cutoff and not t.retention_hold
    ]
    kept = [t.id for t in tickets if t.id not in set(due)]
    assert marks["held"] in kept
    assert len(due) > 500
    assert len(kept) > 500
    assert any(
        t.status != "resolved" and t.first_arrived_at < datetime(2025, 3, 1, tzinfo=UTC)
        for t in session.execute(select(Ticket.status, Ticket.first_arrived_at).where(Ticket.id.in_(kept)))
    )  # open old tickets exist
    kept_before = _snapshot(session, kept)

    dry = runner.invoke(args=["gallring", "--dry-run", "--now", NOW.isoformat()])
    assert dry.exit_code == 0, dry.output
    assert "allmant" in dry.output
    assert "P6M delete" in dry.output
    assert f"{len(due):>8}" in dry.output
    assert session.scalar(select(func.count()).select_from(GallringRecord)) == 0
    assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.gallrad_at.is_not(None))) == 0

    result = runner.invoke(args=["gallring", "--run", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    session.expire_all()

    # Reports for the past period: byte-identical, from the rollups and from the rows.
    assert _csv(session, use_rollups=True) == before[True]
    assert _csv(session, use_rollups=False) == before[False]

    # Nothing past its period holds personal data.
    for contact in session.scalars(select(Contact).where(Contact.ticket_id.in_(due))):
        assert all(getattr(contact, f) in ("", None) for f in PERSONAL), contact.id
    assert (
        session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.outcome == "ivr_dropped", Contact.citizen_phone.is_not(None))
        )
        == 0
    )
    for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(due))):
        assert (ticket.subject, ticket.reply_to, ticket.receipt_code) == ("", "", None)
        assert ticket.gallrad_at == NOW
    for event in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(due))):
        assert event.detail == {}
        if event.kind == "reply_address":
            assert event.to_value is None
    delete_services = {r.service_id for r in rules.values() if r.action == "delete"}
    due_tickets = session.execute(select(Ticket.id, Ticket.service_id).where(Ticket.id.in_(due))).all()
    deleted = [t.id for t in due_tickets if t.service_id in delete_services]
    anonymised = [t.id for t in due_tickets if t.service_id not in delete_services]
    assert deleted
    assert anonymised
    assert session.scalar(select(func.count()).select_from(Message).where(Message.ticket_id.in_(deleted))) == 0
    assert (
        session.scalar(select(func.count()).select_from(RoutingDecision).where(RoutingDecision.ticket_id.in_(deleted)))
        == 0
    )
    assert session.scalar(select(func.count()).select_from(Message).where(Message.ticket_id.in_(anonymised))) == len(
        anonymised
    )
    assert (
        session.scalar(select(func.count()).select_from(Message).where(Message.ticket_id.in_(due), Message.body != ""))
        == 0
    )
    assert (
        session.scalar(
            select(func.count())
            .select_from(Escalation)
            .where(Escalation.ticket_id.in_(due), Escalation.citizen_wants != "")
        )
        == 0
    )
    for decision in session.scalars(select(RoutingDecision).where(RoutingDecision.ticket_id.in_(anonymised))):
        assert (decision.attributes, decision.trace) == ({}, [])
    # The events' kinds and times stay (what figures are made of).
    assert session.scalar(
        select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id.in_(due))
    ) >= 2 * len(due)

    # Kept tickets (open, closed more recently, or held) are untouched, row for row.
    assert _snapshot(session, kept) == kept_before

    # The record: per rule, counts only.
    records_ = session.scalars(select(GallringRecord)).all()
    assert sum(r.tickets for r in records_) == len(due)
    assert {r.service_code for r in records_} >= {"allmant", gallring.NO_SERVICE}
    assert all(r.at == NOW for r in records_)

    # A second run changes nothing (and records nothing).
    everything = _snapshot(session)
    again = runner.invoke(args=["gallring", "--run", "--now", NOW.isoformat()])
    assert again.exit_code == 0, again.output
    session.expire_all()
    assert _snapshot(session) == everything
    assert session.scalar(select(func.count()).select_from(GallringRecord)) == len(records_)
    assert gallring.plan(session, NOW) == []


def test_command_needs_a_mode_and_an_offset(runner):
    assert runner.invoke(args=["gallring"]).exit_code != 0
    assert runner.invoke(args=["gallring", "--run", "--now", "2026-07-01T00:00:00"]).exit_code != 0


def test_bad_rule_stops_everything(session, runner):
    session.execute(update(Service).where(Service.code == "skolval").values(retention_period="ett år"))
    session.commit()
    result = runner.invoke(args=["gallring", "--run", "--now", NOW.isoformat()])
    assert result.exit_code == 1
    assert "skolval" in result.output


def test_scheduled_job_applies_the_rules_once(session, make_contact):
    from kontaktcenter.scheduling.jobs import run_once
    from kontaktcenter.tickets.service import resolve

    received = make_contact(service="allmant", text="Mitt namn är Namn", phone="0701234567", reply_channel="sms")
    ticket = received.ticket
    resolve(session, ticket, actor=None, at=datetime(2025, 11, 3, 10, tzinfo=UTC))
    open_one = make_contact(service="allmant", text="Fortfarande öppet", phone="0707654321").ticket
    session.commit()
    job = discover_jobs()["privacy.gallring"]
    assert run_once(session, job, NOW, worker="a")
    assert not run_once(session, job, NOW, worker="b")  # the same trigger elsewhere: already run
    session.expire_all()
    assert ticket.gallrad_at == NOW
    assert [(c.citizen_phone, c.text) for c in ticket.contacts] == [(None, "")]
    assert open_one.gallrad_at is None
    assert open_one.contacts[0].text == "Fortfarande öppet"


def test_anonymise_pass_before_delete_pass_keeps_its_rows(session, make_contact):
    """The two actions' passes mark tickets at the same now: the delete pass must not reach
    the tickets the anonymise pass just emptied (services sort anonymise-first here)."""
    from kontaktcenter.tickets.service import add_message, resolve

    tickets = {}
    for code in ("avfall", "arbetsmarknad"):  # P1Y delete, P1Y anonymise (a higher id, in the delete pass's range)
        received = make_contact(channel="web", service=code, text="Hej", email="a@example.se", reply_channel="email")
        add_message(session, received.ticket, kind="note", body="Anteckning om Namn")
        resolve(session, received.ticket, actor=None, at=datetime(2025, 1, 10, tzinfo=UTC))
        tickets[code] = received.ticket.id
    session.commit()
    done = gallring.run(session, NOW)
    assert [p.rule.service_code for p in done if p.tickets] == ["arbetsmarknad", "avfall"]
    bodies = session.execute(
        select(Message.ticket_id, Message.body).where(Message.ticket_id.in_(tickets.values()))
    ).all()
    assert [tuple(b) for b in bodies] == [(tickets["arbetsmarknad"], "")]
