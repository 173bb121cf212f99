"""The data subject's rights on a ticket: rättelse (GDPR art. 16), radering (art. 17) and
begränsning (art. 18). Each needs a reason, is an event on the ticket and a row of the
access log; the caller commits.

- **Rättelse**: a citizen identifier (name, phone, e-mail, personnummer, imported citizen
  key) on every contact of the ticket, validated as at intake; the event holds before →
  after, personnummer and citizen key masked.
- **Radering**: the ticket's personal data emptied as gallring empties it (the same
  statements, `gallring.empty_tickets`), so every figure stays. Refused while a retention
  rule requires keeping it: the ticket is open, held (`retention_hold`), or its service's
  decision keeps the records for the period (`anonymise` services: the records of an
  errand are kept that long; `delete` services' period is only a longest time).
- **Begränsning**: `Ticket.restriction` holds the reason; the ticket is kept but no longer
  listed, searched, queued or drilled into, and no one acts on it until it is lifted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..contacts.citizen import (
    IdentifierError,
    mask_citizen_key,
    mask_personnummer,
    normalise_citizen_key,
    normalise_email,
    normalise_personnummer,
    normalise_phone,
)
from ..database import utcnow
from ..directory.models import User
from ..tickets.access import can_write, log_access
from ..tickets.models import Ticket
from ..tickets.service import TicketError, record_event
from ..worktime.periods import parse_period
from . import gallring

# The data-protection officer and administrators exercise every right.
RIGHTS_ROLES = ("admin", "dataskydd")
# A coordinator corrects identifiers on their own department's tickets (a citizen's new
# number is everyday casework); erasing and restricting stay with RIGHTS_ROLES.
CORRECT_ROLES = (*RIGHTS_ROLES, "coordinator")
FIELDS = ("name", "phone", "email", "personnummer", "citizen_key")
COLUMNS = {
    "name": "citizen_name",
    "phone": "citizen_phone",
    "email": "citizen_email",
    "personnummer": "citizen_personnummer",
    "citizen_key": "citizen_key",
}
MAX_REASON = 300
MAX_NAME = 200


class RightsError(TicketError):
    """A right that cannot be exercised on this ticket now; the message says why (Swedish)."""


def _reason(text: str | None) -> str:
    reason = " ".join((text or "").split())[:MAX_REASON]
    if not reason:
        raise RightsError("Ange skälet (till exempel vem som begärde det och när).")
    return reason


def may_correct(user: User, ticket: Ticket) -> bool:
    return user.role in RIGHTS_ROLES or (user.role == "coordinator" and can_write(user, ticket))


def may_erase_or_restrict(user: User) -> bool:
    return user.role in RIGHTS_ROLES


def _normalise(field: str, raw: str) -> str | None:
    """The value as intake stores it; empty removes the identifier (the name becomes "")."""
    value = (raw or "").strip()
    if field == "name":
        return " ".join(value.split())[:MAX_NAME]
    if not value:
        return None
    try:
        return {
            "phone": normalise_phone,
            "email": normalise_email,
            "personnummer": normalise_personnummer,
            "citizen_key": normalise_citizen_key,
        }[field](value)
    except IdentifierError:
        message = {
            "phone": "Telefonnumret är inte giltigt.",
            "email": "E-postadressen är inte giltig.",
            "personnummer": "Personnumret är inte giltigt.",
            "citizen_key": "Nyckeln från källsystemet får vara högst 128 tecken.",
        }[field]
        raise RightsError(message) from None


def _shown(field: str, value: str | None) -> str:
    """For the event: personnummer and citizen key masked, the rest as stored."""
    if field == "personnummer":
        return mask_personnummer(value)
    if field == "citizen_key":
        return mask_citizen_key(value)
    return value or ""


def correct(session: Session, ticket: Ticket, user: User, field: str, raw: str, reason: str) -> None:
    """Rättelse: set `field` of every contact of the ticket to the new value."""
    if not may_correct(user, ticket):
        raise RightsError("Du får inte rätta uppgifter i det här ärendet.")
    if field not in FIELDS:
        raise RightsError("Välj vilken uppgift som ska rättas.")
    reason = _reason(reason)
    if ticket.gallrad_at is not None:
        raise RightsError("Ärendets personuppgifter är redan raderade.")
    new = _normalise(field, raw)
    column = COLUMNS[field]
    contacts = [c for c in ticket.contacts if (getattr(c, column) or None) != (new or None)]
    if not contacts:
        raise RightsError("Uppgiften har redan det värdet.")
    before = sorted({_shown(field, getattr(c, column)) for c in contacts})
    for contact in contacts:
        setattr(contact, column, new if new is not None else ("" if field == "name" else None))
    record_event(
        session,
        ticket,
        "identifier_corrected",
        actor=user,
        from_value=", ".join(before)[:200],
        to_value=_shown(field, new)[:200],
        field=field,
        reason=reason,
    )
    log_access(session, user, ticket, "rattelse", reason=reason, detail=field)


def erasable(ticket: Ticket, now: datetime) -> str | None:
    """Why the ticket's personal data must be kept now (Swedish), or None when it may be erased."""
    if ticket.gallrad_at is not None:
        return "Ärendets personuppgifter är redan raderade."
    if ticket.is_open:
        return "Ärendet är öppet: det kan raderas först när det är avslutat."
    if ticket.retention_hold:
        return "Ärendet är markerat för bevarande: häv bevarandet först."
    service = ticket.service
    if service is not None and service.retention_action == "anonymise" and ticket.resolved_at is not None:
        # Gallring's own rule: the records go once resolved_at lies the period before now.
        if ticket.resolved_at > parse_period(service.retention_period).before(now):
            return "Tjänstens gallringsbeslut kräver att uppgifterna bevaras hela gallringsfristen efter att ärendet avslutades."
    return None


def erase(session: Session, ticket: Ticket, user: User, reason: str, now: datetime | None = None) -> None:
    """Radering: empty the ticket's personal data as gallring does, keeping every figure."""
    if not may_erase_or_restrict(user):
        raise RightsError("Du får inte radera personuppgifter.")
    reason = _reason(reason)
    now = now or utcnow()
    refusal = erasable(ticket, now)
    if refusal:
        raise RightsError(refusal)
    action = ticket.service.retention_action if ticket.service is not None else "anonymise"
    session.flush()
    gallring.empty_tickets(session, [ticket.id], action, now)
    for contact in ticket.contacts:
        session.expire(contact)
    session.expire(ticket)
    record_event(session, ticket, "erased", actor=user, to_value=action, reason=reason)
    log_access(session, user, ticket, "radering", reason=reason)


def restrict(session: Session, ticket: Ticket, user: User, reason: str) -> None:
    """Begränsning: keep the ticket, out of every list, search, queue and drill-down."""
    if not may_erase_or_restrict(user):
        raise RightsError("Du får inte begränsa behandlingen.")
    reason = _reason(reason)
    if ticket.restricted:
        raise RightsError("Behandlingen av ärendet är redan begränsad.")
    if ticket.gallrad_at is not None:
        raise RightsError("Ärendets personuppgifter är redan raderade.")
    record_event(session, ticket, "restricted", actor=user, to_value=reason)
    ticket.restriction = reason
    log_access(session, user, ticket, "begransning", reason=reason)


def lift_restriction(session: Session, ticket: Ticket, user: User, reason: str) -> None:
    """Lift the restriction (by the same roles), with the reason."""
    if not may_erase_or_restrict(user):
        raise RightsError("Du får inte häva en begränsning.")
    reason = _reason(reason)
    if not ticket.restricted:
        raise RightsError("Behandlingen av ärendet är inte begränsad.")
    record_event(session, ticket, "restriction_lifted", actor=user, from_value=ticket.restriction, to_value=reason)
    ticket.restriction = ""
    log_access(session, user, ticket, "begransning_havd", reason=reason)
