"""The screen pop: when a call connects to an agent, who is calling, what they chose in the
menu, how long they waited, and their earlier tickets that this agent may read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..channels.voice.calls import earlier_tickets
from ..contacts.models import Contact
from ..directory.models import User
from ..tickets.access import can_read, log_access, log_read, serving_now
from ..tickets.models import Ticket

# A call answered longer ago than this is no longer "the call that just connected".
RECENT = timedelta(hours=2)


@dataclass(frozen=True)
class ScreenPop:
    contact: Contact
    ticket: Ticket | None
    wait_seconds: int | None
    earlier: list[Ticket]


def current_call(session: Session, agent: User, at: datetime) -> Contact | None:
    """The call the agent answered last, while it lasts (or for a while after, to finish notes)."""
    return session.scalar(
        select(Contact)
        .where(
            Contact.channel == "phone",
            Contact.answered_by_id == agent.id,
            Contact.answered_at.is_not(None),
            Contact.answered_at >= at - RECENT,
        )
        .order_by(Contact.answered_at.desc(), Contact.id.desc())
        .limit(1)
    )


def screen_pop(session: Session, agent: User, at: datetime) -> ScreenPop | None:
    """The agent's screen pop, or None when no call connected to them lately.

    Earlier tickets: those the agent may read in their own work, and the non-confidential
    ones of the same citizen they may read as serving them now (`serving_now`). A
    confidential one they may not read is left out, its existence included; a restricted
    one (begränsning) is never listed. Reads are logged as the access rule says: a
    confidential ticket's, and a read outside one's own work with its reason.
    """
    contact = current_call(session, agent, at)
    if contact is None:
        return None
    ticket = contact.ticket
    shown = []
    for earlier in earlier_tickets(session, contact.citizen_phone, contact.ticket_id):
        if earlier.restricted:
            continue
        if can_read(agent, earlier):
            log_read(session, agent, earlier, action="screen_pop", at=at)
            shown.append(earlier)
        elif ticket is not None and serving_now(session, agent, earlier, ticket):
            log_access(session, agent, earlier, "screen_pop", reason=f"samma medborgare som {ticket.reference}", at=at)
            shown.append(earlier)
    if contact.wait_seconds is not None:
        wait = int(round(contact.wait_seconds))
    else:
        wait = int((contact.answered_at - contact.arrived_at).total_seconds()) if contact.answered_at else None
    return ScreenPop(contact, ticket, wait, shown)
