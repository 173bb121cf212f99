"""The agent's workspace: the console's filtered, paged ticket list, returned escalations, labels in words."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..contacts.models import Contact
from ..database import utcnow
from ..directory.models import Queue, Service, User
from ..errors import DomainError
from ..tickets.access import DEPARTMENT_ROLES
from ..tickets.models import Ticket, unrestricted
from ..vocabulary import CHANNELS, LANGUAGES, OPEN_STATUSES
from .models import Escalation
from .service import console_queues

SLA_FILTERS = ("breached", "at_risk")
# The longest filter value anyone types by hand; beyond it the request is refused, not truncated.
MAX_FILTER_LENGTH = 40


class FilterError(DomainError, ValueError):
    """A console filter value that is not one of the choices; the message says which."""

    status = 400


@dataclass(frozen=True)
class ConsoleFilter:
    queue_id: int | None = None
    channel: str | None = None
    language: str | None = None
    service_id: int | None = None
    status: str | None = None
    sla: str | None = None
    page: int = 1

    def args(self, **changes) -> dict[str, str | int]:
        """The filter as query arguments (for paging links), with `changes` applied."""
        values = replace(self, **changes)
        names = {"queue_id": "queue", "service_id": "service"}
        out = {}
        for key in ("queue_id", "channel", "language", "service_id", "status", "sla", "page"):
            value = getattr(values, key)
            if value is not None and not (key == "page" and value == 1):
                out[names.get(key, key)] = value
        return out

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.queue_id, self.channel, self.language, self.service_id, self.status))


def _choice(args: Mapping[str, str], name: str, allowed, label) -> str | None:
    raw = args.get(name, "")
    if raw == "":
        return None
    if len(raw) > MAX_FILTER_LENGTH or "\x00" in raw or raw not in allowed:
        raise FilterError("Okänt värde i filtret %(filter)s. Välj i listan.", filter=label)
    return raw


def _number(args: Mapping[str, str], name: str, allowed: set[int], label) -> int | None:
    raw = args.get(name, "")
    if raw == "":
        return None
    if len(raw) > MAX_FILTER_LENGTH or not raw.isdigit() or int(raw) not in allowed:
        raise FilterError("Okänt värde i filtret %(filter)s. Välj i listan.", filter=label)
    return int(raw)


def parse_filter(args: Mapping[str, str], queues: list[Queue], services: list[Service]) -> ConsoleFilter:
    """The console's GET form read strictly: an unknown value is refused with the filter's name."""
    raw_page = args.get("page", "1") or "1"
    if len(raw_page) > 9 or not raw_page.isdigit() or int(raw_page) < 1:
        raise FilterError("Sidnumret måste vara ett heltal från 1.")
    return ConsoleFilter(
        queue_id=_number(args, "queue", {q.id for q in queues}, _l("kö")),
        channel=_choice(args, "channel", CHANNELS, _l("kanal")),
        language=_choice(args, "language", LANGUAGES, _l("språk")),
        service_id=_number(args, "service", {s.id for s in services}, _l("tjänst")),
        status=_choice(args, "status", OPEN_STATUSES, _l("status")),
        sla=_choice(args, "sla", SLA_FILTERS, _l("tidsgräns")),
        page=int(raw_page),
    )


def filter_services(session: Session) -> list[Service]:
    return list(session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name_sv)))


def _confidential_visible(user: User):
    """SQL for tickets/access.can_read's confidential part, so the count matches the rows shown."""
    if user.role == "agent":
        took = exists().where(
            Contact.ticket_id == Ticket.id, or_(Contact.answered_by_id == user.id, Contact.registered_by_id == user.id)
        )
        return or_(Ticket.taken_by_id == user.id, took)
    if user.role in DEPARTMENT_ROLES and user.department_id is not None:
        owning = exists().where(Service.id == Ticket.service_id, Service.department_id == user.department_id)
        holding = exists().where(
            Queue.id == Ticket.queue_id, Queue.kind == "department", Queue.department_id == user.department_id
        )
        return or_(owning, holding)
    return false()


def _conditions(user: User, queue_ids: list[int], flt: ConsoleFilter, now: datetime, at_risk: timedelta) -> list:
    conditions = [
        Ticket.queue_id.in_(queue_ids if flt.queue_id is None else [flt.queue_id]),
        Ticket.status.in_(OPEN_STATUSES if flt.status is None else [flt.status]),
        unrestricted(),
        # A confidential ticket the user may not read is not even counted (its existence is confidential).
        or_(Ticket.confidential.is_(False), _confidential_visible(user)),
    ]
    if flt.channel is not None:
        conditions.append(exists().where(Contact.ticket_id == Ticket.id, Contact.channel == flt.channel))
    if flt.language is not None:
        conditions.append(exists().where(Contact.ticket_id == Ticket.id, Contact.language == flt.language))
    if flt.service_id is not None:
        conditions.append(Ticket.service_id == flt.service_id)
    if flt.sla == "breached":
        conditions.append(Ticket.sla_breached.is_(True))
    elif flt.sla == "at_risk":
        # Not yet breached, clocks running, and a time limit falls within the window.
        soon = now + at_risk
        conditions += [
            Ticket.sla_breached.is_(False),
            Ticket.sla_paused_at.is_(None),
            or_(
                and_(Ticket.resolve_due_at.is_not(None), Ticket.resolve_due_at <= soon),
                and_(Ticket.status == "escalated", Ticket.accept_due_at.is_not(None), Ticket.accept_due_at <= soon),
                and_(
                    Ticket.first_response_due_at.is_not(None),
                    Ticket.first_response_due_at <= soon,
                    ~exists().where(Contact.ticket_id == Ticket.id, Contact.answered_at.is_not(None)),
                ),
            ),
        ]
    return conditions


@dataclass
class ConsolePage:
    tickets: list[Ticket]
    total: int
    page: int
    pages: int
    first: int  # 1-based position of the first row shown (0 when none)
    last: int
    filter: ConsoleFilter = field(default_factory=ConsoleFilter)


# A list shows each ticket's next due time and its channel and language, read from its contacts.
_FOR_LISTS = (selectinload(Ticket.contacts), selectinload(Ticket.messages))


def console_page(
    session: Session,
    user: User,
    flt: ConsoleFilter,
    *,
    page_size: int,
    at_risk: timedelta,
    now: datetime | None = None,
) -> ConsolePage:
    """One page of the open tickets in the user's queues, filtered and counted in the database."""
    queue_ids = [q.id for q in console_queues(session, user)]
    if not queue_ids:
        return ConsolePage([], 0, 1, 1, 0, 0, flt)
    conditions = _conditions(user, queue_ids, flt, now or utcnow(), at_risk)
    total = session.scalar(select(func.count(Ticket.id)).where(*conditions)) or 0
    pages = max(1, math.ceil(total / page_size))
    page = min(flt.page, pages)
    offset = (page - 1) * page_size
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(*conditions)
            .order_by(Ticket.priority.desc(), Ticket.first_arrived_at, Ticket.id)
            .offset(offset)
            .limit(page_size)
            .options(*_FOR_LISTS)
        )
    )
    return ConsolePage(
        tickets, total, page, pages, offset + 1 if tickets else 0, offset + len(tickets), replace(flt, page=page)
    )


def opener(ticket: Ticket) -> Contact | None:
    """The contact that opened the ticket: its channel and language are the ticket's."""
    return next((c for c in ticket.contacts if c.placement == "new"), ticket.contacts[0] if ticket.contacts else None)


# -- returned escalations ----------------------------------------------------------------


@dataclass
class Returned:
    escalation: Escalation
    department_name: str


def returned_escalations(session: Session, tickets: list[Ticket], locale: str) -> dict[int, Returned]:
    """For each open ticket whose latest escalation came back: which department returned it, and why."""
    ids = [t.id for t in tickets if t.is_open and t.escalated]
    if not ids:
        return {}
    latest = (
        select(Escalation.ticket_id, func.max(Escalation.id).label("id"))
        .where(Escalation.ticket_id.in_(ids))
        .group_by(Escalation.ticket_id)
        .subquery()
    )
    rows = session.scalars(
        select(Escalation).join(latest, latest.c.id == Escalation.id).where(Escalation.returned_at.is_not(None))
    )
    return {e.ticket_id: Returned(e, e.department.name(locale)) for e in rows}


def returned_to_me(session: Session, user: User, locale: str) -> list[tuple[Ticket, Returned]]:
    """Open tickets a department sent back to this agent (the notice on their console)."""
    mine = list(
        session.scalars(
            select(Ticket).where(
                Ticket.assignee_id == user.id,
                Ticket.status.in_(OPEN_STATUSES),
                Ticket.escalated.is_(True),
                unrestricted(),
            )
        )
    )
    returned = returned_escalations(session, mine, locale)
    return [(t, returned[t.id]) for t in mine if t.id in returned]


# -- codes in words ------------------------------------------------------------------------

NEED_LABELS = {
    "interpreter": _l("Tolk"),
    "hearing": _l("Hörselnedsättning"),
    "vision": _l("Synnedsättning"),
    "easy_read": _l("Lätt svenska"),
}
EVENT_LABELS = {
    "created": _l("Ärendet skapades"),
    "imported": _l("Importerat"),
    "routed": _l("Routat till kö"),
    "assigned": _l("Handläggare ändrad"),
    "status": _l("Status ändrad"),
    "priority": _l("Prioritet ändrad"),
    "kind": _l("Typ av ärende ändrad"),
    "escalated": _l("Eskalerat"),
    "escalation_accepted": _l("Eskaleringen accepterad"),
    "escalation_returned": _l("Eskaleringen återlämnad"),
    "resolution": _l("Löst"),
    "resolved": _l("Löst"),
    "reopened": _l("Återöppnat"),
    "reason": _l("Kontaktorsak vald"),
    "knowledge_used": _l("Svar från kunskapsbanken använt"),
    "contact_added": _l("Ny kontakt i ärendet"),
    "contact_linked": _l("Kontakt kopplad till ärendet"),
    "callback_requested": _l("Återuppringning begärd"),
    "callback": _l("Återuppringning"),
    "callback_given_up": _l("Återuppringningen avbruten"),
    "call_abandoned": _l("Samtalet avbröts i kön"),
    "sla_breached": _l("Tidsgränsen passerad"),
    "notice_failed": _l("Meddelandet kunde inte skickas"),
    "restricted": _l("Behandlingen begränsad"),
    "restriction_lifted": _l("Begränsningen hävd"),
    "retention_hold": _l("Bevaras efter gallringsfristen"),
    "retention_released": _l("Bevarandet hävt"),
    "erased": _l("Uppgifter raderade"),
    "visit_left": _l("Besökaren gick utan hjälp"),
    "call_transferred": _l("Samtalet kopplat vidare"),
    "call_transfer_answered": _l("Vidarekopplingen besvarad"),
    "call_answered_in_department": _l("Förvaltningen svarade i telefon"),
    "call_transfer_unanswered": _l("Vidarekopplingen besvarades inte"),
    "call_transfer_completed": _l("Samtalet överlämnat"),
    "call_transfer_cancelled": _l("Vidarekopplingen avbruten"),
    "call_transfer_receiver_left": _l("Mottagaren lade på"),
    "message:reply": _l("Svar till medborgaren"),
    "message:inbound": _l("Meddelande från medborgaren"),
    "message:note": _l("Intern anteckning"),
    "message:phone_note": _l("Telefonanteckning"),
}


def language_name(code: str | None, locale: str) -> str:
    """A language code in words, in the reader's language (CLDR: "arabiska", "Arabic")."""
    from babel import Locale

    if not code:
        return ""
    return Locale.parse(locale).languages.get(code, code)


def needs_in_words(contact: Contact, locale: str) -> list[str]:
    """The contact's needs as staff read them: "Tolk: arabiska", "Lätt svenska"."""
    words = []
    for need in contact.needs:
        label = str(NEED_LABELS.get(need, need))
        if need == "interpreter" and contact.interpreter_language:
            label = f"{label}: {language_name(contact.interpreter_language, locale)}"
        words.append(label)
    return words


def event_label(kind: str) -> str:
    return str(EVENT_LABELS.get(kind, kind.replace("_", " ")))
