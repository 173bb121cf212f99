"""New tickets for a batch of contacts, written with a few bulk statements (placement.py step 4).

What placement.new_ticket did per contact through the ORM, for many contacts at once in the
caller's transaction: each contact is routed by the rules in force (routing.service.route_contact),
and then, per batch, the reference numbers (one block per year, tickets.references), one
INSERT … RETURNING of the tickets, then the contacts' UPDATE with the INSERTs of the routing
decisions and the ticket events (on PostgreSQL one statement whatever the batch's size:
database.insert_rows, and write_rows for what needs no answer),
their SLA clocks started and the metrics' dirty days marked. Each
ticket is offered to an agent in routing order (routing.service.offer_to_agent's rules); a
queue found without an eligible agent is not asked again within the batch, since agents only
get busier as the batch is written.

The contacts must be independent of each other (no citizen identifier in common: placement
cuts a batch into such runs), so each one's routing sees what routing it alone would see.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from blinker import Namespace
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..contacts.models import Contact
from ..database import as_stored, complete_row, insert_rows, utcnow, write_rows
from ..directory import cache
from ..directory.models import Queue, User
from ..metrics.dirty import mark_new_contacts
from ..routing.engine import Decision
from ..routing.models import RoutingDecision
from ..routing.service import (
    citizen_histories,
    decision_values,
    eligible_agents,
    readable_agent,
    requirements,
    route_contact,
    route_step_due,
    ruleset_in_force,
)
from ..tickets.models import Ticket, TicketEvent
from ..tickets.references import format_reference, next_reference_numbers
from ..tickets.service import event_values, new_receipt_code, reply_address
from ..tickets.sla import calendar, first_clocks
from ..vocabulary import LIVE_CHANNELS

# Sent with the session once a batch's bulk statements have written new tickets, which no
# flush saw: the live pages' notices listen (live/notices.py), so the intake need not know them.
tickets_written = Namespace().signal("tickets-written")
TICKETS = Ticket.__table__
CONTACTS = Contact.__table__
_ASSIGNED = (
    update(TICKETS)
    .where(TICKETS.c.id == bindparam("assigned_ticket_id"))
    .values(
        assignee_id=bindparam("assignee_id"), status="open", route_step_due_at=None, updated_at=bindparam("assigned_at")
    )
)


def write_new_tickets(session: Session, contacts: list[Contact]) -> list[int]:
    """Give each contact (stored, awaiting routing) a new, routed ticket; returns the
    tickets' ids in the contacts' order. The tickets end in the session as written."""
    if not contacts:
        return []
    ruleset = ruleset_in_force(session)
    histories = citizen_histories(session, contacts)
    decisions = [route_contact(session, contact, ruleset, histories[contact]) for contact in contacts]
    queues = _queues(session, decisions)
    now = utcnow()
    cal = calendar()
    references = _references(session, contacts)
    rows = [
        complete_row(Ticket, _ticket_row(contact, decision, queues[decision.queue_code], now, cal, reference))
        for contact, decision, reference in zip(contacts, decisions, references, strict=True)
    ]
    ticket_ids = _insert_tickets(session, rows)
    placed = list(zip(contacts, ticket_ids, decisions, strict=True))
    opened = []
    for (contact, ticket_id, decision), row in zip(placed, rows, strict=True):
        queue = queues[decision.queue_code]
        _as_placed(contact, ticket_id, queue)
        opened.append((_as_written(ticket_id, row, queue, contact), contact))
    # What needs an answer first (the agents); then what is only written, together: one
    # statement on PostgreSQL.
    events = _offer(session, opened, decisions, now)
    connection = session.connection()
    write_rows(
        connection,
        # Each contact gets its ticket and queue and leaves the intake's wait.
        (
            CONTACTS,
            "id",
            [
                {
                    "id": c.id,
                    "ticket_id": t,
                    "queue_id": queues[d.queue_code].id,
                    "placement": "new",
                    "awaiting_routing": False,
                }
                for c, t, d in placed
            ],
        ),
        (
            RoutingDecision.__table__,
            None,
            [{"ticket_id": t, "contact_id": c.id, "decided_at": now, **decision_values(d)} for c, t, d in placed],
        ),
        (TicketEvent.__table__, None, events),
    )
    # Their days and their tickets', once the contacts hold their tickets.
    mark_new_contacts(connection, contacts, [histories[c][0] for c in contacts])
    for ticket, contact in opened:
        # As the statements left it, held by its contact: the caller reads it without a SELECT.
        set_committed_value(contact, "ticket", as_stored(session, ticket))
    tickets_written.send(session, opened=opened, calls=[True] * len(opened))
    return ticket_ids


def _insert_tickets(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the tickets (database.insert_rows); returns their ids in the rows' order,
    found by their references (unique)."""
    ids = dict(insert_rows(session.connection(), TICKETS, rows, TICKETS.c.reference, TICKETS.c.id))
    return [ids[row["reference"]] for row in rows]


def _queues(session: Session, decisions: list[Decision]) -> dict[str, Queue]:
    queues = cache.queues(session, {d.queue_code for d in decisions})
    for decision in decisions:
        if decision.queue_code not in queues:
            raise LookupError(f"rule {decision.rule_id} routes to unknown queue {decision.queue_code}")
    return queues


def _ticket_row(
    contact: Contact, decision: Decision, queue: Queue, now: datetime, cal, reference: str
) -> dict[str, Any]:
    """The new ticket's columns (tickets.service.create_ticket, record_decision, start_clocks)."""
    service = contact.service
    first_response, resolve = first_clocks(service, contact.arrived_at, decision.sla, cal)
    opened_by_reply = contact.reply_channel != "none"
    return {
        "kind": "errand",
        "status": "new",
        "queue_id": queue.id,
        "service_id": service.id if service is not None else None,
        "priority": decision.priority if decision.priority is not None else 3,
        "confidential": bool(service and service.confidential) or queue.confidential,
        "subject": (contact.subject or (contact.text[:80] if contact.text else ""))[:300],
        "first_arrived_at": contact.arrived_at,
        "reference": reference,
        "receipt_code": new_receipt_code(),
        "reply_channel": contact.reply_channel if opened_by_reply else "none",
        "reply_to": reply_address(contact) if opened_by_reply else "",
        "route_step": 0,
        "route_step_due_at": route_step_due(decision, service, now),
        "first_response_due_at": first_response,
        "resolve_due_at": resolve,
        "created_at": now,
        "updated_at": now,
    }


def _references(session: Session, contacts: list[Contact]) -> list[str]:
    """The new tickets' references in the contacts' order: one block of numbers per year of
    arrival (tickets.references; on PostgreSQL taking them locks nothing)."""
    by_year: dict[int, list[int]] = defaultdict(list)
    for index, contact in enumerate(contacts):
        by_year[contact.arrived_at.year].append(index)
    references = [""] * len(contacts)
    for year, indexes in by_year.items():
        for index, number in zip(indexes, next_reference_numbers(session, year, len(indexes)), strict=True):
            references[index] = format_reference(year, number)
    return references


def _as_placed(contact: Contact, ticket_id: int, queue: Queue) -> None:
    """The session's contact as the UPDATE left it (without marking it changed)."""
    for name, value in (
        ("ticket_id", ticket_id),
        ("queue_id", queue.id),
        ("queue", queue),
        ("placement", "new"),
        ("awaiting_routing", False),
    ):
        set_committed_value(contact, name, value)


def _as_written(ticket_id: int, row: dict[str, Any], queue: Queue, contact: Contact) -> Ticket:
    """A picture of the written ticket, for choosing its agent and its notices; it joins the
    session (as_stored) once the batch's statements have written all of it."""
    ticket = Ticket(id=ticket_id, **row)
    for name, value in (("queue", queue), ("service", contact.service), ("contacts", [contact])):
        set_committed_value(ticket, name, value)
    return ticket


def _offer(
    session: Session, opened: list[tuple[Ticket, Contact]], decisions: list[Decision], now: datetime
) -> list[dict[str, Any]]:
    """Offer each new ticket to an agent in turn (routing.service.offer_to_agent); returns
    the tickets' events in order: created, routed, then waiting or assigned."""
    events: list[dict[str, Any]] = []
    nobody: set[tuple[int, Any]] = set()  # (queue, requirements) that found no eligible agent
    for (ticket, contact), decision in zip(opened, decisions, strict=True):
        code = ticket.queue.code
        events.append({"ticket_id": ticket.id, **event_values("created", at=now, to_value=code)})
        events.append(
            {
                "ticket_id": ticket.id,
                **event_values(
                    "routed", at=now, to_value=code, rule=decision.rule_id, version=decision.ruleset_version
                ),
            }
        )
        if contact.channel in LIVE_CHANNELS:
            continue  # calls and visits are taken by whoever answers (offer_to_agent)
        needs = requirements(dict(decision.skills), contact, ticket)
        user = None
        if (ticket.queue_id, needs) not in nobody:
            eligible = eligible_agents(session, ticket, needs)
            if not eligible:
                nobody.add((ticket.queue_id, needs))
            user = readable_agent(session, ticket, eligible)
        if user is None:
            events.append(
                {
                    "ticket_id": ticket.id,
                    **event_values("waiting", at=now, to_value=code, reason="no eligible agent"),
                }
            )
            continue
        events += _assign(session, ticket, user, now)
    return events


def _assign(session: Session, ticket: Ticket, user: User, now: datetime) -> list[dict[str, Any]]:
    """tickets.service.assign by the routing, written at once: the next ticket's choice
    counts this one among the agent's open tickets."""
    session.connection().execute(
        _ASSIGNED, {"assigned_ticket_id": ticket.id, "assignee_id": user.id, "assigned_at": now}
    )
    user.last_assigned_at = utcnow()
    session.flush()  # before the next ticket's choice reads it
    ticket.assignee_id, ticket.status, ticket.route_step_due_at = user.id, "open", None
    return [
        {
            "ticket_id": ticket.id,
            **event_values("assigned", at=now, to_value=user.username, reason="routing"),
        },
        {"ticket_id": ticket.id, **event_values("status", at=now, from_value="new", to_value="open")},
    ]
