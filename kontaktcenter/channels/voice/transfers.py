"""Live-call transfers: cold to a department queue, a person or an external number; warm through a conference.

Every transfer is a CallTransfer row and an event on the ticket; `answered_at` is set when
the receiving side answers (the <Dial> action, a caseworker answering the department queue
entry's offer, or the receiver leg's status callback of a warm transfer), so METRICS.md's `transfers` and
`transfers_completed` are counted from the rows (metrics/transfers.py).

Twilio's side, all through the Calls resource of the REST API:
- cold: the caller's leg is redirected to <Dial> the target (action: the transfer's result
  webhook), or <Enqueue>d in the department's queue with the handover made as for written errands,
  a new queue entry there that the distribution offers to the department's free caseworkers;
- warm: the caller's leg goes to a hold loop, the agent's leg into a conference named for
  the contact and the receiver is dialled into it; the agent then completes (the caller
  joins the conference, the agent's leg is hung up) or cancels (the receiver's leg is hung
  up, the caller joins the agent again).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from phonenumbers import shortnumberinfo
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Dial, VoiceResponse

from ...casework.escalation import Handover, department_queues, escalate
from ...casework.service import set_presence
from ...contacts.calls import AgentLeg, CallOffer, CallRequirement, CallTransfer
from ...contacts.models import Contact
from ...directory.models import Queue, User
from ...switchboard import directory
from ...switchboard.models import StaffMember, SwitchboardRequest
from ...tickets.service import record_event
from .calls import FINAL_CALL_STATUSES, QUEUE_RESULTS, PhoneError, live_call, record_queue_result

KINDS = ("queue", "person", "external")
# A handover note is as long as an escalation's "what the citizen wants" (casework/forms.py).
NOTE_MAX_LENGTH = 4000
NUMBER_MAX_LENGTH = 100
SEARCH_MAX_LENGTH = 200
# Statuses of a transfer still under way (a warm one keeps the agent in the call).
OPEN_STATUSES = ("connecting", "answered", "unanswered")
# The caller hears the same voice as in the IVR (views.VOICE).
VOICE = {"voice": "Polly.Astrid", "language": "sv-SE"}
HOLD_PAUSE_SECONDS = 20
# When a caller leaves the bridge, the agent's leg waits this long, this many times, for a
# warm transfer to move it into the conference before it hangs up.
AGENT_WAIT_SECONDS = 2
AGENT_WAIT_TRIES = 3
# Twilio's <Dial> outcomes that mean the receiver picked up.
DIAL_ANSWERED = ("completed", "answered")
# phonenumbers' types by the names the setting `[transfers] refused_number_types` uses.
NUMBER_TYPES = {
    "premium_rate": phonenumbers.PhoneNumberType.PREMIUM_RATE,
    "shared_cost": phonenumbers.PhoneNumberType.SHARED_COST,
    "personal_number": phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    "voip": phonenumbers.PhoneNumberType.VOIP,
    "uan": phonenumbers.PhoneNumberType.UAN,
    "pager": phonenumbers.PhoneNumberType.PAGER,
    "voicemail": phonenumbers.PhoneNumberType.VOICEMAIL,
}

# Builds the absolute URL of a transfer webhook ("result", "wait", "hold", "status") for a transfer id.
Webhook = Callable[[str, int], str]


class TransferError(PhoneError):
    """A transfer that cannot be made; the message says why (Swedish, for the agent)."""


@dataclass(frozen=True)
class TransferRequest:
    """What the agent asked for on the live-call panel (already parsed, not yet checked)."""

    contact_id: int
    kind: str
    warm: bool = False
    queue_id: int | None = None
    staff_member_id: int | None = None
    number: str = ""
    note: str = ""
    # The agent saw the person's absence notice and connects anyway.
    confirm_absent: bool = False
    # Connecting to the alternative an absent person's notice names: who was asked for.
    instead_of_id: int | None = None


@dataclass(frozen=True)
class Twilio:
    """How a transfer reaches Twilio: the REST client, the number legs come from, the webhooks."""

    client: Any
    from_number: str
    webhook: Webhook
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LivePanel:
    """What the live-call panel shows: the call, its transfer under way, the targets to choose from."""

    contact: Contact
    transfer: CallTransfer | None
    queues: list[Queue]
    query: str
    matches: list[StaffMember]
    at: datetime
    # Who the transfer under way rings: the employee's name and number, or the number.
    receiver: str = ""
    # A warm transfer whose receiver did not answer or hung up: the caller is back with the agent.
    returned: CallTransfer | None = None


# -- checking the request ---------------------------------------------------------


def external_number(raw: str, settings: Mapping[str, Any]) -> str:
    """The external number in E.164, or a TransferError saying why it cannot be dialled."""
    text = raw.strip()
    if not text:
        raise TransferError("Skriv numret du vill koppla till.", field="number")
    if len(text) > NUMBER_MAX_LENGTH:
        raise TransferError("Numret är för långt.", field="number")
    try:
        parsed = phonenumbers.parse(text, settings["default_region"])
    except phonenumbers.NumberParseException:
        raise TransferError("%(number)s är inte ett telefonnummer.", field="number", number=text) from None
    refused = set(settings["refused_number_types"])
    if shortnumberinfo.is_valid_short_number(parsed):
        if "short" in refused:
            raise TransferError("Samtal kopplas inte till kortnummer (%(number)s).", field="number", number=text)
    elif not phonenumbers.is_valid_number(parsed):
        raise TransferError("%(number)s är inte ett giltigt telefonnummer.", field="number", number=text)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    kind = phonenumbers.number_type(parsed)
    if any(NUMBER_TYPES.get(name) == kind for name in refused) or any(
        e164.startswith(prefix) for prefix in settings["refused_prefixes"]
    ):
        raise TransferError(
            "Samtal kopplas inte till betalnummer eller spärrade nummer (%(number)s).", field="number", number=text
        )
    return e164


def _note(text: str) -> str:
    note = text.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise TransferError("Anteckningen får vara högst %(n)d tecken.", field="note", n=NOTE_MAX_LENGTH)
    if "\x00" in note:
        raise TransferError("Anteckningen innehåller otillåtna tecken.", field="note")
    return note


def _agents_live_call(session: Session, agent: User, contact_id: int) -> Contact:
    """The call the agent is talking in, locked; refused when it is not theirs or no longer live."""
    stmt = select(Contact).where(Contact.id == contact_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Contact)
    contact = session.scalar(stmt)
    if (
        contact is None
        or contact.channel != "phone"
        or contact.answered_by_id != agent.id
        or contact.outcome is not None
        or contact.ended_at is not None
        or contact.provider_sid is None
    ):
        # Same words for another agent's call and a call that is over: nothing to tell.
        raise TransferError("Samtalet är inte längre ditt pågående samtal. Ladda om sidan.")
    return contact


def open_transfer(session: Session, contact: Contact) -> CallTransfer | None:
    """The call's transfer under way (a warm one the agent has not completed or cancelled)."""
    return session.scalar(
        select(CallTransfer)
        .where(
            CallTransfer.contact_id == contact.id,
            CallTransfer.status.in_(OPEN_STATUSES),
            CallTransfer.ended_at.is_(None),
        )
        .order_by(CallTransfer.id.desc())
        .limit(1)
    )


def agent_leg(session: Session, contact: Contact) -> str | None:
    """The sid of the agent's leg bridged to this caller, as Twilio reported it to /bridge.

    Else the leg of the distribution's answered offer to the agent, which knows its own sid.
    """
    reported = session.scalar(
        select(AgentLeg.call_sid)
        .where(AgentLeg.contact_id == contact.id, AgentLeg.user_id == contact.answered_by_id)
        .order_by(AgentLeg.id.desc())
        .limit(1)
    )
    return reported or session.scalar(
        select(CallOffer.agent_call_sid)
        .where(
            CallOffer.contact_id == contact.id,
            CallOffer.user_id == contact.answered_by_id,
            CallOffer.result == "answered",
            CallOffer.agent_call_sid.is_not(None),
        )
        .order_by(CallOffer.id.desc())
        .limit(1)
    )


def note_agent_leg(session: Session, call_sid: str, agent: User, agent_call_sid: str | None, at: datetime) -> None:
    """Remember the agent's leg that Twilio bridged to the caller (the bridge's DequeingCallSid)."""
    if not agent_call_sid or len(agent_call_sid) > 64:
        return
    contact = session.scalar(select(Contact).where(Contact.provider_sid == call_sid, Contact.channel == "phone"))
    if contact is None or contact.answered_by_id != agent.id:
        return
    known = session.scalar(
        select(AgentLeg.id).where(AgentLeg.contact_id == contact.id, AgentLeg.call_sid == agent_call_sid)
    )
    if known is None:  # Twilio retried the bridge webhook
        session.add(AgentLeg(contact_id=contact.id, user_id=agent.id, call_sid=agent_call_sid, at=at))


def agent_leg_waits(session: Session, agent: User, agent_call_sid: str, tries: int) -> bool:
    """Whether the agent's leg, whose bridge just ended, should stay up a moment longer.

    It does while the call it was bridged to is still live for the agent (a warm transfer is
    being set up and will move the leg into the conference), a few tries at most; a call that
    is over or was handed on lets it hang up.
    """
    if tries >= AGENT_WAIT_TRIES or not agent_call_sid:
        return False
    contact = session.scalar(
        select(Contact)
        .join(AgentLeg, AgentLeg.contact_id == Contact.id)
        .where(AgentLeg.call_sid == agent_call_sid, AgentLeg.user_id == agent.id)
        .order_by(AgentLeg.id.desc())
        .limit(1)
    ) or session.scalar(
        # The leg of an answered offer (the distribution's, or "take next") knows its own sid.
        select(Contact)
        .join(CallOffer, CallOffer.contact_id == Contact.id)
        .where(
            CallOffer.agent_call_sid == agent_call_sid,
            CallOffer.user_id == agent.id,
            CallOffer.result == "answered",
        )
        .order_by(CallOffer.id.desc())
        .limit(1)
    )
    return contact is not None and contact.outcome is None and contact.ended_at is None


# -- TwiML ----------------------------------------------------------------------------


def conference_name(contact: Contact) -> str:
    return f"kc-transfer-{contact.id}"


def _dial_noun(dial: Dial, number: str) -> None:
    # A directory entry may hold a SIP address or a Twilio client identity instead of a number.
    if number.startswith("sip:"):
        dial.sip(number)
    elif number.startswith("client:"):
        dial.client(number.removeprefix("client:"))
    else:
        dial.number(number)


def _cold_dial_twiml(number: str, label: str, result_url: str, ring_seconds: int) -> str:
    response = VoiceResponse()
    response.say(f"Du kopplas nu till {label}.", **VOICE)
    dial = Dial(action=result_url, method="POST", timeout=ring_seconds)
    _dial_noun(dial, number)
    response.append(dial)
    return str(response)


def _queue_twiml(queue: Queue, result_url: str, wait_url: str) -> str:
    response = VoiceResponse()
    response.say(f"Du kopplas nu till {queue.department.name_sv if queue.department else queue.name_sv}.", **VOICE)
    response.enqueue(queue.code, action=result_url, method="POST", wait_url=wait_url, wait_url_method="POST")
    return str(response)


def hold_twiml(hold_url: str) -> str:
    """The caller's hold loop while the agent speaks to the receiver (asked again after each pause)."""
    response = VoiceResponse()
    response.say("Du kopplas strax vidare. Var god dröj.", **VOICE)
    response.pause(length=HOLD_PAUSE_SECONDS)
    response.redirect(hold_url, method="POST")
    return str(response)


def _conference_twiml(name: str, *, end_on_exit: bool, status_url: str | None = None) -> str:
    response = VoiceResponse()
    dial = Dial()
    options: dict[str, Any] = {
        "start_conference_on_enter": True,
        "end_conference_on_exit": end_on_exit,
        "beep": False,
    }
    if status_url:
        options.update(status_callback=status_url, status_callback_event="join leave", status_callback_method="POST")
    dial.conference(name, **options)
    response.append(dial)
    return str(response)


# -- making the transfer ----------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    kind: str
    label: str
    number: str = ""
    queue: Queue | None = None
    staff_member: StaffMember | None = None
    asked_for: StaffMember | None = None


def _target(session: Session, request: TransferRequest, settings: Mapping[str, Any], at: datetime) -> _Target:
    if request.kind == "queue":
        if request.warm:
            raise TransferError("Ett varmt överlämnande går bara till en person eller ett nummer.", field="warm")
        queue = session.get(Queue, request.queue_id) if request.queue_id else None
        if queue is None or queue.kind != "department" or not queue.active:
            raise TransferError("Välj en förvaltnings kö att koppla till.", field="queue_id")
        return _Target("queue", queue.name_sv, queue=queue)
    if request.kind == "person":
        person = session.get(StaffMember, request.staff_member_id) if request.staff_member_id else None
        if person is None or not person.active:
            raise TransferError("Välj en medarbetare i växelns katalog.", field="staff_member_id")
        if not person.phone:
            raise TransferError("%(name)s har inget nummer att koppla till.", name=person.name)
        asked_for = None
        if request.instead_of_id is not None:
            asked_for = session.get(StaffMember, request.instead_of_id)
            if asked_for is None or asked_for.alternative_id != person.id:
                raise TransferError("%(name)s är inte den som frånvaroanmälan hänvisar till.", name=person.name)
        if person.is_absent(at) and not request.confirm_absent:
            # The notice is on the panel beside the person; connecting anyway is a choice.
            raise TransferError(
                "%(name)s är frånvarande: %(notice)s Koppla till alternativet eller bekräfta att du vill koppla ändå.",
                name=person.name,
                notice=person.absence_message or "",
            )
        return _Target("person", person.name, number=person.phone, staff_member=person, asked_for=asked_for)
    if request.kind == "external":
        number = external_number(request.number, settings)
        return _Target("external", number, number=number)
    raise TransferError("Välj vart samtalet ska kopplas.", field="kind")


def start_transfer(
    session: Session, agent: User, request: TransferRequest, twilio: Twilio, at: datetime
) -> CallTransfer:
    """Transfer the agent's live call as asked; the caller's leg is moved before this returns.

    Checks everything before Twilio is asked, so a refusal changes nothing; if Twilio
    refuses, the caller's transaction is rolled back by the view.
    """
    contact = _agents_live_call(session, agent, request.contact_id)
    if open_transfer(session, contact) is not None:
        raise TransferError("Samtalet håller redan på att kopplas. Slutför eller avbryt det först.")
    note = _note(request.note)
    target = _target(session, request, twilio.settings, at)
    ticket = contact.ticket
    if target.kind == "queue":
        if ticket is None:
            raise TransferError("Samtalet har inget ärende att lämna över.")
        if not note:
            raise TransferError("Skriv en överlämning till handläggaren: vad medborgaren vill.", field="note")
        # The ticket goes to the department exactly as a written errand is escalated.
        escalate(session, ticket, agent, target.queue, Handover(citizen_wants=note), now=at)
    transfer = CallTransfer(
        contact_id=contact.id,
        user_id=agent.id,
        at=at,
        kind=target.kind,
        warm=request.warm,
        queue_id=target.queue.id if target.queue else None,
        staff_member_id=target.staff_member.id if target.staff_member else None,
        number=target.number,
        status="connecting",
    )
    session.add(transfer)
    session.flush()
    if target.kind == "person":
        session.add(
            SwitchboardRequest(
                contact_id=contact.id,
                at=at,
                via="agent",
                staff_member_id=(target.asked_for or target.staff_member).id,
                connected_to_id=target.staff_member.id,
            )
        )
    if ticket is not None:
        detail: dict[str, Any] = {"transfer_id": transfer.id, "transfer_kind": target.kind, "warm": request.warm}
        if note and target.kind != "queue":  # a queue's handover is in its escalation
            detail["note"] = note
        record_event(session, ticket, "call_transferred", actor=agent, to_value=target.label, at=at, **detail)
    if request.warm:
        _start_warm(session, contact, transfer, agent, twilio)
    else:
        _start_cold(contact, transfer, target, twilio)
        _hand_on(session, contact, agent, at)
    if target.kind == "queue":
        # The caller waits in the department's queue as a queue entry of its own, which the
        # distribution offers to the department's free caseworkers like any waiting call.
        transfer.requeued_contact_id = requeue(session, contact, at, queue=target.queue).id
    return transfer


def _hand_on(session: Session, contact: Contact, agent: User, at: datetime) -> None:
    """The agent's part of the call is over: the contact ends here (its handling time stops at
    the hand-over, not when the receiver hangs up) and the agent is free for the next caller."""
    contact.outcome = "answered"
    contact.ended_at = max(at, contact.answered_at or at)
    if agent.presence == "busy":
        set_presence(session, agent, "available", at)


def _start_cold(contact: Contact, transfer: CallTransfer, target: _Target, twilio: Twilio) -> None:
    result_url = twilio.webhook("result", transfer.id)
    if target.kind == "queue":
        twiml = _queue_twiml(target.queue, result_url, twilio.webhook("wait", transfer.id))
    else:
        twiml = _cold_dial_twiml(target.number, target.label, result_url, twilio.settings["ring_seconds"])
    twilio.client.calls(contact.provider_sid).update(twiml=twiml)


def _start_warm(session: Session, contact: Contact, transfer: CallTransfer, agent: User, twilio: Twilio) -> None:
    leg = agent_leg(session, contact)
    if leg is None:
        raise TransferError("Din del av samtalet är okänd, så ett varmt överlämnande går inte. Koppla kallt i stället.")
    transfer.agent_call_sid = leg
    name = conference_name(contact)
    # The caller waits first: moving the agent would otherwise leave them alone on the line.
    twilio.client.calls(contact.provider_sid).update(twiml=hold_twiml(twilio.webhook("hold", transfer.id)))
    # The conference tells us when the agent leaves it (hangs up before handing over).
    twilio.client.calls(leg).update(
        twiml=_conference_twiml(name, end_on_exit=False, status_url=twilio.webhook("status", transfer.id))
    )
    receiver = twilio.client.calls.create(
        to=transfer.number,
        from_=twilio.from_number,
        # Not ending the conference on leaving: a cancelled receiver must not take the agent with them.
        twiml=_conference_twiml(name, end_on_exit=False, status_url=twilio.webhook("status", transfer.id)),
        status_callback=twilio.webhook("status", transfer.id),
        status_callback_event=["answered", "completed"],
        status_callback_method="POST",
        timeout=twilio.settings["ring_seconds"],
    )
    transfer.receiver_call_sid = receiver.sid


def _agents_open_warm(session: Session, agent: User, transfer_id: int) -> tuple[CallTransfer, Contact]:
    transfer = session.get(CallTransfer, transfer_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if transfer is None or transfer.user_id != agent.id or not transfer.warm:
        raise TransferError("Överlämnandet finns inte.")
    if transfer.status not in OPEN_STATUSES or transfer.ended_at is not None:
        raise TransferError("Överlämnandet är redan avslutat.")
    return transfer, _agents_live_call(session, agent, transfer.contact_id)


def complete_warm(session: Session, agent: User, transfer_id: int, twilio: Twilio, at: datetime) -> CallTransfer:
    """The agent has spoken to the receiver: the caller joins them and the agent leaves."""
    transfer, contact = _agents_open_warm(session, agent, transfer_id)
    if transfer.status != "answered":
        raise TransferError("Mottagaren har inte svarat. Avbryt för att ta tillbaka samtalet.")
    _complete(session, transfer, contact, agent, at)
    _hand_on(session, contact, agent, at)
    name = conference_name(contact)
    twilio.client.calls(contact.provider_sid).update(twiml=_conference_twiml(name, end_on_exit=True))
    twilio.client.calls(transfer.agent_call_sid).update(status="completed")
    return transfer


def _complete(session: Session, transfer: CallTransfer, contact: Contact, agent: User | None, at: datetime) -> None:
    transfer.status = "completed"
    transfer.ended_at = at
    if contact.ticket is not None:
        record_event(session, contact.ticket, "call_transfer_completed", actor=agent, at=at, transfer_id=transfer.id)


def cancel_warm(session: Session, agent: User, transfer_id: int, twilio: Twilio, at: datetime) -> CallTransfer:
    """The agent takes the call back: the receiver's leg is hung up and the caller joins the agent."""
    transfer, contact = _agents_open_warm(session, agent, transfer_id)
    answered = transfer.status == "answered"
    transfer.status = "cancelled"
    transfer.ended_at = at
    if contact.ticket is not None:
        record_event(session, contact.ticket, "call_transfer_cancelled", actor=agent, at=at, transfer_id=transfer.id)
    if transfer.receiver_call_sid:
        # A ringing leg is cancelled, an answered one completed (Twilio's two ways to hang up).
        twilio.client.calls(transfer.receiver_call_sid).update(status="completed" if answered else "canceled")
    twilio.client.calls(contact.provider_sid).update(
        twiml=_conference_twiml(conference_name(contact), end_on_exit=True)
    )
    return transfer


# -- what Twilio reports ------------------------------------------------------------------


def _transfer_for_caller(session: Session, transfer_id: int, call_sid: str) -> CallTransfer | None:
    """The transfer named in the webhook's URL, only if the reporting leg is that transfer's caller."""
    transfer = session.get(CallTransfer, transfer_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if transfer is None:
        return None
    sids = {c.provider_sid for c in (session.get(Contact, transfer.contact_id), _requeued(session, transfer)) if c}
    return transfer if call_sid in sids else None


def _requeued(session: Session, transfer: CallTransfer) -> Contact | None:
    return session.get(Contact, transfer.requeued_contact_id) if transfer.requeued_contact_id else None


def _answered(session: Session, transfer: CallTransfer, at: datetime) -> None:
    if transfer.answered_at is not None:
        return
    transfer.answered_at = max(at, transfer.at)
    if transfer.status == "connecting":
        transfer.status = "answered"
    contact = session.get(Contact, transfer.contact_id)
    if contact.ticket is not None:
        record_event(
            session, contact.ticket, "call_transfer_answered", at=transfer.answered_at, transfer_id=transfer.id
        )
    if transfer.kind == "person":
        request = session.scalar(
            select(SwitchboardRequest)
            .where(
                SwitchboardRequest.contact_id == contact.id,
                SwitchboardRequest.via == "agent",
                SwitchboardRequest.connected_to_id == transfer.staff_member_id,
                SwitchboardRequest.connected_at.is_(None),
            )
            .order_by(SwitchboardRequest.id.desc())
            .limit(1)
        )
        if request is not None:
            request.connected_at = transfer.answered_at


def _unanswered(session: Session, transfer: CallTransfer, result: str, at: datetime) -> None:
    if transfer.answered_at is not None or transfer.status != "connecting":
        return
    transfer.status = "unanswered"
    if not transfer.warm:
        transfer.ended_at = at
    contact = session.get(Contact, transfer.contact_id)
    if contact.ticket is not None:
        record_event(
            session, contact.ticket, "call_transfer_unanswered", to_value=result, at=at, transfer_id=transfer.id
        )


def record_dial_result(
    session: Session, transfer_id: int, call_sid: str, dial_status: str, duration: float | None, at: datetime
) -> CallTransfer | None:
    """A cold transfer's <Dial> ended: answered (then the conversation's length is known) or not."""
    transfer = _transfer_for_caller(session, transfer_id, call_sid)
    if transfer is None or transfer.kind == "queue":
        return None
    if dial_status in DIAL_ANSWERED:
        _answered(session, transfer, at - timedelta(seconds=duration or 0))
        transfer.ended_at = transfer.ended_at or at
    else:
        _unanswered(session, transfer, dial_status or "unknown", at)
    return transfer


def record_queue_transfer_result(
    session: Session, transfer_id: int, call_sid: str, queue_result: str, queue_time: float | None, at: datetime
) -> CallTransfer | None:
    """The caller left the department queue without a caseworker's offer answered: they hung
    up, or waited `department_wait_seconds` (the hold loop's <Leave>). The transfer is
    unanswered and the queue entry ends (the caller commits, then withdraws its offers);
    the escalation stays in the department's inbox. A "bridged" result (a caseworker who
    dequeued the caller in Twilio itself) counts as answered."""
    transfer = _transfer_for_caller(session, transfer_id, call_sid)
    if transfer is None or transfer.kind != "queue":
        return None
    if queue_result == "bridged":
        waited = timedelta(seconds=queue_time) if queue_time and queue_time > 0 else at - transfer.at
        _answered(session, transfer, transfer.at + waited)
        transfer.ended_at = transfer.ended_at or at
    else:
        _unanswered(session, transfer, queue_result or "unknown", at)
    entry = _requeued(session, transfer)
    if entry is not None and entry.provider_sid == call_sid and queue_result in QUEUE_RESULTS:
        # Not answered there: "abandoned" in the department queue's figures (nobody answered);
        # the ticket is not closed, its handover waits in the inbox (calls._close_abandoned).
        record_queue_result(session, call_sid, queue_result, queue_time, at)
    return transfer


def department_transfer(session: Session, entry: Contact) -> CallTransfer | None:
    """The cold transfer whose caller waits as this entry of a department queue, if any."""
    if entry.queue is None or entry.queue.kind != "department":
        return None  # the first line's calls (nearly all): no look in call_transfers
    return session.scalar(
        select(CallTransfer).where(CallTransfer.requeued_contact_id == entry.id, CallTransfer.kind == "queue").limit(1)
    )


def answered_in_department(session: Session, transfer: CallTransfer, caseworker: User, at: datetime) -> None:
    """A caseworker answered the department queue's offer of the transferred caller.

    The ticket stays escalated to the department (not assigned to whoever picked up): the
    escalation is the department's to accept in its inbox, and a caseworker answering the
    phone on a busy morning has not taken on the errand. Who answered is an event on it.
    """
    _answered(session, transfer, at)
    transfer.ended_at = transfer.ended_at or at
    ticket = session.get(Contact, transfer.contact_id).ticket
    if ticket is not None:
        record_event(session, ticket, "call_answered_in_department", actor=caseworker, at=at, transfer_id=transfer.id)


def _under_way(transfer: CallTransfer) -> bool:
    return transfer.ended_at is None and transfer.status in OPEN_STATUSES


@dataclass(frozen=True)
class CallerMove:
    """Where a transferred caller's leg goes now: "conference" (the transfer's room: back with the
    agent, or on to the receiver), "queue" (a new queue entry) or "hangup"."""

    call_sid: str
    kind: str
    contact_id: int
    room: str = ""
    queue_code: str = ""


def _to_room(contact: Contact) -> CallerMove:
    return CallerMove(contact.provider_sid, "conference", contact.id, room=conference_name(contact))


def _to_queue(contact: Contact) -> CallerMove:
    return CallerMove(contact.provider_sid, "queue", contact.id, queue_code=contact.queue.code)


def record_warm_leg_status(
    session: Session, transfer_id: int, call_sid: str, status: str, at: datetime
) -> CallerMove | None:
    """A leg of a warm transfer, as Twilio reports it (the receiver's call status, and the
    conference's participant join and leave); the caller commits, then moves the caller's leg.

    The receiver answering: the transfer is answered (and handed over at once if the agent has
    left). The receiver gone before the hand-over (never answered, or hung up): the caller is
    back with the agent, who is told on the live-call panel, or, if the agent has left too,
    back in the queue. The agent leaving: see `_agent_left`.
    """
    transfer = session.get(CallTransfer, transfer_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if transfer is None or not transfer.warm or not call_sid:
        return None
    if call_sid == transfer.agent_call_sid and transfer.receiver_call_sid != call_sid:
        return _agent_left(session, transfer, at) if status in FINAL_CALL_STATUSES else None
    if transfer.receiver_call_sid != call_sid:
        return None
    contact = session.get(Contact, transfer.contact_id)
    if status == "in-progress":
        _answered(session, transfer, at)
        if _under_way(transfer) and transfer.agent_left_at is not None:
            # The agent left while it rang: the receiver gets the caller.
            _complete(session, transfer, contact, None, at)
            return _to_room(contact)
        return None
    if status not in FINAL_CALL_STATUSES or not _under_way(transfer):
        return None
    if transfer.answered_at is None:
        _unanswered(session, transfer, status, at)
    elif transfer.status == "answered":
        # It was answered all the same (answered_at stays: METRICS.md transfers_completed).
        transfer.status = "unanswered"
        if contact.ticket is not None:
            record_event(session, contact.ticket, "call_transfer_receiver_left", at=at, transfer_id=transfer.id)
    transfer.ended_at = at
    if transfer.agent_left_at is None:
        return _to_room(contact)
    return _to_queue(requeue_transferred(session, transfer, at))


def _agent_left(session: Session, transfer: CallTransfer, at: datetime) -> CallerMove | None:
    """The agent's leg left the transfer's conference (they hung up) before handing over.

    The receiver already there gets the caller; one still ringing gets them on answering (else
    the caller goes back to the queue). After the caller came back to the agent, the agent
    hanging up ends the conversation, as in any call.
    """
    if transfer.agent_left_at is not None or transfer.status == "completed":
        return None
    newer = session.scalar(
        select(CallTransfer.id).where(CallTransfer.contact_id == transfer.contact_id, CallTransfer.id > transfer.id)
    )
    if newer is not None:
        # The agent left this transfer's room for the next try's (it moves their leg): not a hang-up.
        return None
    transfer.agent_left_at = at
    contact = session.get(Contact, transfer.contact_id)
    if not _under_way(transfer):
        live = contact.outcome is None and contact.ended_at is None
        return CallerMove(contact.provider_sid, "hangup", contact.id) if live else None
    # The agent's part of the call is over: they are free for the next caller.
    _hand_on(session, contact, session.get(User, transfer.user_id), at)
    if contact.ticket is not None:
        record_event(session, contact.ticket, "call_transfer_agent_left", at=at, transfer_id=transfer.id)
    if transfer.status == "answered":
        _complete(session, transfer, contact, None, at)
        return _to_room(contact)
    return None


def requeue_transferred(session: Session, transfer: CallTransfer, at: datetime) -> Contact:
    """The caller of a transfer nobody took goes back to the line's queue (once, however often
    Twilio retries): a new queue entry that the distribution and take-next find like any call."""
    if transfer.requeued_contact_id is not None:
        return session.get(Contact, transfer.requeued_contact_id)
    again = requeue(session, session.get(Contact, transfer.contact_id), at)
    transfer.requeued_contact_id = again.id
    transfer.ended_at = transfer.ended_at or at
    return again


def requeue(session: Session, contact: Contact, at: datetime, queue: Queue | None = None) -> Contact:
    """The caller of an answered call goes back in its queue (or on to `queue`, a department's)
    as a new queue entry; the conversation they had stays a contact of its own (its wait,
    answer and handling time are not rewritten)."""
    sid = contact.provider_sid
    contact.outcome = contact.outcome or "answered"
    contact.ended_at = contact.ended_at or max(at, contact.answered_at or contact.arrived_at)
    # provider_sid is unique and every webhook finds the call by it: the finished part keeps
    # Twilio's CallSid with a suffix, the new queue entry takes it over.
    contact.provider_sid = f"{sid}#{contact.id}"
    session.flush()
    again = Contact(
        channel="phone",
        provider_sid=sid,
        ticket_id=contact.ticket_id,
        service_id=contact.service_id,
        queue_id=queue.id if queue is not None else contact.queue_id,
        language=contact.language,
        citizen_phone=contact.citizen_phone,
        reply_channel=contact.reply_channel,
        placement=contact.placement,
        started_at=at,
        arrived_at=at,
    )
    session.add(again)
    session.flush()
    known = session.get(CallRequirement, contact.id)
    if known is not None:
        # The caller still needs their language; a service skill is the first line's, not a department's.
        session.add(
            CallRequirement(
                contact_id=again.id, language=known.language, service_id=known.service_id if queue is None else None
            )
        )
    if contact.ticket is not None:
        record_event(session, contact.ticket, "call_requeued", at=at, contact_id=again.id)
    return again


def caller_move(session: Session, transfer: CallTransfer) -> CallerMove | None:
    """Where the caller of a warm transfer belongs now (their hold loop asks, in case the move
    after the leg's report did not reach Twilio); None while the transfer is under way."""
    if _under_way(transfer):
        return None
    if transfer.requeued_contact_id is not None:
        return _to_queue(session.get(Contact, transfer.requeued_contact_id))
    return _to_room(session.get(Contact, transfer.contact_id))


def caller_twiml(move: CallerMove, *, queue_result_url: str, wait_url: str) -> str:
    """The TwiML that takes the caller where `move` says."""
    if move.kind == "conference":
        # The caller ends the room on leaving, so nobody is left alone in it.
        return _conference_twiml(move.room, end_on_exit=True)
    response = VoiceResponse()
    if move.kind == "queue":
        response.say("Det gick inte att koppla vidare. Du står i kö till kontaktcenter igen.", **VOICE)
        response.enqueue(
            move.queue_code, action=queue_result_url, method="POST", wait_url=wait_url, wait_url_method="POST"
        )
    else:
        response.hangup()
    return str(response)


def transfer_of(session: Session, transfer_id: int) -> CallTransfer | None:
    return session.get(CallTransfer, transfer_id)


# -- the panel ---------------------------------------------------------------------------


def live_panel(session: Session, agent: User, query: str, at: datetime) -> LivePanel | None:
    """The live-call panel for the agent's connected call (None when they are in no call)."""
    contact = live_call(session, agent)
    if contact is None:
        return None
    transfer = open_transfer(session, contact)
    queues = [q for q in department_queues(session) if contact.ticket is None or q.id != contact.ticket.queue_id]
    text = query.strip()[:SEARCH_MAX_LENGTH] if query else ""
    matches = directory.search(session, text, limit=10) if text else []
    latest = transfer or session.scalar(
        select(CallTransfer).where(CallTransfer.contact_id == contact.id).order_by(CallTransfer.id.desc()).limit(1)
    )
    returned = latest if latest is not None and latest.warm and latest.status == "unanswered" else None
    receiver = ""
    if latest is not None:
        person = session.get(StaffMember, latest.staff_member_id) if latest.staff_member_id else None
        receiver = f"{person.name}, {latest.number}" if person else latest.number
    return LivePanel(contact, transfer, queues, text, matches, at, receiver, returned if transfer is None else None)
