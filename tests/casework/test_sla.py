"""SLA clocks in working time: due times on the calendar's edge days, pausing, breaches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kontaktcenter.casework.jobs import sla_check
from kontaktcenter.notify.email import OUTBOX_KEY
from kontaktcenter.tickets.models import TicketEvent
from kontaktcenter.tickets.service import add_message
from kontaktcenter.tickets.sla import pause, resume, start_accept_clock
from tests.fixtures.factories import at


@pytest.mark.parametrize(
    ("arrived", "first_response_due", "resolve_due"),
    [
        # An ordinary Monday: one working day, ten working days.
        ("2026-03-02 09:00", "2026-03-03 09:00", "2026-03-16 09:00"),
        # Friday afternoon: over the weekend to Monday.
        ("2026-03-06 15:00", "2026-03-09 15:00", "2026-03-20 15:00"),
        # Saturday counts from 00:00 on Monday.
        ("2026-03-07 10:00", "2026-03-10 00:00", "2026-03-23 00:00"),
        # Thursday before Good Friday: Good Friday and Easter Monday are not working days.
        ("2026-04-02 15:00", "2026-04-07 15:00", "2026-04-20 15:00"),
        # Thursday before midsommarafton (a de facto holiday).
        ("2026-06-18 15:00", "2026-06-22 15:00", "2026-07-03 15:00"),
        # 23 December: julafton, juldagen, annandag jul, nyårsafton, nyårsdagen and trettondedag jul are off.
        ("2026-12-23 11:00", "2026-12-28 11:00", "2027-01-13 11:00"),
    ],
)
def test_due_times_are_counted_in_working_days(make_contact, arrived, first_response_due, resolve_due):
    ticket = make_contact(service="skolval", arrived_at=at(arrived)).ticket
    assert ticket.first_response_due_at == at(first_response_due)
    assert ticket.resolve_due_at == at(resolve_due)


def test_accept_clock_starts_at_escalation(app, session, make_contact):
    ticket = make_contact(service="bygglov", arrived_at=at("2026-04-30 10:00")).ticket
    with app.app_context():
        start_accept_clock(ticket, at("2026-04-30 16:00"))  # Valborg eve is a working day; 1 May is not
    assert ticket.accept_due_at == at("2026-05-04 16:00")


def test_waiting_for_the_citizen_over_a_weekend_moves_the_clocks_by_working_time_only(app, make_contact):
    ticket = make_contact(service="skolval", arrived_at=at("2026-03-06 10:00")).ticket
    assert ticket.first_response_due_at == at("2026-03-09 10:00")
    with app.app_context():
        pause(ticket, at("2026-03-06 12:00"))
        resume(ticket, at("2026-03-09 12:00"))
    # Friday 12–24 and Monday 0–12 are 24 working hours; the weekend does not count.
    assert ticket.first_response_due_at == at("2026-03-10 10:00")
    assert ticket.sla_paused_at is None


def test_waiting_button_pauses_and_resumes_the_clock(client, auth, session, make_contact):
    ticket = make_contact(service="allmant", arrived_at=at("2026-03-02 09:00")).ticket
    due = ticket.first_response_due_at
    auth.login("agent")
    auth.post(f"/tickets/{ticket.reference}/take")
    auth.post(f"/tickets/{ticket.reference}/waiting", {"waiting": "1"})
    session.refresh(ticket)
    assert ticket.status == "waiting_citizen"
    assert ticket.sla_paused_at is not None
    auth.post(f"/tickets/{ticket.reference}/waiting", {"waiting": "0"})
    session.refresh(ticket)
    assert ticket.status == "open"
    assert ticket.sla_paused_at is None
    assert ticket.first_response_due_at >= due


def test_breach_job_flags_once_raises_priority_and_notifies_the_queue(app, session, make_contact):
    ticket = make_contact(service="allmant", arrived_at=at("2026-03-02 09:00")).ticket
    assert ticket.queue.code == "kc-forsta-linjen"
    before = ticket.priority
    outbox = app.extensions.setdefault(OUTBOX_KEY, [])
    outbox.clear()
    with app.app_context():
        sla_check(session, at("2026-03-03 08:59"))
        assert ticket.sla_breached is False  # one minute early
        sla_check(session, at("2026-03-03 09:01"))
        session.commit()
        assert ticket.sla_breached is True
        assert ticket.priority == before + 2
        sla_check(session, at("2026-03-03 09:02"))
    flagged = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "sla_breached")
    ).all()
    assert [(e.to_value, e.detail["clocks"]) for e in flagged] == [("first_response", ["first_response"])]
    recipients = sorted(m["To"] for m in outbox)
    # Everyone in the first-line queue hears about it (agent, agent2 and filial are members).
    assert recipients == sorted(
        ["agent@kontaktcenter.example", "agent2@kontaktcenter.example", "filial@kontaktcenter.example"]
    )
    assert ticket.reference in outbox[0].get_content()


def test_a_replied_ticket_does_not_breach_first_response(app, session, make_contact):
    ticket = make_contact(
        service="allmant", arrived_at=at("2026-03-02 09:00"), email="a@example.se", reply_channel="email"
    ).ticket
    add_message(session, ticket, kind="reply", channel="email", body="Svar", at=at("2026-03-02 10:00"))
    session.commit()
    with app.app_context():
        sla_check(session, at("2026-03-03 09:01"))
    assert ticket.sla_breached is False


def test_a_paused_ticket_does_not_breach(app, session, make_contact):
    ticket = make_contact(service="allmant", arrived_at=at("2026-03-02 09:00")).ticket
    pause(ticket, at("2026-03-02 10:00"))
    session.commit()
    with app.app_context():
        sla_check(session, at("2026-03-03 09:01") + timedelta(days=30))
    assert ticket.sla_breached is False


def test_each_clock_breaches_on_its_own_and_the_department_queue_is_told(app, session, make_contact):
    """Late first response in the first line, then escalated and not accepted in time."""
    from kontaktcenter.casework.escalation import Handover, escalate
    from kontaktcenter.directory.models import Queue, User

    ticket = make_contact(service="bygglov", arrived_at=at("2026-03-02 09:00")).ticket
    outbox = app.extensions.setdefault(OUTBOX_KEY, [])
    outbox.clear()
    with app.app_context():
        sla_check(session, at("2026-03-03 09:01"))
        session.commit()
        assert ticket.sla_breached is True
        agent = session.scalar(select(User).where(User.username == "agent"))
        department = session.scalar(select(Queue).where(Queue.code == "sbk-bygglov"))
        escalate(session, ticket, agent, department, Handover("Vill ändra sin ansökan."), now=at("2026-03-03 10:00"))
        session.commit()
        assert ticket.accept_due_at == at("2026-03-04 10:00")
        outbox.clear()
        sla_check(session, at("2026-03-04 09:59"))
        assert outbox == []  # the first-response breach is not flagged again
        priority = ticket.priority
        sla_check(session, at("2026-03-04 10:01"))
        session.commit()
    clocks = session.scalars(
        select(TicketEvent.to_value)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "sla_breached")
        .order_by(TicketEvent.id)
    ).all()
    assert clocks == ["first_response", "accept"]
    assert ticket.priority == min(9, priority + 2)
    # The department's caseworker hears about it, not the first line.
    assert [m["To"] for m in outbox] == ["bygglov@kontaktcenter.example"]


def test_a_ticket_without_a_service_has_due_times_too(make_contact):
    ticket = make_contact(
        channel="phone", service=None, text="", phone="0701234567", arrived_at=at("2026-03-06 15:00")
    ).ticket
    assert ticket.service is None
    assert ticket.first_response_due_at == at("2026-03-09 15:00")
    assert ticket.resolve_due_at == at("2026-03-20 15:00")


# -- a department's own klämdag -------------------------------------------------------------
# Friday 15 May 2026 (after Ascension Thursday) is a klämdag for Kulturförvaltningen only:
# bibliotekskort is kultur's service, bygglov is sbk's. Both have 1 and 10 working days.


@pytest.fixture
def kultur_klamdag(department_closing_days, service_by_code):
    for code in ("bibliotekskort", "bygglov"):
        service = service_by_code(code)
        assert (service.sla_first_response_days, service.sla_resolve_days) == (1, 10)
    assert (service_by_code("bibliotekskort").department.code, service_by_code("bygglov").department.code) == (
        "kultur",
        "sbk",
    )
    department_closing_days({"kultur": ["2026-05-15"]})


@pytest.mark.usefixtures("kultur_klamdag")
@pytest.mark.parametrize(
    ("service", "first_response_due", "resolve_due"),
    [
        # Thursday is Ascension Day: sbk answers by Friday; ten days end Thursday 28 May.
        ("bygglov", "2026-05-15 10:00", "2026-05-28 10:00"),
        # kultur is closed on Friday too: Monday, and one working day later for resolution.
        ("bibliotekskort", "2026-05-18 10:00", "2026-05-29 10:00"),
    ],
)
def test_a_department_klamdag_moves_only_that_departments_due_times(
    make_contact, service, first_response_due, resolve_due
):
    ticket = make_contact(channel="web", service=service, arrived_at=at("2026-05-13 10:00")).ticket
    assert ticket.first_response_due_at == at(first_response_due)
    assert ticket.resolve_due_at == at(resolve_due)


@pytest.mark.usefixtures("kultur_klamdag")
@pytest.mark.parametrize(
    ("service", "accept_due", "first_response_due_after_waiting"),
    [
        # Escalated on Ascension Day: sbk's clock counts from Friday 00:00, kultur's from Monday 00:00.
        # Waiting Wed 12:00 – Fri 12:00 is 24 working hours for sbk (Wed 12–24, Fri 0–12):
        # Fri 10:00 + 24 h = Mon 10:00; for kultur only Wed 12–24: Mon 10:00 + 12 h = Mon 22:00.
        ("bygglov", "2026-05-18 00:00", "2026-05-18 10:00"),
        ("bibliotekskort", "2026-05-19 00:00", "2026-05-18 22:00"),
    ],
)
def test_accept_clock_and_waiting_time_skip_the_departments_klamdag(
    app, session, make_contact, service, accept_due, first_response_due_after_waiting
):
    ticket = make_contact(channel="web", service=service, arrived_at=at("2026-05-13 10:00")).ticket
    with app.app_context():
        pause(ticket, at("2026-05-13 12:00"))
        resume(ticket, at("2026-05-15 12:00"))
        start_accept_clock(ticket, at("2026-05-14 09:00"))
    assert ticket.first_response_due_at == at(first_response_due_after_waiting)
    assert ticket.accept_due_at == at(accept_due)


def test_a_restricted_ticket_is_kept_not_processed_no_breach(app, session, make_contact):
    ticket = make_contact(service="allmant", arrived_at=at("2026-03-02 09:00")).ticket
    ticket.restriction = "Medborgaren bestrider uppgifternas riktighet"
    session.commit()
    with app.app_context():
        sla_check(session, at("2026-03-03 09:01") + timedelta(days=30))
    assert ticket.sla_breached is False
