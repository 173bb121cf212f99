"""The access rule (tickets/access.py) applied to a request: find a ticket by reference for
the signed-in user, log what the rule says must be logged, and refuse the rest.

Outside their own work a user reads a non-confidential ticket only while serving the same
citizen (`?via=` the ticket they work on) or after giving a reason; either way every read
is logged with why, and the grant lasts READ_GRANT_SECONDS of this session. Writing always
needs the ticket to be in the user's own work.
"""

from __future__ import annotations

import time

from flask import abort, request, session
from flask_login import current_user
from sqlalchemy import select

from ..database import db
from ..tickets.access import can_read, can_write, log_access, may_see, serving_now
from ..tickets.models import Ticket

READ_GRANT_SECONDS = 3600
GRANTS_KEY = "read_grants"
MAX_GRANTS = 20


class NeedsReason(Exception):
    """The user may read the ticket only with a reason (the view shows the reason form)."""

    def __init__(self, ticket: Ticket):
        super().__init__(ticket.reference)
        self.ticket = ticket


def _by_reference(reference: str) -> Ticket | None:
    return db.session.scalar(select(Ticket).where(Ticket.reference == reference.strip().upper()[:30]))


def _action() -> str:
    endpoint = request.endpoint or ""
    return "read" if endpoint.endswith(".ticket") else endpoint.rpartition(".")[2]


def _deny(ticket: Ticket | None, reference: str, status: int):
    """Log the denied attempt (committed at once: the refusal rolls nothing back) and refuse."""
    log_access(db.session, current_user, ticket, _action(), allowed=False, detail=reference[:200])
    db.session.commit()
    abort(status)


def grant(ticket: Ticket, reason: str) -> None:
    """Let this session read `ticket` for a while; the reason goes with every logged read."""
    grants = {ref: g for ref, g in session.get(GRANTS_KEY, {}).items() if g[0] > time.time()}
    grants[ticket.reference] = [time.time() + READ_GRANT_SECONDS, reason[:300]]
    session[GRANTS_KEY] = dict(sorted(grants.items(), key=lambda item: item[1][0])[-MAX_GRANTS:])


def _granted(ticket: Ticket) -> str | None:
    expires, reason = session.get(GRANTS_KEY, {}).get(ticket.reference, (0, ""))
    return reason if expires > time.time() else None


def ticket_for(reference: str, *, write: bool = False) -> Ticket:
    """The ticket `reference` for the current user, or abort: 404 when they may not know
    it exists (confidential), 403 when they may not read or act on it; NeedsReason when a reason would let them read it."""
    ticket = _by_reference(reference)
    if ticket is None or not may_see(current_user, ticket):
        # A confidential ticket's existence is hidden as well (404); any other ticket the user
        # may not open exists, and the page says so: no access (403), with a way on.
        _deny(ticket, reference, 404 if ticket is None or ticket.confidential else 403)
    if write:
        if not can_write(current_user, ticket):
            _deny(ticket, reference, 403)
    elif not can_read(current_user, ticket):
        via = _by_reference(request.args.get("via", ""))
        if serving_now(db.session, current_user, ticket, via):
            grant(ticket, f"samma medborgare som {via.reference}")
        reason = _granted(ticket)
        if reason is None:
            raise NeedsReason(ticket)
        log_access(db.session, current_user, ticket, _action(), reason=reason)
        db.session.commit()
        return ticket
    if ticket.confidential or ticket.restricted:
        # Every access to a confidential or restricted ticket is logged, and committed at once, so an
        # action that then fails does not take the entry with it.
        log_access(db.session, current_user, ticket, _action())
        db.session.commit()
    return ticket
