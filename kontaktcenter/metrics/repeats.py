"""Repeat contacts (METRICS.md "Resolution"): the one definition, as SQL.

A repeat contact of a ticket is a later contact from the same citizen (the same
normalised phone number, e-mail address, personnummer or imported citizen_key) on the
ticket's service, arriving after the ticket's resolution and at most 7 days (168 h)
after it, whether or not it joined the ticket. The ticket's citizen is its first
contact's. Contacts without any identifier never repeat.

`repeat_of` is the condition; the engine (a ticket with a repeat is not resolved at the
first contact) and the dirty-day marks (a new contact changes the earlier ticket's day)
both build on it. The indexes (identifier, service_id, arrived_at) make each identifier
one index probe.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, or_, select, union
from sqlalchemy.orm import aliased

from ..contacts.models import Contact
from ..tickets.models import Ticket
from .sqlfuncs import plus_seconds

IDENTIFIERS = ("citizen_phone", "citizen_email", "citizen_personnummer", "citizen_key")
REPEAT_WINDOW_SECONDS = 168 * 3600


def _later(ticket, first, later, identifier: str) -> Any:
    """`later` is a repeat contact of `ticket`, whose first contact is `first`, by `identifier`."""
    return and_(
        getattr(later, identifier) == getattr(first, identifier),
        later.service_id == ticket.service_id,
        later.arrived_at > ticket.resolved_at,
        later.arrived_at <= plus_seconds(ticket.resolved_at, REPEAT_WINDOW_SECONDS),
    )


def _first(ticket, first) -> Any:
    """`first` is the first contact of `ticket` (whose citizen it is)."""
    return and_(first.ticket_id == ticket.id, first.arrived_at == ticket.first_arrived_at)


def repeat_of(ticket, first, later, identifier: str) -> Any:
    """`later` (a Contact alias) is a repeat contact of `ticket`, whose first contact is
    `first`, by `identifier` (a NULL identifier never matches). The four identifiers are
    asked one at a time, each with its own index; a contact repeats if any one matches."""
    return and_(_first(ticket, first), _later(ticket, first, later, identifier))


def has_repeat(ticket) -> Any:
    """SQL: `ticket` (Ticket or an alias) has a repeat contact.

    The first contact is found once (by ticket id); then one index probe per identifier
    it has.
    """
    first = aliased(Contact, name="repeat_first")
    later = aliased(Contact, name="repeat_later")
    probes = [
        and_(
            getattr(first, name).isnot(None),
            exists(select(1).select_from(later).where(_later(ticket, first, later, name)).correlate(ticket, first)),
        )
        for name in IDENTIFIERS
    ]
    return exists(select(1).select_from(first).where(_first(ticket, first), or_(*probes)).correlate(ticket))


def repeated_tickets(contact_condition) -> Any:
    """SELECT of the tickets (id, first_arrived_at, service_id) that the contacts meeting
    `contact_condition` (on Contact) are repeat contacts of: from each contact through its
    citizen's other contacts (the identifier's index) to their tickets."""
    first = aliased(Contact, name="repeat_first")
    ticket = aliased(Ticket, name="repeated")
    return union(
        *(
            select(ticket.id, ticket.first_arrived_at, ticket.service_id)
            .select_from(Contact)
            .join(first, getattr(first, name) == getattr(Contact, name))
            .join(ticket, repeat_of(ticket, first, Contact, name))
            .where(contact_condition)
            for name in IDENTIFIERS
        )
    )
