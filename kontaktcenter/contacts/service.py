"""Receiving a contact from any channel: validate, store, route, make or find its ticket."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from ..database import conflict_insert, utcnow
from ..directory.models import Location, Queue, Service
from ..tickets.models import Ticket
from ..tickets.service import create_ticket, record_event
from .citizen import IdentifierError, normalise_email, normalise_personnummer, normalise_phone
from .models import CHANNELS, NEEDS, REPLY_CHANNELS, Contact

log = logging.getLogger(__name__)


class ContactError(ValueError):
    """Input that cannot become a contact. `field` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class IncomingContact:
    channel: str
    service_code: str | None
    text: str = ""
    subject: str = ""
    language: str = "sv"
    needs: list[str] = field(default_factory=list)
    interpreter_language: str | None = None
    citizen_name: str = ""
    phone: str | None = None
    email: str | None = None
    personnummer: str | None = None
    reply_channel: str = "none"
    location_code: str | None = None
    arrived_at: datetime | None = None
    provider_sid: str | None = None
    external_id: str | None = None


@dataclass
class Received:
    contact: Contact
    ticket: Ticket | None  # None while the contact awaits the intake worker
    created: bool  # False when a retry found the contact already stored


def _service(session: Session, code: str | None, what: Any = Service) -> Any:
    """The active service `code` (or `what` of it, e.g. Service.id); None without a code."""
    if not code:
        return None
    service = session.scalar(select(what).where(Service.code == code, Service.active.is_(True)))
    if service is None:
        raise ContactError("service", f"unknown service {code!r}")
    return service


def build_contact(session: Session, incoming: IncomingContact, service: Service | None = None) -> Contact:
    """Validate and normalise; raises ContactError naming the field."""
    return Contact(**_validated(session, incoming, service=service))


def _validated(
    session: Session, incoming: IncomingContact, *, ids: bool = False, service: Service | None = None
) -> dict[str, Any]:
    """The contact's attributes, validated and normalised: service and location as objects,
    or with `ids` as service_id and location_id (all a contact stored for later needs).
    `service` is the incoming service when the channel has loaded it already (the IVR menu)."""
    values = contact_values(incoming)
    if service is None or service.code != incoming.service_code or not service.active:
        service = _service(session, incoming.service_code, Service.id if ids else Service)
    location = None
    if incoming.location_code:
        location = session.scalar(select(Location.id if ids else Location).where(Location.code == incoming.location_code))
        if location is None:
            raise ContactError("location", f"unknown location {incoming.location_code!r}")
    values.update({"service_id": service, "location_id": location} if ids else {"service": service, "location": location})
    return values


def contact_values(incoming: IncomingContact) -> dict[str, Any]:
    """The contact's own attributes, validated and normalised, without its service and
    location (which need the catalogue); raises ContactError naming the field."""
    _refuse_nul(incoming)
    if incoming.channel not in CHANNELS:
        raise ContactError("channel", f"unknown channel {incoming.channel!r}")
    if incoming.reply_channel not in REPLY_CHANNELS:
        raise ContactError("reply_channel", f"unknown reply channel {incoming.reply_channel!r}")
    unknown = set(incoming.needs) - set(NEEDS)
    if unknown:
        raise ContactError("needs", f"unknown need(s) {', '.join(sorted(unknown))}")
    try:
        phone = normalise_phone(incoming.phone) if incoming.phone else None
    except IdentifierError as exc:
        raise ContactError("phone", str(exc)) from None
    try:
        email = normalise_email(incoming.email) if incoming.email else None
    except IdentifierError as exc:
        raise ContactError("email", str(exc)) from None
    try:
        pnr = normalise_personnummer(incoming.personnummer) if incoming.personnummer else None
    except IdentifierError as exc:
        raise ContactError("personnummer", str(exc)) from None
    if incoming.reply_channel == "email" and not email:
        raise ContactError("email", "an e-mail address is needed for an answer by e-mail")
    if incoming.reply_channel in ("sms", "phone") and not phone:
        raise ContactError("phone", "a phone number is needed for an answer by SMS or phone")
    return dict(
        channel=incoming.channel,
        language=incoming.language or "sv",
        interpreter_language=incoming.interpreter_language if "interpreter" in incoming.needs else None,
        citizen_name=incoming.citizen_name.strip()[:200],
        citizen_phone=phone,
        citizen_email=email,
        citizen_personnummer=pnr,
        reply_channel=incoming.reply_channel,
        subject=incoming.subject.strip()[:300],
        text=incoming.text.strip(),
        arrived_at=incoming.arrived_at or utcnow(),
        provider_sid=incoming.provider_sid,
        external_id=incoming.external_id,
        **{f"need_{need}": need in incoming.needs for need in NEEDS},
    )


def receive(session: Session, incoming: IncomingContact, *, service: Service | None = None) -> Received:
    """Store a contact and give it a ticket. Idempotent on provider_sid / external_id.

    `service` is the incoming service when the channel has it loaded already (not read again).
    Runs in a savepoint so a parallel duplicate (IntegrityError on the unique keys)
    leaves the caller's transaction usable and returns the contact that won.
    """
    _refuse_nul(incoming)
    existing = _existing(session, incoming)
    if existing is not None:
        return Received(existing, existing.ticket, created=False)
    contact = build_contact(session, incoming, service)
    try:
        with session.begin_nested():
            _place(session, contact)
            session.flush()
    except IntegrityError:
        existing = _existing(session, incoming)
        if existing is None:
            raise
        return Received(existing, existing.ticket, created=False)
    return Received(contact, contact.ticket, created=True)


def accept(session: Session, incoming: IncomingContact) -> Received:
    """Store a contact for the intake worker to route (queued intake); same validation and idempotency.

    Acknowledging then costs one insert, so a burst of contacts is taken in at once and
    routed in arrival order as the worker gets to them (route_waiting).
    """
    _refuse_nul(incoming)
    try:
        values = _validated(session, incoming, ids=True)
    except ContactError:
        # A retry of a contact accepted before the catalogue changed gets that contact.
        existing = _existing(session, incoming)
        if existing is None:
            raise
        return Received(existing, existing.ticket, created=False)
    values.update(awaiting_routing=True, ticket_id=None)
    # One statement: a retry, or a parallel duplicate, meets the unique key and inserts nothing.
    contact_id = session.execute(_insert_contact(session.get_bind().dialect.name), values).scalar()
    if contact_id is None:
        existing = _existing(session, incoming)
        if existing is None:
            raise LookupError("the contact conflicts with a stored one that has neither its provider_sid nor its external_id")
        return Received(existing, existing.ticket, created=False)
    # The row as inserted, joined to the session without reading it back.
    contact = Contact(id=contact_id, **values)
    make_transient_to_detached(contact)
    session.add(contact)
    return Received(contact, None, created=True)


@cache
def _insert_contact(dialect: str):
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, built once (values come as parameters)."""
    return conflict_insert(dialect)(Contact.__table__).on_conflict_do_nothing().returning(Contact.id)


@dataclass
class RoutingBackoff:
    """Contacts that could not be routed, left alone for a while before the next try.

    Without it, one such contact (a rule naming a queue that is gone) would be the oldest
    in every batch: each batch would fail and be redone one contact at a time, and the
    failure would be logged on every look. The pause doubles from `first` up to `longest`
    seconds; the contact stays waiting and is tried again after it.
    """

    first: float = 10.0
    longest: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _retry: dict[int, tuple[float, float]] = field(default_factory=dict)  # contact id → (retry at, pause)

    def resting(self) -> list[int]:
        now = self.clock()
        # Forget contacts not tried again long after their pause (routed by another worker):
        # one still failing is tried, and noted again, within moments of its retry time.
        self._retry = {cid: (at, pause) for cid, (at, pause) in self._retry.items() if now - at < self.longest}
        return [contact_id for contact_id, (at, _pause) in self._retry.items() if at > now]

    def failed(self, contact_id: int) -> float:
        """Note a failure; returns the pause before the next try."""
        pause = min(self._retry[contact_id][1] * 2, self.longest) if contact_id in self._retry else self.first
        self._retry[contact_id] = (self.clock() + pause, pause)
        return pause

    def routed(self, contact_id: int) -> None:
        self._retry.pop(contact_id, None)


def route_waiting(session: Session, *, limit: int = 50, backoff: RoutingBackoff | None = None) -> int:
    """Give tickets to up to `limit` contacts awaiting routing, oldest first; returns how many.

    On PostgreSQL several workers can run: each takes contacts the others have not locked.
    The batch is routed in one savepoint; if a contact cannot be routed (a rule naming a
    queue that is gone), the batch is routed again one contact per savepoint, and the
    failing one is logged and stays waiting without holding up the rest (with `backoff`,
    it is left out of the next batches for a while).
    """
    query = select(Contact).where(Contact.awaiting_routing.is_(True)).order_by(Contact.id).limit(limit)
    resting = backoff.resting() if backoff is not None else []
    if resting:
        query = query.where(Contact.id.not_in(resting))
    if session.get_bind().dialect.name == "postgresql":
        # The contacts are durable since their acknowledgement; routing that a crash loses
        # before it reaches the disk is simply done again. So this commit need not wait for
        # the WAL flush that the intake's acknowledgements wait for.
        session.execute(text("SET LOCAL synchronous_commit = off"))
        query = query.with_for_update(skip_locked=True)
    contacts = session.scalars(query).all()
    try:
        with session.begin_nested():
            for contact in contacts:
                _route_waiting_contact(session, contact)
        return len(contacts)
    except Exception:
        log.warning("a batch of %d waiting contacts failed; routing them one by one", len(contacts))
    routed = 0
    for contact in contacts:
        try:
            with session.begin_nested():
                _route_waiting_contact(session, contact)
        except Exception:
            retry = f", tried again in {backoff.failed(contact.id):.0f} s" if backoff is not None else ""
            log.exception("contact %s could not be routed; it stays waiting%s", contact.id, retry)
            continue
        if backoff is not None:
            backoff.routed(contact.id)
        routed += 1
    return routed


def oldest_waiting(session: Session) -> datetime | None:
    """When the contact that has waited longest for routing arrived (None: none waits)."""
    return session.scalar(select(Contact.arrived_at).where(Contact.awaiting_routing.is_(True)).order_by(Contact.id).limit(1))


def _route_waiting_contact(session: Session, contact: Contact) -> None:
    _place(session, contact)
    contact.awaiting_routing = False  # flushed in one UPDATE with the contact's ticket and queue
    session.flush()


def route_all_waiting(
    session: Session,
    *,
    batch: int = 50,
    stop: threading.Event | None = None,
    backoff: RoutingBackoff | None = None,
    give_way: Callable[[Session], bool] | None = None,
) -> int:
    """Route waiting contacts batch by batch, committing each batch, until none is left
    that can be routed (or `stop` is set, or `give_way` says to wait before a batch);
    returns how many were routed."""
    total = 0
    while stop is None or not stop.is_set():
        if give_way is not None and give_way(session):
            session.commit()
            break
        routed = route_waiting(session, limit=batch, backoff=backoff)
        session.commit()
        if not routed:
            break
        total += routed
    return total


def _place(session: Session, contact: Contact) -> Ticket:
    """The contact's ticket: a reopened one (same citizen and service within REOPEN_DAYS
    of resolution) or a new, routed one."""
    from ..casework.reopen import reopen_for_contact

    return reopen_for_contact(session, contact) or _ticket_for(session, contact)


# IncomingContact fields reported under the names the channels' forms and APIs use.
FIELD_NAMES = {"service_code": "service", "location_code": "location", "citizen_name": "name"}


def _refuse_nul(incoming: IncomingContact) -> None:
    """PostgreSQL text cannot hold NUL characters: bad input on every channel, before any query."""
    for item in fields(incoming):
        value = getattr(incoming, item.name)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise ContactError(FIELD_NAMES.get(item.name, item.name), "must not contain NUL characters")


def _existing(session: Session, incoming: IncomingContact) -> Contact | None:
    if incoming.provider_sid:
        return session.scalar(select(Contact).where(Contact.provider_sid == incoming.provider_sid))
    if incoming.external_id:
        return session.scalar(select(Contact).where(Contact.external_id == incoming.external_id))
    return None


def _ticket_for(session: Session, contact: Contact) -> Ticket:
    from ..casework.sla import start_clocks
    from ..routing.service import offer_to_agent, record_decision, route_contact

    # The contact joins the session through its ticket, so it is inserted once, complete.
    decision = route_contact(session, contact)
    queue = session.scalar(select(Queue).where(Queue.code == decision.queue_code))
    if queue is None:
        raise LookupError(f"rule {decision.rule_id} routes to unknown queue {decision.queue_code}")
    contact.queue = queue
    ticket = create_ticket(
        session,
        queue=queue,
        service=contact.service,
        first_arrived_at=contact.arrived_at,
        subject=contact.subject or (contact.text[:80] if contact.text else ""),
        priority=decision.priority if decision.priority is not None else 3,
    )
    contact.ticket = ticket
    record = record_decision(session, ticket, contact, decision)
    record_event(session, ticket, "routed", to_value=queue.code, rule=decision.rule_id, version=decision.ruleset_version)
    start_clocks(session, ticket, decision=record)
    offer_to_agent(session, ticket, contact, record)
    return ticket
