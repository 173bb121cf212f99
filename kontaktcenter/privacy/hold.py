"""The retention hold: staff keep a closed ticket's personal data past its gallring date
(a pending appeal, a complaint, a request for records), always with a reason and an event."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..directory.models import User
from ..tickets.models import Ticket
from ..tickets.service import TicketError, record_event

HOLD_ROLES = ("caseworker", "coordinator")
MAX_REASON = 300


def set_hold(session: Session, ticket: Ticket, user: User, reason: str) -> None:
    """Keep the ticket from gallring; the reason is required and goes in the event."""
    reason = " ".join((reason or "").split())[:MAX_REASON]
    if not reason:
        raise TicketError("Ange varför ärendet ska bevaras.")
    if ticket.gallrad_at is not None:
        raise TicketError("Ärendet är redan gallrat.")
    record_event(
        session, ticket, "retention_hold", actor=user, from_value=ticket.retention_hold or None, to_value=reason
    )
    ticket.retention_hold = reason


def release_hold(session: Session, ticket: Ticket, user: User, reason: str) -> None:
    """Let gallring take the ticket again (from its next run on), with the reason."""
    reason = " ".join((reason or "").split())[:MAX_REASON]
    if not ticket.retention_hold:
        raise TicketError("Ärendet är inte markerat för bevarande.")
    if not reason:
        raise TicketError("Ange varför bevarandet hävs.")
    record_event(session, ticket, "retention_released", actor=user, from_value=ticket.retention_hold, to_value=reason)
    ticket.retention_hold = ""
