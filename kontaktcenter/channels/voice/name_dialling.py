"""Name dialling on the general line: "säg namnet på personen du söker", a confident match
confirmed and connected, anything else to the switchboard queue; each call recorded.

The call's record from the moment the caller chooses the switchboard digit: a contact
without a ticket (outcome `ivr_dropped` while it is in the IVR, so a hang-up there stays
out of the queue figures) and its SwitchboardRequest (METRICS.md `switchboard_calls`).
When the call goes on to the switchboard queue, that contact is replaced by the queued
call's own contact and ticket, which the request then names; when the call is connected
to the person, the ticket-less contact stays the call's record with outcome
`switchboard` (it never reached a queue, and was not dropped either).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...contacts.citizen import caller_number
from ...contacts.models import Contact
from ...directory.models import Service
from ...intake.receive import Received
from ...switchboard.directory import Match, search_scored
from ...switchboard.models import StaffMember, SwitchboardRequest
from . import calls

# Twilio's limit for one speech hint (characters).
HINT_MAX_CHARS = 100
# What makes a decision: a person to confirm, or the switchboard queue and why.
CONFIRM, NO_SPEECH, UNSURE, NO_MATCH, AMBIGUOUS = "confirm", "no_speech", "unsure", "no_match", "ambiguous"


def chose_switchboard(digits: str | None, settings: Mapping[str, Any]) -> bool:
    """The caller pressed the menu's switchboard digit (no key at all stays the general queue)."""
    return bool(settings["name_dialling"]) and (digits or "").strip()[:1] == calls.GENERAL_LINE_DIGIT


def speech_hints(session: Session, max_hints: int) -> str:
    """The directory's names (active staff, then their units) for Twilio's recogniser, capped."""
    names = session.scalars(
        select(StaffMember.name).where(StaffMember.active.is_(True)).distinct().order_by(StaffMember.name)
    ).all()
    units = session.scalars(
        select(StaffMember.unit)
        .where(StaffMember.active.is_(True), StaffMember.unit != "")
        .distinct()
        .order_by(StaffMember.unit)
    ).all()
    hints: list[str] = []
    for hint in [*names, *units]:
        # A comma separates hints: it cannot be part of one.
        hint = " ".join(hint.replace(",", " ").split())[:HINT_MAX_CHARS]
        if hint and hint not in hints:
            hints.append(hint)
        if len(hints) >= max_hints:
            break
    return ", ".join(hints)


@dataclass(frozen=True)
class Decision:
    kind: str  # CONFIRM or why the call goes to the switchboard queue
    match: Match | None = None


def decide(session: Session, speech: str | None, confidence: float | None, settings: Mapping[str, Any]) -> Decision:
    """A single confident match, or the reason there is none.

    Confident: Twilio heard the words with at least `min_speech_confidence`, the best
    directory match scores at least `min_match_score`, and it leads the second by `min_lead`.
    """
    if not (speech or "").strip():
        return Decision(NO_SPEECH)
    if confidence is None or confidence < settings["min_speech_confidence"]:
        return Decision(UNSURE)
    matches = search_scored(session, speech, limit=2)
    if not matches or matches[0].score < settings["min_match_score"]:
        return Decision(NO_MATCH)
    if len(matches) > 1 and matches[0].score - matches[1].score < settings["min_lead"]:
        return Decision(AMBIGUOUS)
    return Decision(CONFIRM, matches[0])


def request_for(session: Session, call_sid: str) -> SwitchboardRequest | None:
    return session.scalar(
        select(SwitchboardRequest)
        .join(Contact, Contact.id == SwitchboardRequest.contact_id)
        .where(Contact.provider_sid == call_sid, Contact.channel == "phone")
    )


def start(session: Session, *, call_sid: str, caller: str | None, service: Service, at: datetime) -> SwitchboardRequest:
    """The caller chose the switchboard: the call's record and its request (idempotent on CallSid)."""
    existing = request_for(session, call_sid)
    if existing is not None:
        return existing
    stored = calls.call_by_sid(session, call_sid)
    if stored is not None:
        # The call has a record already (it was queued, or its end was reported first).
        request = SwitchboardRequest(contact_id=stored.id, at=at, via="digit")
        session.add(request)
        session.flush()
        return request
    contact = Contact(
        channel="phone",
        provider_sid=call_sid,
        citizen_phone=caller_number(caller),
        service_id=service.id,
        started_at=at,
        arrived_at=at,
        outcome="ivr_dropped",
    )
    try:
        with session.begin_nested():
            session.add(contact)
            session.flush()
            request = SwitchboardRequest(contact_id=contact.id, at=at, via="digit")
            session.add(request)
            session.flush()
    except IntegrityError:
        # A parallel retry of the same webhook stored it first.
        existing = request_for(session, call_sid)
        if existing is None:
            # The id is another channel's (an SMS's MessageSid): no call of ours.
            raise calls.PhoneError("Samtalet finns inte.") from None
        return existing
    return request


def heard(request: SwitchboardRequest, decision: Decision) -> None:
    """The caller said something: the request is by speech, and names whom it asked for."""
    if decision.kind == NO_SPEECH:
        return
    request.via = "speech"
    if decision.match is not None:
        request.staff_member_id = decision.match.staff.id


def target(session: Session, staff_id: int, at: datetime) -> StaffMember | None:
    """Whom a confirmed call rings: the active person, if present and reachable."""
    member = session.get(StaffMember, staff_id)
    if member is None or not member.active or not member.phone or member.is_absent(at):
        return None
    return member


def alternative_for(member: StaffMember) -> StaffMember | None:
    """The person the absence notice names instead, when they can take the call."""
    alternative = member.alternative
    if alternative is None or not alternative.active or not alternative.phone:
        return None
    return alternative


def record_dial(
    session: Session, call_sid: str, staff_id: int, status: str, duration: float | None, at: datetime
) -> SwitchboardRequest | None:
    """The <Dial> to a person ended: connected when they answered (connected_at: when they did)."""
    request = request_for(session, call_sid)
    if request is None:
        return None
    if status in ("completed", "answered") and request.connected_at is None:
        request.connected_to_id = staff_id
        request.connected_at = at - timedelta(seconds=duration or 0)
        contact = session.get(Contact, request.contact_id)
        if contact.ticket_id is None:  # the IVR's own record: the call ended connected, not dropped
            contact.outcome = "switchboard"
    return request


def to_queue(session: Session, *, call_sid: str, caller: str | None, service: Service, at: datetime) -> Received:
    """The call goes on to the switchboard queue: the queued call's contact and ticket
    take the place of the IVR record, and the request names them."""
    request = request_for(session, call_sid)
    placeholder = session.get(Contact, request.contact_id) if request is not None else None
    if placeholder is not None and placeholder.ticket_id is None:
        placeholder.provider_sid = None  # free the CallSid for the queued call's contact
        session.flush()
    received = calls.enqueue_call(session, call_sid=call_sid, caller=caller, service=service, at=at)
    if request is not None and request.contact_id != received.contact.id:
        request.contact_id = received.contact.id
        session.flush()
        if placeholder is not None and placeholder.ticket_id is None:
            session.delete(placeholder)
            session.flush()
    return received
