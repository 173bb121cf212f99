"""Finding tickets: by reference, phone, e-mail, personnummer (exact) or free text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from ..contacts.citizen import (
    IdentifierError,
    mask_identifier,
    normalise_email,
    normalise_personnummer,
    normalise_phone,
)
from ..contacts.models import Contact
from ..directory.models import User
from ..errors import DomainError
from ..tickets.access import can_read, log_access, may_see
from ..tickets.models import Ticket, unrestricted
from ..vocabulary import IDENTIFIER_KINDS

REFERENCE_RE = re.compile(r"^\s*KC-\d{4}-\d{6,}\s*$", re.IGNORECASE)
PNR_RE = re.compile(r"^\s*(\d{6}|\d{8})[-+]?\d{4}\s*$")
MIN_TEXT = 3
MAX_QUERY = 200


class SearchError(DomainError, ValueError):
    """A query that cannot be searched; the message says what to type instead."""


@dataclass(frozen=True)
class Query:
    kind: str  # reference, phone, email, personnummer, text
    value: str


@dataclass
class Hit:
    ticket: Ticket
    # False: outside the user's own work — reference, service and status only; opening it asks for a reason.
    readable: bool


def classify(raw: str) -> Query:
    """What the user typed: the identifier kinds are tried before free text."""
    text = (raw or "").strip()
    if not text:
        raise SearchError("Skriv något att söka efter.")
    if len(text) > MAX_QUERY:
        raise SearchError("Sökningen får vara högst 200 tecken.")
    if REFERENCE_RE.match(text):
        return Query("reference", text.upper())
    if "@" in text:
        try:
            return Query("email", normalise_email(text))
        except IdentifierError:
            raise SearchError("Det ser ut som en e-postadress men är inte giltig.") from None
    if PNR_RE.match(text):
        try:
            return Query("personnummer", normalise_personnummer(text))
        except IdentifierError:
            pass  # a ten-digit phone number also fits the pattern
    if re.fullmatch(r"[\d\s()+-]{6,}", text):
        try:
            return Query("phone", normalise_phone(text))
        except IdentifierError:
            raise SearchError(
                "Det ser ut som ett nummer men är varken ett giltigt telefonnummer eller personnummer."
            ) from None
    if len(text) < MIN_TEXT:
        raise SearchError("Fritextsökning behöver minst tre tecken.")
    return Query("text", text)


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def search(session: Session, user: User, raw: str, limit: int = 50) -> tuple[Query, list[Hit]]:
    """Tickets matching the query that the user may know of (tickets/access.may_see);
    a confidential ticket they may not read is never a hit. A search by an identifier
    is written to the access log, its value masked."""
    query = classify(raw)
    if query.kind in IDENTIFIER_KINDS:
        log_access(session, user, None, "search", detail=mask_identifier(query.kind, query.value))
    stmt = select(Ticket).where(unrestricted())  # begränsning: kept, never found
    if query.kind == "reference":
        stmt = stmt.where(Ticket.reference == query.value)
    elif query.kind in IDENTIFIER_KINDS:
        column = {
            "phone": Contact.citizen_phone,
            "email": Contact.citizen_email,
            "personnummer": Contact.citizen_personnummer,
        }[query.kind]
        # Exact match only: identifiers are never searched by prefix or pattern.
        stmt = stmt.where(exists().where(Contact.ticket_id == Ticket.id, column == query.value))
    else:
        words = query.value.split()[:8]
        # Free text never looks inside confidential tickets (OSL).
        stmt = stmt.where(Ticket.confidential.is_(False))
        for word in words:
            pattern = _like(word)
            stmt = stmt.where(
                or_(
                    func.lower(Ticket.subject).like(pattern, escape="\\"),
                    exists().where(
                        Contact.ticket_id == Ticket.id,
                        or_(
                            func.lower(Contact.text).like(pattern, escape="\\"),
                            func.lower(Contact.subject).like(pattern, escape="\\"),
                            func.lower(Contact.citizen_name).like(pattern, escape="\\"),
                        ),
                    ),
                )
            )
    tickets = session.scalars(stmt.order_by(Ticket.first_arrived_at.desc(), Ticket.id.desc()).limit(limit * 4)).all()
    return query, [Hit(t, can_read(user, t)) for t in tickets if may_see(user, t)][:limit]
