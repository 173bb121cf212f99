"""The agent's contact reason (orsakskod) when resolving or escalating a ticket (METRICS.md
"Service development").

The reason is picked from the ticket's service's active reasons. It is required when the
ticket has a phone call or a walk-in visit without a reason yet (the agent spoke with the
citizen and knows why they came), optional otherwise.

Where it is stored: on each of the ticket's contacts that has no reason yet. A contact
keeps the reason it was first given, so a reopened ticket's earlier contacts keep theirs
and only the new contacts take the reason picked at the next resolution; the report
counts reasons per contact (failure_demand is a share of contacts).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..directory.models import ContactReason, User
from ..directory.reasons import active_reasons
from ..tickets.models import Ticket
from ..tickets.service import TicketError, record_event
from ..vocabulary import LIVE_CHANNELS


class ReasonChoiceError(TicketError):
    """A reason that cannot be used for this ticket, or none where one is required."""


def without_reason(ticket: Ticket) -> list:
    return [c for c in ticket.contacts if c.reason_id is None]


def reason_required(ticket: Ticket) -> bool:
    """A call or visit that has no reason yet makes the reason required."""
    return any(c.channel in LIVE_CHANNELS for c in without_reason(ticket))


def reason_choices(session: Session, ticket: Ticket) -> list[ContactReason]:
    return active_reasons(session, ticket.service_id)


def parse_reason_id(raw: object) -> int | None:
    """A form's reason value: an id, or None for "no reason picked"."""
    if raw in (None, "", "0", 0):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ReasonChoiceError("Välj en kontaktorsak i listan.", field="reason") from None


def pick_reason(session: Session, ticket: Ticket, user: User, reason_id: int | None) -> ContactReason | None:
    """Check and store the agent's reason on the ticket's contacts that have none.

    Call it before the resolution or escalation it belongs to: a refusal changes nothing.
    """
    if reason_id is None:
        if reason_required(ticket):
            raise ReasonChoiceError(
                "Välj varför medborgaren hörde av sig (kontaktorsak): det krävs för samtal och besök.",
                field="reason",
            )
        return None
    reason = session.get(ContactReason, reason_id)
    if reason is None or ticket.service_id is None or reason.service_id != ticket.service_id:
        raise ReasonChoiceError("Kontaktorsaken hör inte till ärendets tjänst. Välj en orsak i listan.", field="reason")
    if not reason.active:
        raise ReasonChoiceError("Kontaktorsaken används inte längre. Välj en annan.", field="reason")
    contacts = without_reason(ticket)
    for contact in contacts:
        contact.reason_id = reason.id
    if contacts:
        record_event(session, ticket, "reason", actor=user, to_value=reason.code, contacts=len(contacts))
    return reason
