"""A ticket's SLA clocks in working time: due times, and the pause while it waits for the citizen.

The clocks belong to the ticket: intake starts them, casework's escalation starts the
accept clock, a status change pauses and resumes them, routing only hands over its
rule's `sla` overrides. Breaches are found and flagged by casework (casework/sla.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import has_app_context

from ..database import utcnow
from ..worktime.calendar import WorkCalendar, current_calendar, department_of
from .models import Ticket

CLOCKS = ("first_response", "accept", "resolve")


def calendar() -> WorkCalendar:
    # Outside an app (a bare script) the national calendar without local closing days.
    return current_calendar() if has_app_context() else WorkCalendar()


def clock_department(ticket: Ticket) -> str | None:
    """Whose closing days the ticket's clocks skip: its service's department (METRICS.md klämdagar)."""
    return department_of(ticket.service)


def sla_days(ticket: Ticket, overrides: Mapping[str, Any] | None = None) -> dict[str, int]:
    """The ticket's SLA targets in working days: its service's (defaults for a ticket
    without one: a call that chose no menu option), overridden by `overrides`, the `sla`
    of the routing rule that placed it."""
    return service_sla_days(ticket.service, overrides)


def service_sla_days(service: Any, overrides: Mapping[str, Any] | None = None) -> dict[str, int]:
    """sla_days of a ticket of `service` (None: no service), before the ticket exists."""
    days = {
        "first_response_days": service.sla_first_response_days if service else 1,
        "accept_days": service.sla_accept_days if service else 1,
        "resolve_days": service.sla_resolve_days if service else 10,
    }
    days.update({k: int(v) for k, v in (overrides or {}).items() if k in days})
    return days


def start_clocks(ticket: Ticket, overrides: Mapping[str, Any] | None = None, cal: WorkCalendar | None = None) -> None:
    """First response and resolution clocks run from the first contact's arrival (sla_days).
    Due times already set are kept."""
    first_response, resolve = first_clocks(ticket.service, ticket.first_arrived_at, overrides, cal)
    if ticket.first_response_due_at is None:
        ticket.first_response_due_at = first_response
    if ticket.resolve_due_at is None:
        ticket.resolve_due_at = resolve


def first_clocks(
    service: Any,
    first_arrived_at: datetime,
    overrides: Mapping[str, Any] | None = None,
    cal: WorkCalendar | None = None,
) -> tuple[datetime, datetime]:
    """A new ticket's (first-response, resolution) due times: the one rule of start_clocks,
    for the intake that writes a batch of tickets at once (intake/new_tickets.py)."""
    cal = cal or calendar()
    days = service_sla_days(service, overrides)
    department = department_of(service)
    return (
        cal.add_working_days(first_arrived_at, days["first_response_days"], department),
        cal.add_working_days(first_arrived_at, days["resolve_days"], department),
    )


def restart_first_response(
    ticket: Ticket, arrived_at: datetime, overrides: Mapping[str, Any] | None = None, cal: WorkCalendar | None = None
) -> None:
    """A reopening contact is a new question: it gets its own first-response clock."""
    cal = cal or calendar()
    days = sla_days(ticket, overrides)["first_response_days"]
    ticket.first_response_due_at = cal.add_working_days(arrived_at, days, clock_department(ticket))


def start_accept_clock(
    ticket: Ticket, escalated_at: datetime, overrides: Mapping[str, Any] | None = None, cal: WorkCalendar | None = None
) -> None:
    days = sla_days(ticket, overrides)["accept_days"]
    ticket.accept_due_at = (cal or calendar()).add_working_days(escalated_at, days, clock_department(ticket))


def pause(ticket: Ticket, at: datetime) -> None:
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = at


def resume(ticket: Ticket, at: datetime, cal: WorkCalendar | None = None) -> None:
    """Move every running clock on by the working time spent waiting for the citizen."""
    if ticket.sla_paused_at is None:
        return
    cal = cal or calendar()
    department = clock_department(ticket)
    waited = cal.working_time_between(ticket.sla_paused_at, at, department)
    if waited.total_seconds() > 0:
        for clock in CLOCKS:
            due = getattr(ticket, f"{clock}_due_at")
            if due is not None:
                setattr(ticket, f"{clock}_due_at", cal.add_working_time(due, waited, department))
    ticket.sla_paused_at = None


def on_status_change(ticket: Ticket, old: str, new: str, at: datetime | None = None) -> None:
    """Called by tickets.service.set_status: the clock stops only while waiting for the citizen."""
    at = at or utcnow()
    if new == "waiting_citizen":
        pause(ticket, at)
    elif old == "waiting_citizen":
        resume(ticket, at)


def next_due(ticket: Ticket) -> tuple[str, datetime] | None:
    """The running clock that falls due first, for lists: (clock, due time).

    Reads the ticket's contacts and messages: load them with the ticket (selectinload).
    """
    if not ticket.is_open or ticket.sla_paused_at is not None:
        return None
    responded = any(m.kind == "reply" and not m.automatic for m in ticket.messages) or any(
        c.answered_at is not None for c in ticket.contacts
    )
    running = {
        "first_response": None if responded else ticket.first_response_due_at,
        "accept": ticket.accept_due_at if ticket.status == "escalated" else None,
        "resolve": ticket.resolve_due_at,
    }
    due = [(at, clock) for clock, at in running.items() if at is not None]
    return (min(due)[1], min(due)[0]) if due else None
