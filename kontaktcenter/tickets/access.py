"""Who may read and write a ticket: the one access rule, and the log of access to personal data.

Every page, action, search, export, drill-down, API and phone screen asks here.

| who | reads | writes (reply, resolve, escalate, take, …) |
|---|---|---|
| first-line agent | tickets in the kontaktcenter's (first-line) queues and in queues they are members of, tickets they took or hold; other non-confidential tickets of a citizen they are serving now (logged) | the tickets they read in their own work, unless assigned to someone else |
| caseworker | their department's tickets (its services, its queues, escalations to it) and their queues'; another department's non-confidential ticket only with a reason (logged) | their department's, unless assigned to someone else |
| coordinator | as a caseworker | their department's, also those assigned to someone else (they redistribute) |
| manager | their department's non-confidential tickets, through the drill-down of their figures (logged) | nothing |
| admin | no ticket content: administration and the access log | nothing |
| location staff | the visits they registered | walk-in registration only |
| dataskydd | no casework: the access log, registerutdrag, rättelse, radering and begränsning (privacy/rights.py, every opening logged) | nothing here |

A confidential ticket (sekretess, OSL) is read only by the owning department's
caseworkers and coordinators and by the agent who took the contact; for everyone else
its very existence is hidden: never listed, linked, counted in a small group or
searchable, and a direct address answers 404. Reading another department's ticket,
every search by personnummer, phone or e-mail, every read of a confidential or restricted ticket,
every API read and every denied attempt are written to the access log (privacy/accesslog.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..contacts.citizen import mask_personnummer
from ..contacts.models import Contact
from ..contacts.models import same_citizen as citizen_conditions
from ..database import utcnow
from ..directory.models import User
from .models import AccessLog, Ticket

CASE_ROLES = ("agent", "caseworker", "coordinator", "admin")
DEPARTMENT_ROLES = ("caseworker", "coordinator")
WRITER_ROLES = ("agent", "caseworker", "coordinator")
# Roles that may read outside their own work when they give a reason (logged).
REASON_ROLES = ("agent", "caseworker", "coordinator")


def _active(user: User) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.active)


def reading_departments(ticket: Ticket) -> set[int]:
    """The department owning the ticket's service and, once escalated, the one whose queue holds it."""
    departments = {ticket.service.department_id} if ticket.service else set()
    if ticket.queue.kind == "department" or not departments:
        departments.add(ticket.queue.department_id)
    return departments


def took_the_contact(user: User, ticket: Ticket) -> bool:
    """The agent who took (answered, registered or first claimed) one of the ticket's contacts."""
    if ticket.taken_by_id == user.id:
        return True
    return any(c.answered_by_id == user.id or c.registered_by_id == user.id for c in ticket.contacts)


def own_work(user: User, ticket: Ticket) -> bool:
    """The ticket belongs to the user's own work (the table above), confidentiality aside."""
    if not _active(user) or user.role == "admin":
        return False
    if ticket.assignee_id == user.id or ticket.taken_by_id == user.id:
        return True
    if user.role in WRITER_ROLES and any(q.id == ticket.queue_id for q in user.queues):
        return True  # a queue they work in
    if user.role == "agent" and ticket.queue.kind == "first_line":
        return True
    # The department owning the service, or running the queue (the kontaktcenter's own first line).
    if user.role in (*DEPARTMENT_ROLES, "manager") and user.department_id in reading_departments(ticket) | {
        ticket.queue.department_id
    }:
        return True
    # Last, as it reads the ticket's contacts: lists ask this of many tickets.
    return took_the_contact(user, ticket)


def can_read(user: User, ticket: Ticket) -> bool:
    """May the user read the ticket as part of their own work (no reason needed)?"""
    if not own_work(user, ticket):
        return False
    if not ticket.confidential:
        return True
    if user.role in DEPARTMENT_ROLES and user.department_id in reading_departments(ticket):
        return True
    return user.role in ("agent", "location_staff") and took_the_contact(user, ticket)


def may_see(user: User, ticket: Ticket) -> bool:
    """May the user know the ticket exists: they may read it, or may ask to with a reason
    (a non-confidential ticket, a role that works with errands)."""
    return can_read(user, ticket) or (_active(user) and not ticket.confidential and user.role in REASON_ROLES)


def can_write(user: User, ticket: Ticket) -> bool:
    """May the user act on the ticket: reply, resolve, escalate, take, link, change its reply address?"""
    # A restricted ticket (begränsning) is only stored: no one acts on it until it is lifted.
    if user.role not in WRITER_ROLES or ticket.restricted or not can_read(user, ticket):
        return False
    return ticket.assignee_id in (None, user.id) or user.role == "coordinator"


def same_citizen(session: Session, ticket: Ticket, other: Ticket) -> bool:
    """Whether a contact of `other` carries a phone, e-mail or personnummer of `ticket`'s contacts."""
    matching = citizen_conditions(*ticket.contacts)
    if not matching:
        return False
    return session.scalar(select(Contact.id).where(Contact.ticket_id == other.id, or_(*matching)).limit(1)) is not None


def serving_now(session: Session, user: User, ticket: Ticket, via: Ticket | None) -> bool:
    """A user serving a citizen on `via` (a ticket they hold or took, not merely one in a
    queue they work) may read the same citizen's other non-confidential tickets."""
    return (
        via is not None
        and not ticket.confidential
        and user.role in REASON_ROLES
        and can_write(user, via)
        and (via.assignee_id == user.id or took_the_contact(user, via))
        and same_citizen(session, via, ticket)
    )


def log_access(
    session: Session,
    user: User | None,
    ticket: Ticket | None,
    action: str = "read",
    *,
    allowed: bool = True,
    reason: str = "",
    detail: str = "",
    at: datetime | None = None,
    api_token_id: int | None = None,
) -> None:
    """One row of the access log: who (a user, or an API token), when, which ticket (if
    any), what, why, allowed or not. `detail` holds what was asked for, identifiers masked."""
    session.add(
        AccessLog(
            user_id=user.id if user is not None else None,
            api_token_id=api_token_id,
            ticket_id=ticket.id if ticket is not None else None,
            action=action[:40],
            allowed=allowed,
            reason=reason[:300],
            detail=detail[:200],
            at=at or utcnow(),
        )
    )


def log_read(session: Session, user: User, ticket: Ticket, action: str = "read", at: datetime | None = None) -> None:
    """Log a read in the user's own work when the ticket is confidential or its processing
    restricted (others are not logged)."""
    if ticket.confidential or ticket.restricted:
        log_access(session, user, ticket, action, at=at)


def citizen_identity(contact: Contact, *, reveal: bool) -> dict[str, str]:
    """The citizen's identifiers for display: personnummer masked unless `reveal`.

    `reveal` is only ever true on the ticket page for a user allowed to read the
    ticket; lists, search results and exports always mask.
    """
    return {
        "name": contact.citizen_name,
        "email": contact.citizen_email or "",
        "phone": contact.citizen_phone or "",
        "personnummer": (contact.citizen_personnummer or "")
        if reveal
        else mask_personnummer(contact.citizen_personnummer),
    }
