"""Routes with timeouts: a ticket nobody takes moves to its next target, in working time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kontaktcenter.directory.models import Queue
from kontaktcenter.routing.jobs import ESCALATE_JOB
from kontaktcenter.routing.service import escalate_overdue_routes, record_decision, route_contact
from kontaktcenter.scheduling.jobs import discover_jobs, run_once
from kontaktcenter.worktime.calendar import STOCKHOLM
from tests.fixtures.factories import at


@pytest.fixture
def interpreter_contact(make_contact, nobody_available):
    """Routed by the shipped rule `tolkbehov`: kc-flersprakig for 2 h, then the first line."""

    def make(arrived: str):
        return make_contact(
            service="skolval", language="ar", needs=["interpreter"], interpreter_language="ar", arrived_at=at(arrived)
        ).ticket

    return make


def test_an_untaken_ticket_moves_to_the_next_target_after_its_timeout(app, session, interpreter_contact):
    ticket = interpreter_contact("2026-03-03 10:00")
    assert ticket.queue.code == "kc-flersprakig"
    due = ticket.route_step_due_at
    with app.app_context():
        assert escalate_overdue_routes(session, due - timedelta(seconds=1)) == 0
        assert ticket.queue.code == "kc-flersprakig"
        assert escalate_overdue_routes(session, due) == 1
    assert ticket.queue.code == "kc-forsta-linjen"
    assert ticket.route_step == 1
    assert ticket.route_step_due_at is None  # the last target waits as long as it takes
    moved = [e for e in ticket.events if e.kind == "rerouted"]
    assert (moved[0].from_value, moved[0].to_value, moved[0].detail["reason"]) == (
        "kc-flersprakig",
        "kc-forsta-linjen",
        "timeout",
    )
    with app.app_context():
        assert escalate_overdue_routes(session, due + timedelta(days=30)) == 0


def test_the_timeout_counts_working_time_only(app, session, interpreter_contact):
    ticket = interpreter_contact("2026-03-03 10:00")
    contact = ticket.contacts[0]
    with app.app_context():
        decision = route_contact(session, contact)
        # The clock starts when the ticket enters the queue: here Thursday before Good Friday
        # 23:00, one working hour before Easter, and the second on the Tuesday after.
        record_decision(session, ticket, contact, decision, now=at("2026-04-02 23:00"))
    assert ticket.route_step_due_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") == "2026-04-07 01:00"


def test_a_taken_ticket_leaves_its_route(app, session, interpreter_contact, make_user):
    ticket = interpreter_contact("2026-03-03 10:00")
    due = ticket.route_step_due_at
    ticket.assignee = make_user("agent", queues=["kc-flersprakig"])
    session.commit()
    with app.app_context():
        assert escalate_overdue_routes(session, due + timedelta(minutes=1)) == 0
    assert ticket.queue.code == "kc-flersprakig"
    assert ticket.route_step_due_at is None


def test_a_ticket_moved_by_hand_leaves_its_route(app, session, interpreter_contact):
    ticket = interpreter_contact("2026-03-03 10:00")
    due = ticket.route_step_due_at
    ticket.queue = session.scalar(select(Queue).where(Queue.code == "grundskola-antagning"))
    session.commit()
    with app.app_context():
        assert escalate_overdue_routes(session, due + timedelta(minutes=1)) == 0
    assert ticket.queue.code == "grundskola-antagning"


def test_at_the_next_target_the_ticket_is_offered_to_an_agent_there(app, session, interpreter_contact, make_user):
    ticket = interpreter_contact("2026-03-03 10:00")
    arabic_first_line = make_user("agent", queues=["kc-forsta-linjen"], languages=["sv", "ar"], presence="available")
    session.commit()
    with app.app_context():
        assert escalate_overdue_routes(session, ticket.route_step_due_at) == 1
    assert ticket.assignee == arabic_first_line


def test_the_scheduler_runs_the_timeout_check_every_minute(app, session, interpreter_contact):
    job = discover_jobs()[ESCALATE_JOB]
    assert (job.trigger, job.trigger_args) == ("interval", {"minutes": 1})
    ticket = interpreter_contact("2026-03-03 10:00")
    due = ticket.route_step_due_at
    with app.app_context():
        # The first tick after the timeout moves it; a second process on the same tick does nothing.
        assert run_once(session, job, due + timedelta(seconds=30), "worker-a") is True
        assert run_once(session, job, due + timedelta(seconds=30), "worker-b") is False
    session.refresh(ticket)
    assert ticket.queue.code == "kc-forsta-linjen"
    assert [e.to_value for e in ticket.events if e.kind == "rerouted"] == ["kc-forsta-linjen"]


@pytest.mark.parametrize(
    ("service", "due"),
    [
        # Two working hours from Wednesday 13 May 23:00: one that evening, Ascension Day off,
        # the second on Friday for grundskola; kultur's klämdag Friday moves it to Monday.
        ("skolval", "2026-05-15 01:00"),
        ("bibliotekskort", "2026-05-18 01:00"),
    ],
)
def test_the_timeout_skips_the_klamdag_of_the_tickets_department(
    app, session, make_contact, nobody_available, department_closing_days, service, due
):
    department_closing_days({"kultur": ["2026-05-15"]})
    ticket = make_contact(
        service=service,
        language="ar",
        needs=["interpreter"],
        interpreter_language="ar",
        arrived_at=at("2026-05-13 10:00"),
    ).ticket
    assert ticket.queue.code == "kc-flersprakig"
    contact = ticket.contacts[0]
    with app.app_context():
        record_decision(session, ticket, contact, route_contact(session, contact), now=at("2026-05-13 23:00"))
        assert ticket.route_step_due_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") == due
        # The job moves it on in working time too: at the due time, not before.
        assert escalate_overdue_routes(session, at(due) - timedelta(seconds=1)) == 0
        assert escalate_overdue_routes(session, at(due)) == 1
    assert ticket.queue.code == "kc-forsta-linjen"


def test_a_moved_ticket_gets_its_next_timeout_in_its_departments_working_time(
    app, session, make_contact, nobody_available, department_closing_days, rules_dir
):
    # A route of three targets: the second step's hour also skips kultur's klämdag.
    (rules_dir / "05-test.yaml").write_text(
        "- id: tre-steg\n"
        '  when: service == "bibliotekskort"\n'
        "  route_to:\n"
        "    - queue: kc-flersprakig\n"
        "      timeout: 1h\n"
        "    - queue: kc-forsta-linjen\n"
        "      timeout: 1h\n"
        "    - queue: kultur-bibliotek\n",
        encoding="utf-8",
    )
    department_closing_days({"kultur": ["2026-05-15"]})
    ticket = make_contact(service="bibliotekskort", arrived_at=at("2026-05-13 22:30")).ticket
    assert ticket.queue.code == "kc-flersprakig"
    contact = ticket.contacts[0]
    with app.app_context():
        # The route clock starts when the ticket enters the queue: Wednesday 22:30.
        record_decision(session, ticket, contact, route_contact(session, contact), now=at("2026-05-13 22:30"))
        assert escalate_overdue_routes(session, at("2026-05-13 23:30")) == 1
    assert ticket.queue.code == "kc-forsta-linjen"
    # Wednesday 23:30 + 1 working hour: 30 min that evening, 30 min on Monday 18 May.
    assert ticket.route_step_due_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") == "2026-05-18 00:30"


def test_a_restricted_ticket_stays_where_it_is(app, session, interpreter_contact):
    ticket = interpreter_contact("2026-03-03 10:00")
    ticket.restriction = "Medborgaren bestrider uppgifternas riktighet"
    session.commit()
    with app.app_context():
        assert escalate_overdue_routes(session, ticket.route_step_due_at + timedelta(minutes=1)) == 0
    assert ticket.queue.code == "kc-flersprakig"
