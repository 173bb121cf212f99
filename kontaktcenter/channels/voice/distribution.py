"""Automatic call distribution: each waiting call is offered to the longest-idle eligible agent's device.

An offer (CallOffer) rings the agent through Twilio's REST API for the reservation time;
answered, the agent is bridged to exactly that caller through a conference named for the
offer; unanswered, the agent's presence becomes "missed" and the call goes to the next
agent while the caller keeps hearing the hold loop.

Exactly one open offer per call and per agent: the partial unique indexes on call_offers
refuse a second one whatever process tries, and on PostgreSQL the pair is picked with
`FOR UPDATE SKIP LOCKED`, so parallel distributors pass each other's picks instead of
colliding. Distribution runs right after every event that can free a match (a call queued,
an agent available, a call or an offer ending) and on a scheduled sweep that also expires
reservations whose Twilio callback never came.

Unlike most domain functions these commit: an offer must be in the database, holding its
reservation, before the agent's phone rings, and the row locks must not be held while
Twilio answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, literal, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from twilio.base.exceptions import TwilioException

from ...casework.service import presence_changed
from ...contacts.calls import CallOffer, CallRequirement
from ...contacts.models import Contact
from ...database import utcnow
from ...directory.models import Service, User, UserLanguage, user_queues, user_services
from ...notify.transport import TransportError
from ...routing.models import RoutingDecision
from ...routing.service import requirements
from ...tickets.models import Ticket
from ...vocabulary import OPEN_STATUSES
from . import calls, transfers

log = logging.getLogger(__name__)

# Only these roles answer the phone (the /phone page's roles): the first line's agents, and a
# department's caseworkers and coordinators, offered the callers transferred to their queues.
PHONE_ROLES = ("agent", "admin", "caseworker", "coordinator")
# Twilio's own no-answer callback normally ends an offer; the sweep expires one only this
# long after its reservation, so a late but real answer is not taken for a miss.
EXPIRY_GRACE = timedelta(seconds=5)
# A sweep offers at most this many calls: it runs again in a few seconds.
SWEEP_OFFERS = 200
MISSED_LEG_STATUSES = ("no-answer", "busy", "failed", "canceled")


class DistributionError(calls.PhoneError):
    """An offer that cannot be answered or joined (taken by another, withdrawn, expired)."""


@dataclass(frozen=True)
class Ringer:
    """How offers ring agents: the Twilio REST client, the caller ID and the webhooks' base URL."""

    client: Any
    from_number: str
    base_url: str
    reservation_seconds: int

    def url(self, offer_id: int, step: str) -> str:
        # Absolute under PUBLIC_BASE_URL: what Twilio calls is what it signs and we check.
        return f"{self.base_url.rstrip('/')}/twilio/voice/offers/{offer_id}/{step}"


def conference_name(offer: CallOffer) -> str:
    """The room where the agent and exactly the offered caller meet."""
    return f"kc-offer-{offer.id}"


# -- what a call needs ---------------------------------------------------------------


def note_requirements(session: Session, contact: Contact) -> CallRequirement | None:
    """Store the call's language and service requirements from its routing decision (once).

    The same rules as routing's eligible agents (routing.service.requirements): a rule's
    `skills` asks for the contact's language (the default), any, or a given one, and
    optionally the service.
    """
    known = session.get(CallRequirement, contact.id)
    if known is not None or contact.ticket is None:
        return known
    decision = session.scalar(
        select(RoutingDecision)
        .where(RoutingDecision.contact_id == contact.id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
    )
    needs = requirements(dict(decision.skills) if decision is not None else {}, contact, contact.ticket)
    service_id = session.scalar(select(Service.id).where(Service.code == needs.service)) if needs.service else None
    row = CallRequirement(contact_id=contact.id, language=needs.language, service_id=service_id)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # A parallel event of the same call stored them first.
        return session.get(CallRequirement, contact.id)
    return row


def note_missing_requirements(session: Session, limit: int = 500) -> int:
    """Requirements for waiting calls queued while distribution was off (or before it existed)."""
    missing = session.scalars(
        select(Contact)
        .outerjoin(CallRequirement, CallRequirement.contact_id == Contact.id)
        .where(_waiting(), CallRequirement.contact_id.is_(None))
        .limit(limit)
    ).all()
    for contact in missing:
        note_requirements(session, contact)
    return len(missing)


# -- who may be offered what ---------------------------------------------------------


# Written out, not bound: PostgreSQL uses the partial indexes of open calls
# (ix_contacts_waiting_calls, ix_contacts_live_calls) only when it sees these very values.
_PHONE = literal_column("'phone'")


def _waiting(contact=Contact):
    """A caller in a queue right now (calls._waiting, in the form the partial index matches)."""
    return and_(
        contact.channel == _PHONE,
        contact.outcome.is_(None),
        contact.ended_at.is_(None),
        contact.answered_at.is_(None),
        contact.queue_id.is_not(None),
    )


def _not_offered():
    return ~exists().where(CallOffer.contact_id == Contact.id, CallOffer.result.is_(None))


def _free_agent(pulled: bool = False):
    """An agent who may be rung now: present, with a device, no open offer, no live call, under
    capacity (not asked of an agent who pulls a call: they chose to take one more)."""
    live = aliased(Contact)
    open_tickets = (
        select(func.count(Ticket.id))
        .where(Ticket.assignee_id == User.id, Ticket.status.in_(OPEN_STATUSES))
        .correlate(User)
        .scalar_subquery()
    )
    return and_(
        User.active.is_(True),
        User.role.in_(PHONE_ROLES),
        User.presence == "available",
        User.phone_identity != "",
        ~exists().where(CallOffer.user_id == User.id, CallOffer.result.is_(None)),
        ~exists().where(
            live.answered_by_id == User.id,
            live.channel == _PHONE,
            live.outcome.is_(None),
            live.ended_at.is_(None),
        ),
        literal(True) if pulled else open_tickets < User.max_open_tickets,
    )


def _has_skills(user_id, language, service_id):
    """The agent has the call's language and service skills (None asked: anyone in the queue will do)."""
    return and_(
        or_(
            language.is_(None),
            exists().where(UserLanguage.user_id == user_id, UserLanguage.language == language),
        ),
        or_(
            service_id.is_(None),
            exists().where(user_services.c.user_id == user_id, user_services.c.service_id == service_id),
        ),
    )


@cache
def _anyone_free_stmt():
    return select(exists().where(_free_agent()))


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# The statements are built once per process (building them costs more than running them);
# `locking` adds PostgreSQL's FOR UPDATE … SKIP LOCKED.


@cache
def _call_for_agent_stmt(postgres: bool, pulled: bool = False):
    """The agent (if free, locked) and their longest-waiting unoffered call with skills matched, locked."""
    agent = select(User.id, User.phone_identity).where(User.id == bindparam("agent_id"), _free_agent(pulled))
    if postgres:
        # The agent's row: two events of one agent never both offer.
        agent = agent.with_for_update(skip_locked=True)
    free = agent.cte("free_agent")
    calls_of_queue = (
        select(Contact.id, Contact.arrived_at)
        .join(CallRequirement, CallRequirement.contact_id == Contact.id)
        .where(
            _waiting(),
            _not_offered(),
            _has_skills(bindparam("agent_id"), CallRequirement.language, CallRequirement.service_id),
        )
        .order_by(Contact.arrived_at, Contact.id)
    )
    if not postgres:
        stmt = calls_of_queue.add_columns(free.c.id, free.c.phone_identity).join(
            user_queues, (user_queues.c.user_id == free.c.id) & (user_queues.c.queue_id == Contact.queue_id)
        )
        return stmt.limit(1).with_only_columns(Contact.id, free.c.id, free.c.phone_identity)
    # Per queue of the agent, its oldest matching call (an ordered walk of ix_contacts_open_calls
    # that stops at the first row it may lock), then the oldest of those.
    oldest = (
        calls_of_queue.where(Contact.queue_id == user_queues.c.queue_id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Contact)
        .lateral("oldest")
    )
    return (
        select(oldest.c.id, free.c.id, free.c.phone_identity)
        .select_from(free)
        .join(user_queues, user_queues.c.user_id == free.c.id)
        .join(oldest, literal(True))
        .order_by(oldest.c.arrived_at, oldest.c.id)
        .limit(1)
    )


@cache
def _agent_for_call_stmt(locking: bool):
    """The waiting unoffered call (locked) and the longest-idle free agent with its skills, locked."""
    call = (
        select(Contact.id, Contact.queue_id, CallRequirement.language, CallRequirement.service_id)
        .join(CallRequirement, CallRequirement.contact_id == Contact.id)
        .where(Contact.id == bindparam("contact_id"), _waiting(), _not_offered())
    )
    if locking:
        call = call.with_for_update(skip_locked=True, of=Contact)
    waiting = call.cte("waiting_call")
    stmt = (
        select(waiting.c.id, User.id, User.phone_identity)
        .join(user_queues, user_queues.c.user_id == User.id)
        .join(waiting, waiting.c.queue_id == user_queues.c.queue_id)
        .where(_free_agent(), _has_skills(User.id, waiting.c.language, waiting.c.service_id))
        .order_by(User.presence_since, User.id)
        .limit(1)
    )
    return stmt.with_for_update(skip_locked=True, of=User) if locking else stmt


def call_for_agent(session: Session, agent_id: int, pulled: bool = False):
    """(call, agent, agent's device): the longest-waiting call the agent may take, if they are free
    (both rows locked on PostgreSQL); None if there is none."""
    return session.execute(_call_for_agent_stmt(_postgres(session), pulled), {"agent_id": agent_id}).first()


def agent_for_call(session: Session, contact_id: int):
    """(call, agent, agent's device): the longest-idle free agent with the skills the waiting call
    needs (both rows locked on PostgreSQL); None if there is none."""
    return session.execute(_agent_for_call_stmt(_postgres(session)), {"contact_id": contact_id}).first()


def waiting_unoffered(session: Session, limit: int) -> list[int]:
    """The oldest waiting calls nobody is being offered, for the sweep."""
    return list(
        session.scalars(
            select(Contact.id)
            .join(CallRequirement, CallRequirement.contact_id == Contact.id)
            .where(_waiting(), _not_offered())
            .order_by(Contact.arrived_at, Contact.id)
            .limit(limit)
        )
    )


def _insert_offer(session: Session, **values: Any) -> int | None:
    """The offer row, or None when the database already holds an open offer of the call or agent.

    ON CONFLICT DO NOTHING against the partial unique indexes: one statement, no savepoint.
    """
    insert = postgresql_insert if _postgres(session) else sqlite_insert
    stmt = insert(CallOffer).values(**values).on_conflict_do_nothing().returning(CallOffer.id)
    return session.execute(stmt).scalar()


@cache
def _offer_stmt(kind: str):
    """PostgreSQL: pick the pair and insert its offer in one statement (one round trip fewer);
    returns (offer, call, agent, agent's device), or no row when nothing matched or the
    database already held an open offer of the call or agent. `kind`: "agent" (the agent's
    call), "pull" (the same, for an agent who pulls) or "call" (the call's agent)."""
    if kind == "call":
        pick = _agent_for_call_stmt(True).cte("pick")
    else:
        pick = _call_for_agent_stmt(True, kind == "pull").cte("pick")
    call, agent, identity = list(pick.c)
    when = CallOffer.__table__.c.offered_at.type
    offered = (
        postgresql_insert(CallOffer)
        .from_select(
            ["contact_id", "user_id", "offered_at", "expires_at"],
            select(call, agent, bindparam("offered_at", type_=when), bindparam("expires_at", type_=when)),
        )
        .on_conflict_do_nothing()
        .returning(CallOffer.id, CallOffer.contact_id, CallOffer.user_id)
        .cte("offered")
    )
    return select(offered.c.id, offered.c.contact_id, offered.c.user_id, identity).join(
        pick, agent == offered.c.user_id
    )


# -- offering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    """An offer committed to the database, holding the call for the agent; their device not yet rung."""

    offer_id: int
    contact_id: int
    user_id: int
    identity: str


def reserve(
    session: Session,
    ringer: Ringer,
    *,
    agent_id: int | None = None,
    contact_id: int | None = None,
    pulled: bool = False,
    now: datetime | None = None,
) -> Reservation | None:
    """Reserve the agent's longest-waiting call, or the call's longest-idle agent: the offer row,
    committed (None, rolled back, when nothing matches or another process got there first).

    The caller has committed its own work: this commits the offer before the phone rings, so
    the reservation holds and the row locks are gone while Twilio answers.
    """
    if agent_id is None and contact_id is None:
        raise ValueError("reserve needs an agent or a call")
    at = now or utcnow()
    expires = at + timedelta(seconds=ringer.reservation_seconds)
    row = None
    if _postgres(session):
        kind, params = (
            ("pull" if pulled else "agent", {"agent_id": agent_id})
            if agent_id is not None
            else ("call", {"contact_id": contact_id})
        )
        row = session.execute(_offer_stmt(kind), {**params, "offered_at": at, "expires_at": expires}).first()
    elif pair := (
        call_for_agent(session, agent_id, pulled) if agent_id is not None else agent_for_call(session, contact_id)
    ):
        call_id, user_id, identity = pair
        # None here: another process offered this call or rang this agent between our pick
        # and our insert (SQLite, or a row it had not locked): the index kept it to one.
        offer_id = _insert_offer(
            session,
            contact_id=call_id,
            user_id=user_id,
            offered_at=at,
            expires_at=expires,
        )
        row = (offer_id, call_id, user_id, identity) if offer_id is not None else None
    if row is None:
        session.rollback()
        return None
    session.commit()
    return Reservation(*row)


def ring(session: Session, ringer: Ringer, reservation: Reservation, at: datetime) -> None:
    """Ring the agent's device for a reserved offer (commits its leg's sid).

    If Twilio refuses, the offer is withdrawn (not the agent's miss) and the error raised.
    """
    try:
        leg = ringer.client.calls.create(
            to=reservation.identity,
            from_=ringer.from_number,
            url=ringer.url(reservation.offer_id, "answer"),
            method="POST",
            timeout=ringer.reservation_seconds,
            status_callback=ringer.url(reservation.offer_id, "status"),
            status_callback_method="POST",
        )
    except (TwilioException, TransportError):
        session.execute(
            update(CallOffer).where(CallOffer.id == reservation.offer_id).values(result="withdrawn", ended_at=at)
        )
        session.commit()
        raise
    session.execute(update(CallOffer).where(CallOffer.id == reservation.offer_id).values(agent_call_sid=leg.sid))
    session.commit()
    log.info(
        "offered call %s to agent %s (offer %s)", reservation.contact_id, reservation.user_id, reservation.offer_id
    )


def offer_next(
    session: Session,
    ringer: Ringer,
    *,
    agent_id: int | None = None,
    contact_id: int | None = None,
    now: datetime | None = None,
) -> int | None:
    """Offer the agent their longest-waiting call, or the call to its longest-idle agent, and ring
    the agent; returns the offer's id (None when nothing matches or Twilio could not ring)."""
    at = now or utcnow()
    reservation = reserve(session, ringer, agent_id=agent_id, contact_id=contact_id, now=at)
    if reservation is None:
        return None
    try:
        ring(session, ringer, reservation, at)
    except (TwilioException, TransportError) as exc:
        # Not the agent's fault: withdrawn without marking them missed.
        log.error("Twilio could not ring agent %s for offer %s: %s", reservation.user_id, reservation.offer_id, exc)
        return None
    return reservation.offer_id


def take_next(session: Session, ringer: Ringer, agent: User, at: datetime) -> CallOffer:
    """ "Ta nästa samtal": offer the agent the longest-waiting call they may take, now, and ring them.

    The distribution's own offer: exactly the call picked is reserved (never one offered to
    someone else, and never two for the agent), and answering bridges them to exactly that
    caller through the offer's conference. Raises PhoneError (nothing changed) when there is
    nothing to take; Twilio's refusal is raised after the offer is withdrawn.
    """
    if agent.presence != "available":
        raise calls.PhoneError("Du måste vara tillgänglig för att ta samtal.")
    if not agent.phone_identity:
        raise calls.PhoneError("Du har ingen telefon eller klientidentitet kopplad till ditt konto.")
    # Calls queued while the distribution was off have no requirements noted yet.
    note_missing_requirements(session)
    session.commit()
    reservation = reserve(session, ringer, agent_id=agent.id, pulled=True, now=at)
    if reservation is None:
        raise calls.PhoneError(_why_nothing_to_take(session, agent))
    ring(session, ringer, reservation, at)
    return session.get(CallOffer, reservation.offer_id)


def _why_nothing_to_take(session: Session, agent: User) -> str:
    if session.scalar(select(exists().where(CallOffer.user_id == agent.id, CallOffer.result.is_(None)))):
        return "Din telefon ringer redan för ett samtal."
    if calls.live_call(session, agent) is not None:
        return "Du är redan i ett samtal."
    queue_ids = select(user_queues.c.queue_id).where(user_queues.c.user_id == agent.id)
    if session.scalar(select(exists().where(_waiting(), Contact.queue_id.in_(queue_ids)))):
        return "De som väntar i dina köer behöver ett språk eller en tjänst som du inte har, eller rings redan av en kollega."
    return "Ingen väntar i dina köer just nu."


def distribute(
    session: Session,
    ringer: Ringer,
    *,
    agent_ids: Iterable[int] = (),
    contact_ids: Iterable[int] = (),
    now: datetime | None = None,
    limit: int = SWEEP_OFFERS,
) -> list[int]:
    """Offer what the named agents and calls can match now; with none named, the oldest waiting calls.

    One offer at most per named agent or call. Returns the offers' ids.
    """
    offers: list[int] = []
    agent_ids, contact_ids = list(agent_ids), list(contact_ids)
    general = not agent_ids and not contact_ids
    for agent_id in agent_ids:
        offers += filter(None, [offer_next(session, ringer, agent_id=agent_id, now=now)])
    if general:
        contact_ids = waiting_unoffered(session, limit)
        session.rollback()
    for contact_id in contact_ids:
        if general and not session.scalar(_anyone_free_stmt()):
            session.rollback()
            break  # nobody left to ring: the rest waits for an agent's event
        offers += filter(None, [offer_next(session, ringer, contact_id=contact_id, now=now)])
    return offers


def _close(offer: CallOffer, result: str, at: datetime) -> None:
    offer.result = result
    offer.ended_at = max(at, offer.offered_at)


def _cancel_leg(ringer: Ringer | None, offer: CallOffer) -> None:
    """Stop the agent's phone ringing for an offer that ended without them."""
    if ringer is None or not offer.agent_call_sid:
        return
    try:
        ringer.client.calls(offer.agent_call_sid).update(status="canceled")
    except (TwilioException, TransportError) as exc:
        # Already answered or over: nothing rings any more.
        log.info("could not cancel agent leg of offer %s: %s", offer.id, exc)


def _open_offer(session: Session, offer_id: int) -> CallOffer | None:
    stmt = select(CallOffer).where(CallOffer.id == offer_id)
    if _postgres(session):
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def _still_waiting(contact: Contact) -> bool:
    return contact.outcome is None and contact.answered_at is None and contact.ended_at is None


# -- the agent's leg -----------------------------------------------------------------


def answer_offer(session: Session, ringer: Ringer, offer_id: int, agent_call_sid: str, at: datetime) -> CallOffer:
    """The agent picked up: bridge them to exactly the offered caller, as take-next records it.

    The caller is taken out of Twilio's queue by redirecting that one call (by its own
    CallSid) into the offer's conference, never by dequeuing whoever is first.
    Raises DistributionError (and changes nothing) for an offer that is no longer open.
    """
    offer = _open_offer(session, offer_id)
    if offer is None:
        raise DistributionError("Erbjudandet finns inte.")
    if offer.agent_call_sid and offer.agent_call_sid != agent_call_sid:
        raise DistributionError("Samtalet hör inte till erbjudandet.")
    if offer.result is not None:
        raise DistributionError("Samtalet har redan gått vidare.")
    contact = session.get(Contact, offer.contact_id)
    agent = session.get(User, offer.user_id)
    if not _still_waiting(contact):
        _close(offer, "withdrawn", at)
        session.commit()
        raise DistributionError("Samtalet har redan gått vidare.")
    offer.agent_call_sid = agent_call_sid
    _close(offer, "answered", at)
    transfer = transfers.department_transfer(session, contact)
    calls.record_bridge(session, contact.provider_sid, agent, None, at, take_ticket=transfer is None)
    if transfer is not None:
        transfers.answered_in_department(session, transfer, agent, at)
    # Before the commit: if Twilio cannot move the caller, nothing is recorded and the
    # offer stays open until its leg ends or it expires.
    ringer.client.calls(contact.provider_sid).update(url=ringer.url(offer.id, "join"), method="POST")
    session.commit()
    return offer


def join_offer(session: Session, offer_id: int, call_sid: str) -> CallOffer:
    """The caller, redirected out of the queue, joins the conference of the offer they were answered in."""
    offer = session.get(CallOffer, offer_id)
    if offer is None or offer.result != "answered":
        raise DistributionError("Erbjudandet är inte besvarat.")
    contact = session.get(Contact, offer.contact_id)
    if contact is None or contact.provider_sid != call_sid:
        raise DistributionError("Samtalet hör inte till erbjudandet.")
    return offer


@dataclass(frozen=True)
class LegEnd:
    """What the end of an agent's leg frees: a call to re-offer, an agent who is available again."""

    contact_id: int | None = None
    agent_id: int | None = None


def offer_leg_ended(session: Session, offer_id: int, status: str, at: datetime) -> LegEnd:
    """The agent's leg of an offer ended (Twilio's status callback); the caller commits.

    Rang out, busy or failed while open: the offer is missed, the agent "missed" (away
    until they say they are back), and the call is to be offered to the next agent.
    """
    offer = _open_offer(session, offer_id)
    if offer is None or status not in calls.FINAL_CALL_STATUSES:
        return LegEnd()
    agent = session.get(User, offer.user_id)
    if offer.result is None:
        if status in MISSED_LEG_STATUSES:
            miss(session, offer, agent, at)
        else:
            # Picked up but never bridged (the answer was refused): not the agent's miss.
            _close(offer, "withdrawn", at)
        return LegEnd(contact_id=offer.contact_id, agent_id=agent.id)
    if offer.result == "answered":
        presence = calls.record_agent_leg_end(session, agent, status, at)
        return LegEnd(agent_id=agent.id if presence == "available" else None)
    return LegEnd()


def miss(session: Session, offer: CallOffer, agent: User, at: datetime) -> None:
    """The reservation ran out unanswered: the offer is missed, the agent away as "missed"."""
    from ...casework.service import set_presence

    _close(offer, "missed", at)
    if agent.presence == "available":
        set_presence(session, agent, "missed", at)


def expire_offers(session: Session, ringer: Ringer | None, now: datetime) -> list[int]:
    """Open offers past their reservation whose callback never came: missed, the leg cancelled.

    Returns the calls to offer again. Commits.
    """
    stmt = (
        select(CallOffer)
        .where(CallOffer.result.is_(None), CallOffer.expires_at <= now - EXPIRY_GRACE)
        .order_by(CallOffer.expires_at)
    )
    if _postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    expired = session.scalars(stmt).all()
    for offer in expired:
        miss(session, offer, session.get(User, offer.user_id), now)
    session.commit()
    for offer in expired:
        _cancel_leg(ringer, offer)
    return [offer.contact_id for offer in expired]


def withdraw_offers(session: Session, ringer: Ringer | None, contact_id: int, at: datetime) -> list[int]:
    """The call left the queue (hung up, became a callback, was taken): its open offer is withdrawn.

    The agent's ringing leg is cancelled; their presence stays as it is. Returns the agents
    whose offer was withdrawn (free for another call). Commits.
    """
    contact = session.get(Contact, contact_id)
    if contact is not None and _still_waiting(contact):
        return []
    stmt = select(CallOffer).where(CallOffer.contact_id == contact_id, CallOffer.result.is_(None))
    if _postgres(session):
        stmt = stmt.with_for_update()
    offers = session.scalars(stmt).all()
    for offer in offers:
        _close(offer, "withdrawn", at)
    session.commit()
    for offer in offers:
        _cancel_leg(ringer, offer)
    return [offer.user_id for offer in offers]


def answered_by_offer(session: Session, call_sid: str) -> bool:
    """The call was redirected out of its queue because an agent answered its offer."""
    return bool(
        session.scalar(
            select(func.count(CallOffer.id))
            .join(Contact, Contact.id == CallOffer.contact_id)
            .where(Contact.provider_sid == call_sid, Contact.channel == "phone", CallOffer.result == "answered")
        )
    )


def sweep(session: Session, ringer: Ringer | None, now: datetime) -> list[int]:
    """The scheduled round: expire reservations, note new calls' requirements, offer what matches."""
    expire_offers(session, ringer, now)
    if ringer is None:
        return []
    note_missing_requirements(session)
    session.commit()
    return distribute(session, ringer, now=now)


# -- the app's side: run right after an event's commit -----------------------------


def enabled(config) -> bool:
    return bool(config["phone"]["automatic_distribution"])


def app_ringer() -> Ringer:
    """The current app's Ringer (its Twilio client, number, public URL and reservation time)."""
    from flask import current_app

    from ...notify.transport import from_number, twilio_client

    return Ringer(
        client=twilio_client(),
        from_number=from_number(),
        base_url=current_app.config["PUBLIC_BASE_URL"],
        reservation_seconds=current_app.config["phone"]["reservation_seconds"],
    )


def after_event(
    session: Session,
    *,
    at: datetime,
    agent_ids: Iterable[int | None] = (),
    contact_ids: Iterable[int | None] = (),
    gone: Iterable[int | None] = (),
) -> list[int]:
    """After an event's commit, in the same request: withdraw offers of calls that left the
    queue (`gone`), then offer what the freed agents and the queued calls can match.

    Never fails the event: it is committed already, and the sweep tries again in seconds.
    """
    from flask import current_app

    try:
        ringer = app_ringer()
        freed = [
            agent for contact_id in filter(None, gone) for agent in withdraw_offers(session, ringer, contact_id, at)
        ]
        agent_ids = list(dict.fromkeys(i for i in [*agent_ids, *freed] if i))
        contact_ids = [i for i in contact_ids if i]
        # Only what the event freed or queued: the sweep looks at everything else.
        if not enabled(current_app.config) or not (agent_ids or contact_ids):
            return []
        return distribute(session, ringer, agent_ids=agent_ids, contact_ids=contact_ids, now=at)
    except Exception:  # noqa: BLE001 - the event itself is done; the sweep retries
        log.exception("call distribution after an event failed; the sweep tries again")
        session.rollback()
        return []


@presence_changed.connect
def _back_at_the_phone(agent: User, *, session: Session, presence: str, at: datetime) -> None:
    """An agent who set themselves available (the console or the phone page) is offered the
    longest-waiting call they can take at once, not at the next sweep."""
    if presence == "available":
        after_event(session, at=at, agent_ids=[agent.id])


def after_call_queued(session: Session, contact_id: int, at: datetime) -> list[int]:
    """A call reached its queue: note what it needs, then offer it to a free agent."""
    from flask import current_app

    if not enabled(current_app.config):
        return []
    contact = session.get(Contact, contact_id)
    if contact is None or not _still_waiting(contact):
        return []
    note_requirements(session, contact)
    session.commit()
    return after_event(session, at=at, contact_ids=[contact_id])
