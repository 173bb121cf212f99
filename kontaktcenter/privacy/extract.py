"""Registerutdrag (GDPR art. 15): everything stored about one person, as data.

The person is found by the identifiers the data-protection officer gives (one or more
of personnummer, phone number, e-mail address, and the citizen key a source system gave
imported history), normalised as intake and the import store them. The
extract holds the contacts carrying one of them, the tickets those contacts belong to,
and everything stored on those tickets: messages, events, routing decisions,
escalations, Open311 details and the access-log rows about them. Identifiers are not
expanded on their own (a phone number found on one contact is not searched for in
turn): a shared family number would pull in someone else's errands; the officer asks
the person for every identifier instead. Free text is included as written, even where
it names a third person (that cannot be detected); staff names are included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..casework.models import Escalation
from ..channels.open311.models import Open311Details
from ..contacts.citizen import (
    IdentifierError,
    mask_identifier,
    normalise_citizen_key,
    normalise_email,
    normalise_personnummer,
    normalise_phone,
)
from ..contacts.models import Contact
from ..database import utcnow
from ..directory.models import Location, Queue, Service, User
from ..errors import DomainError
from ..routing.models import RoutingDecision
from ..tickets.access import log_access
from ..tickets.models import AccessLog, Message, Ticket, TicketEvent
from ..vocabulary import IDENTIFIER_KINDS

# A person is found by the identifiers of the vocabulary and, in a registerutdrag only, by the
# pseudonymous key an imported source system gave them.
KINDS = (*IDENTIFIER_KINDS, "citizen_key")
NORMALISE = {
    "personnummer": normalise_personnummer,
    "phone": normalise_phone,
    "email": normalise_email,
    "citizen_key": normalise_citizen_key,
}
COLUMN = {
    "personnummer": Contact.citizen_personnummer,
    "phone": Contact.citizen_phone,
    "email": Contact.citizen_email,
    "citizen_key": Contact.citizen_key,
}
# The extract's sections in their order, with Swedish and English headings.
SECTIONS = {
    "identifiers": ("Uppgifter som identifierar dig", "Identifiers"),
    "contacts": ("Kontakter", "Contacts"),
    "walk_in_visits": ("Besök", "Walk-in visits"),
    "tickets": ("Ärenden", "Tickets"),
    "messages": ("Meddelanden", "Messages"),
    "events": ("Händelser i ärendena", "Ticket events"),
    "routing_decisions": ("Fördelningsbeslut", "Routing decisions"),
    "escalations": ("Eskaleringar till förvaltning", "Escalations"),
    "open311_details": ("Felanmälningar via Open311", "Open311 details"),
    "access_log": ("Vem som har tagit del av ärendena", "Access to the tickets"),
}


class ExtractError(DomainError, ValueError):
    """The identifiers asked for cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Person:
    """The identifiers asked for, normalised."""

    personnummer: str | None = None
    phone: str | None = None
    email: str | None = None
    citizen_key: str | None = None

    def given(self) -> list[tuple[str, str]]:
        return [(kind, getattr(self, kind)) for kind in KINDS if getattr(self, kind)]

    def masked(self) -> str:
        """For the access log: enough to audit, not to reuse."""
        return ", ".join(mask_identifier(kind, value) for kind, value in self.given())


def person(
    *,
    personnummer: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    citizen_key: str | None = None,
) -> Person:
    """Normalise the given identifiers; at least one is required, each must be valid."""
    raw = {"personnummer": personnummer, "phone": phone, "email": email, "citizen_key": citizen_key}
    values = {}
    for kind, value in raw.items():
        if value and value.strip():
            try:
                values[kind] = NORMALISE[kind](value)
            except IdentifierError as exc:
                raise ExtractError(f"{kind}: {exc}") from None
    if not values:
        raise ExtractError("give a personnummer, a phone number, an e-mail address or a citizen key")
    return Person(**values)


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(obj: Any, **extra: Any) -> dict[str, Any]:
    out = {c.key: _value(getattr(obj, c.key)) for c in obj.__table__.columns}
    return out | extra


def extract(session: Session, who: Person) -> dict[str, Any]:
    """Every row about the person, section by section (SECTIONS), as plain JSON values."""
    contacts = session.scalars(
        select(Contact)
        .where(or_(*(COLUMN[kind] == value for kind, value in who.given())))
        .order_by(Contact.arrived_at, Contact.id)
    ).all()
    ticket_ids = sorted({c.ticket_id for c in contacts if c.ticket_id is not None})
    tickets = session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)).order_by(Ticket.id)).all()
    reference = {t.id: t.reference for t in tickets}
    services = dict(session.execute(select(Service.id, Service.code)).all())
    queues = dict(session.execute(select(Queue.id, Queue.code)).all())
    locations = dict(session.execute(select(Location.id, Location.name)).all())
    users = {u.id: u for u in session.scalars(select(User))}

    def staff(user_id: int | None) -> str | None:
        return users[user_id].name if user_id in users else None

    def of_tickets(model, order):
        return session.scalars(select(model).where(model.ticket_id.in_(ticket_ids)).order_by(*order)).all()

    contact_rows = [
        _row(
            c,
            ticket=reference.get(c.ticket_id),
            service=services.get(c.service_id),
            queue=queues.get(c.queue_id),
            location=locations.get(c.location_id),
            answered_by=staff(c.answered_by_id),
        )
        for c in contacts
    ]
    identifiers: dict[str, list[str]] = {"names": [], "personnummer": [], "phone": [], "email": [], "citizen_key": []}
    for c in contacts:
        for key, value in (
            ("names", c.citizen_name),
            ("personnummer", c.citizen_personnummer),
            ("phone", c.citizen_phone),
            ("email", c.citizen_email),
            ("citizen_key", c.citizen_key),
        ):
            if value and value not in identifiers[key]:
                identifiers[key].append(value)
    access = session.scalars(
        select(AccessLog).where(AccessLog.ticket_id.in_(ticket_ids)).order_by(AccessLog.at, AccessLog.id)
    ).all()
    return {
        "identifiers": identifiers,
        "contacts": contact_rows,
        "walk_in_visits": [r for r in contact_rows if r["channel"] == "walk_in"],
        "tickets": [
            _row(t, service=services.get(t.service_id), queue=queues.get(t.queue_id), assignee=staff(t.assignee_id))
            for t in tickets
        ],
        "messages": [
            _row(m, ticket=reference[m.ticket_id], author=staff(m.author_id))
            for m in of_tickets(Message, (Message.created_at, Message.id))
        ],
        "events": [
            _row(e, ticket=reference[e.ticket_id], actor=staff(e.actor_id))
            for e in of_tickets(TicketEvent, (TicketEvent.id,))
        ],
        "routing_decisions": [
            _row(d, ticket=reference[d.ticket_id])
            for d in of_tickets(RoutingDecision, (RoutingDecision.decided_at, RoutingDecision.id))
        ],
        "escalations": [
            _row(
                e, ticket=reference[e.ticket_id], created_by=staff(e.created_by_id), accepted_by=staff(e.accepted_by_id)
            )
            for e in of_tickets(Escalation, (Escalation.created_at, Escalation.id))
        ],
        "open311_details": [
            _row(d)
            for d in session.scalars(
                select(Open311Details)
                .where(Open311Details.contact_id.in_([c.id for c in contacts]))
                .order_by(Open311Details.id)
            )
        ],
        "access_log": [
            {
                "at": _value(a.at),
                "ticket": reference.get(a.ticket_id),
                "user": staff(a.user_id),
                "role": users[a.user_id].role if a.user_id in users else None,
                "action": a.action,
                "allowed": a.allowed,
                "reason": a.reason,
            }
            for a in access
        ],
    }


def registerutdrag(session: Session, user: User, who: Person) -> dict[str, Any]:
    """The extract, with the request written to the access log (masked identifiers)."""
    data = extract(session, who)
    log_access(session, user, None, "registerutdrag", detail=who.masked())
    return {"generated_at": utcnow().isoformat(), "requested_by": user.name, "asked_for": who.masked(), **data}
