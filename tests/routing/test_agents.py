"""Agent selection inside a queue: skills, presence, capacity, least loaded, longest idle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kontaktcenter.directory.models import Queue, Service
from kontaktcenter.routing.service import latest_decision, offer_to_agent, select_agent
from kontaktcenter.tickets.service import create_ticket
from tests.fixtures.factories import at

QUEUE = "kultur-bibliotek"  # no demo user works this queue: only the test's agents compete
T0 = at("2026-03-03 10:00")


@pytest.fixture
def ticket_for(make_contact, session):
    """A routed contact whose ticket is then placed, unassigned, in QUEUE."""

    def make(**kw):
        received = make_contact(service=kw.pop("service", "bibliotekskort"), arrived_at=T0, **kw)
        ticket = received.ticket
        ticket.queue = session.scalar(select(Queue).where(Queue.code == QUEUE))
        ticket.assignee = None
        session.flush()
        return ticket, received.contact

    return make


@pytest.fixture
def agent(make_user):
    def make(**kw):
        kw.setdefault("presence", "available")
        return make_user("agent", queues=[QUEUE], **kw)

    return make


def give_open_tickets(session, user, n):
    queue = session.scalar(select(Queue).where(Queue.code == QUEUE))
    for _ in range(n):
        ticket = create_ticket(session, queue=queue, service=None, first_arrived_at=T0)
        ticket.assignee = user
    session.flush()


def test_the_contacts_language_is_required(ticket_for, agent, session):
    agent(languages=["sv"])
    speaker = agent(languages=["sv", "ar"])
    ticket, contact = ticket_for(language="ar")
    assert select_agent(session, ticket, contact) == speaker


def test_interpreter_need_requires_the_interpreter_language(ticket_for, agent, session):
    agent(languages=["sv", "ar"])
    somali = agent(languages=["sv", "so"])
    ticket, contact = ticket_for(language="sv", needs=["interpreter"], interpreter_language="so")
    assert select_agent(session, ticket, contact) == somali


@pytest.mark.parametrize("presence", ["busy", "away", "offline"])
def test_only_available_agents_are_offered_tickets(ticket_for, agent, session, presence):
    agent(presence=presence)
    ticket, contact = ticket_for()
    assert select_agent(session, ticket, contact) is None


def test_an_agent_at_capacity_is_passed_over(ticket_for, agent, session):
    full = agent(max_open_tickets=2)
    give_open_tickets(session, full, 2)
    spare = agent(max_open_tickets=2)
    give_open_tickets(session, spare, 1)
    ticket, contact = ticket_for()
    assert select_agent(session, ticket, contact) == spare


def test_the_least_loaded_agent_wins(ticket_for, agent, session):
    busy = agent()
    give_open_tickets(session, busy, 3)
    lighter = agent()
    give_open_tickets(session, lighter, 1)
    ticket, contact = ticket_for()
    assert select_agent(session, ticket, contact) == lighter


def test_equal_load_goes_to_the_longest_idle(ticket_for, agent, session):
    recent = agent(last_assigned_at=T0 - timedelta(minutes=5))
    idle = agent(last_assigned_at=T0 - timedelta(hours=3))
    ticket, contact = ticket_for()
    assert select_agent(session, ticket, contact) == idle
    never = agent(last_assigned_at=None)
    assert select_agent(session, ticket, contact) == never
    assert recent is not None


def test_agents_outside_the_queue_or_inactive_are_never_chosen(ticket_for, agent, make_user, session):
    make_user("agent", queues=["kc-forsta-linjen"], presence="available")
    agent(active=False)
    ticket, contact = ticket_for()
    assert select_agent(session, ticket, contact) is None


def test_a_confidential_ticket_goes_only_to_someone_who_may_read_it(ticket_for, make_user, session):
    outsider = make_user("agent", queues=[QUEUE], presence="available")
    ticket, contact = ticket_for()
    ticket.confidential = True  # a bibliotekskort ticket belongs to kultur
    assert select_agent(session, ticket, contact) is None
    insider = make_user("caseworker", department="kultur", queues=[QUEUE], presence="available")
    assert select_agent(session, ticket, contact) == insider
    assert outsider != insider


def test_a_rule_can_require_the_service_skill(ticket_for, agent, session):
    generalist = agent()
    specialist = agent()
    specialist.services = [session.scalar(select(Service).where(Service.code == "bibliotekskort"))]
    give_open_tickets(session, specialist, 1)  # more loaded, yet the only one with the skill
    ticket, contact = ticket_for()
    decision = latest_decision(session, ticket)
    assert select_agent(session, ticket, contact) == generalist
    decision.skills = {"language": "contact", "service": True}
    session.flush()
    assert select_agent(session, ticket, contact) == specialist


def test_language_any_lets_every_agent_take_it(ticket_for, agent, session):
    swedish_only = agent(languages=["sv"])
    ticket, contact = ticket_for(language="fa")
    assert select_agent(session, ticket, contact) is None
    latest_decision(session, ticket).skills = {"language": "any", "service": False}
    session.flush()
    assert select_agent(session, ticket, contact) == swedish_only


def test_offering_assigns_with_an_event_and_marks_the_agent_busy_since(ticket_for, agent, session):
    chosen = agent()
    ticket, contact = ticket_for()
    assert offer_to_agent(session, ticket, contact) == chosen
    assert ticket.assignee == chosen
    assert ticket.status == "open"
    assert chosen.last_assigned_at is not None
    event = [e for e in ticket.events if e.kind == "assigned"][-1]
    assert (event.to_value, event.detail["reason"]) == (chosen.username, "routing")
