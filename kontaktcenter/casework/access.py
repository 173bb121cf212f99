"""Who may read a ticket (OSL sekretess), and the log of every confidential read."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..directory.models import User
from ..tickets.models import Ticket
from .models import AccessLog


def can_read(user: User, ticket: Ticket) -> bool:
    if not ticket.confidential:
        return user.role in ("agent", "caseworker", "coordinator", "manager", "admin", "location_staff")
    owning_department = ticket.service.department_id if ticket.service else ticket.queue.department_id
    if user.department_id == owning_department and user.role in ("caseworker", "coordinator"):
        return True
    return ticket.taken_by_id == user.id


def log_read(session: Session, user: User, ticket: Ticket, action: str = "read") -> None:
    if ticket.confidential:
        session.add(AccessLog(user_id=user.id, ticket_id=ticket.id, action=action))
