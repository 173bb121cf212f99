"""What the citizen's receipt page says: what was sent, who answers, when and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ...contacts.citizen import mask_personnummer
from ...contacts.models import Contact
from ...tickets.models import Ticket
from ...worktime.calendar import STOCKHOLM

NEED_ORDER = ("interpreter", "hearing", "vision", "easy_read")


@dataclass(frozen=True)
class ReceiptSummary:
    service: str
    text: str
    # The language the citizen wrote in (the form's language): lang= on their text.
    language: str
    reply_channel: str
    reply_to: str
    name: str
    personnummer: str  # masked: 19900101-XXXX
    needs: list[str] = field(default_factory=list)
    interpreter_language: str | None = None
    # None when the kontaktcenter answers; else the department whose case officers do.
    department: str | None = None
    answer_by: date | None = None


def receipt_summary(ticket: Ticket, contact: Contact, locale: str) -> ReceiptSummary:
    """The receipt's facts from the stored ticket and its first contact, never from the form:
    the page says what the city has, and where the routing actually sent it."""
    queue = ticket.queue
    due = ticket.first_response_due_at
    needs = [
        n
        for n, wanted in zip(
            NEED_ORDER,
            (contact.need_interpreter, contact.need_hearing, contact.need_vision, contact.need_easy_read),
            strict=True,
        )
        if wanted
    ]
    return ReceiptSummary(
        service=ticket.service.name(locale) if ticket.service else "",
        text=contact.text,
        language=contact.language,
        reply_channel=contact.reply_channel,
        reply_to=(contact.citizen_email if contact.reply_channel == "email" else contact.citizen_phone) or "",
        name=contact.citizen_name,
        personnummer=mask_personnummer(contact.citizen_personnummer),
        needs=needs,
        interpreter_language=contact.interpreter_language,
        department=queue.department.name(locale) if queue.kind == "department" else None,
        answer_by=due.astimezone(STOCKHOLM).date() if due else None,
    )
