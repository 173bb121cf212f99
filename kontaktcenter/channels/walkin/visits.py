"""Walk-in visits at a location: registration, queue numbers, served / ended / left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...casework.reasons import pick_reason
from ...contacts.models import Contact
from ...database import utcnow
from ...directory.models import Location, Service, User
from ...errors import DomainError
from ...intake.incoming import IncomingContact
from ...intake.receive import Received, receive
from ...tickets.service import add_message, assign, record_event, resolve
from ...worktime.calendar import STOCKHOLM

# Topics a visitor most often brings, offered first on the registration screen.
COMMON_TOPICS = ("utskrift-hjalp", "digital-hjalp", "skolval", "forsorjningsstod", "allmant")
WALK_IN_KINDS = ("branch", "library", "service_point")


class VisitError(DomainError, ValueError):
    """A visit action that does not fit the visit's state; the message (lazily translated) says why."""


def walk_in_locations(session: Session) -> list[Location]:
    return list(
        session.scalars(
            select(Location).where(Location.active.is_(True), Location.kind.in_(WALK_IN_KINDS)).order_by(Location.name)
        )
    )


def visit_services(session: Session) -> tuple[list[Service], list[Service]]:
    """(common topics, every other active service) for the registration screen."""
    services = list(session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name_sv)))
    common = sorted(
        (s for s in services if s.code in COMMON_TOPICS or s.walk_in_topic),
        key=lambda s: (s.code not in COMMON_TOPICS, s.name_sv),
    )
    return common, [s for s in services if s not in common]


def local_day(at: datetime) -> date:
    return at.astimezone(STOCKHOLM).date()


def _next_queue_number(session: Session, location: Location, day: date) -> int:
    last = session.scalar(
        select(func.max(Contact.queue_number)).where(Contact.location_id == location.id, Contact.queue_day == day)
    )
    return (last or 0) + 1


def register_visit(
    session: Session,
    *,
    user: User,
    location: Location,
    service_code: str,
    language: str = "sv",
    needs: list[str] | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Received:
    """Check a visitor in: a walk_in contact (routed like any other) with a queue number if the place uses them."""
    now = now or utcnow()
    needs = list(needs or [])
    received = receive(
        session,
        IncomingContact(
            channel="walk_in",
            service_code=service_code,
            text=note,
            language=language,
            needs=needs,
            interpreter_language=language if "interpreter" in needs else None,
            location_code=location.code,
            arrived_at=now,
        ),
    )
    contact = received.contact
    contact.registered_by_id = user.id
    if location.queue_numbers:
        day = local_day(now)
        # Two desks may register at the same moment: the unique (location, day, number)
        # constraint decides, and the loser takes the next number.
        for _attempt in range(20):
            try:
                with session.begin_nested():
                    contact.queue_day = day
                    contact.queue_number = _next_queue_number(session, location, day)
                    session.flush()
                break
            except IntegrityError:
                continue
        else:
            raise VisitError(_l("Kunde inte ge ett könummer just nu. Försök igen."))
    session.flush()
    return received


def todays_visits(session: Session, location: Location, now: datetime | None = None) -> list[Contact]:
    start = datetime.combine(local_day(now or utcnow()), datetime.min.time(), STOCKHOLM)
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.channel == "walk_in", Contact.location_id == location.id, Contact.arrived_at >= start)
            .order_by(Contact.arrived_at, Contact.id)
        )
    )


@dataclass
class VisitLists:
    waiting: list[Contact]
    serving: list[Contact]
    done: list[Contact]


def visit_lists(visits: list[Contact]) -> VisitLists:
    return VisitLists(
        waiting=[v for v in visits if v.answered_at is None and v.ended_at is None],
        serving=[v for v in visits if v.answered_at is not None and v.ended_at is None],
        done=[v for v in visits if v.ended_at is not None],
    )


def now_serving(
    session: Session, location: Location, now: datetime | None = None
) -> tuple[list[Contact], list[Contact]]:
    """(being served, waiting) today — only queue numbers are shown on the display."""
    lists = visit_lists(todays_visits(session, location, now))
    return lists.serving, lists.waiting


MAX_DESK_LENGTH = 20


def desk_name(raw: str) -> str:
    """A desk as staff name it ("2", "Disk 3", "Infodisken"): shown to the room with the number."""
    desk = " ".join((raw or "").split())
    if not desk or len(desk) > MAX_DESK_LENGTH or not desk.isprintable():
        raise VisitError(_l("Skriv diskens nummer eller namn, högst 20 tecken."), field="desk")
    return desk


def serve(
    session: Session, contact: Contact, user: User, now: datetime | None = None, *, desk: str | None = None
) -> None:
    if contact.ended_at is not None:
        raise VisitError(_l("Besöket är redan avslutat."))
    if contact.answered_at is not None:
        raise VisitError(_l("Besökaren får redan hjälp."))
    contact.answered_at = now or utcnow()
    contact.answered_by_id = user.id
    contact.desk = desk  # the waiting-room display calls the number to this desk
    ticket = contact.ticket
    if ticket is not None and ticket.assignee_id is None:
        assign(session, ticket, user, actor=user, reason="walk-in served")
        if ticket.taken_by_id is None:
            ticket.taken_by_id = user.id


def end(
    session: Session,
    contact: Contact,
    user: User,
    *,
    resolved: bool,
    reason_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """The visit is over after service; resolved at the desk, or the ticket stays open for follow-up.

    Resolving needs the contact reason (casework/reasons.py: required for visits); a visit
    left for follow-up takes one if given, else it is picked when the ticket is resolved
    or escalated.
    """
    if contact.ended_at is not None:
        raise VisitError(_l("Besöket är redan avslutat."))
    if contact.answered_at is None:
        raise VisitError(_l("Besökaren har inte fått hjälp än. Välj Gick utan hjälp om hen har gått."))
    ticket = contact.ticket
    if ticket is not None and ticket.is_open and (resolved or reason_id is not None):
        pick_reason(session, ticket, user, reason_id)
    now = now or utcnow()
    contact.ended_at = now
    contact.outcome = "served"
    if ticket is not None and resolved and ticket.is_open:
        resolve(session, ticket, actor=user, at=now)
    elif ticket is not None:
        add_message(session, ticket, kind="note", body="Besöket avslutat; ärendet följs upp.", author=user, at=now)


def left_unserved(session: Session, contact: Contact, user: User, now: datetime | None = None) -> None:
    if contact.ended_at is not None:
        raise VisitError(_l("Besöket är redan avslutat."))
    if contact.answered_at is not None:
        raise VisitError(_l("Besökaren har fått hjälp. Avsluta besöket i stället."))
    contact.ended_at = now or utcnow()
    contact.outcome = "left"
    if contact.ticket is not None:
        record_event(session, contact.ticket, "visit_left", actor=user, at=contact.ended_at)
