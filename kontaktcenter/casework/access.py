"""Who may read a ticket (OSL sekretess), the log of every confidential read, and masking."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..contacts.citizen import mask_personnummer
from ..contacts.models import Contact
from ..database import utcnow
from ..directory.models import User
from ..tickets.models import Ticket
from .models import AccessLog

CASE_ROLES = ("agent", "caseworker", "coordinator", "admin")
# Who reads ordinary tickets: everyone who works with errands.
READER_ROLES = ("agent", "caseworker", "coordinator", "admin", "location_staff")
# Within the owning department, the staff who handle its confidential errands.
DEPARTMENT_READER_ROLES = ("caseworker", "coordinator")


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


def can_read(user: User, ticket: Ticket) -> bool:
    """OSL: a confidential ticket is for its department's staff and the agent who took it."""
    if not getattr(user, "is_authenticated", False) or not user.active:
        return False
    if not ticket.confidential:
        return user.role in READER_ROLES
    if user.role in DEPARTMENT_READER_ROLES and user.department_id in reading_departments(ticket):
        return True
    return user.role in READER_ROLES and took_the_contact(user, ticket)


def log_read(session: Session, user: User, ticket: Ticket, action: str = "read", at: datetime | None = None) -> None:
    """Log a read of a confidential ticket; ordinary tickets are not logged."""
    if ticket.confidential:
        session.add(AccessLog(user_id=user.id, ticket_id=ticket.id, action=action, at=at or utcnow()))


def access_log(session: Session, *, reference: str = "", username: str = "", limit: int = 200, offset: int = 0):
    """The log for administrators, newest first: (AccessLog, ticket reference)."""
    stmt = select(AccessLog, Ticket.reference).join(Ticket, Ticket.id == AccessLog.ticket_id)
    if reference:
        stmt = stmt.where(Ticket.reference == reference.strip().upper())
    if username:
        stmt = stmt.join(User, User.id == AccessLog.user_id).where(User.username == username.strip())
    return session.execute(stmt.order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit).offset(offset)).all()


def citizen_identity(contact: Contact, *, reveal: bool) -> dict[str, str]:
    """The citizen's identifiers for display: personnummer masked unless `reveal`.

    `reveal` is only ever true on the ticket page for a user allowed to read the
    ticket; lists, search results and exports always mask.
    """
    return {
        "name": contact.citizen_name,
        "email": contact.citizen_email or "",
        "phone": contact.citizen_phone or "",
        "personnummer": (contact.citizen_personnummer or "") if reveal else mask_personnummer(contact.citizen_personnummer),
    }
