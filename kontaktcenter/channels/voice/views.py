"""Twilio's voice webhooks: greeting and menu, queue, hold loop, queue result, bridge, call status."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _
from twilio.base.exceptions import TwilioException
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ...auth.decorators import public
from ...database import db
from ...directory.models import User
from ...errors import DomainError
from ...errors_http import answer_under
from ...extensions import csrf
from ...notify.transport import TransportError, twilio_client
from ...worktime.calendar import STOCKHOLM, current_calendar
from ..clock import now
from ..twilio_security import public_url, validate_twilio_request
from . import calls, distribution, name_dialling, transfers
from . import jobs as _jobs  # noqa: F401 - registers the distribution's sweep with the scheduler

log = logging.getLogger(__name__)

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")
# Twilio cannot send a CSRF token; the signature check protects these routes instead.
csrf.exempt(bp)

VOICE = {"voice": "Polly.Astrid", "language": "sv-SE"}
GATHER_TIMEOUT = 6
# How long the hold loop listens for "1" before Twilio asks /wait again.
WAIT_GATHER_TIMEOUT = 20


def url(endpoint_path: str) -> str:
    # Absolute URLs under PUBLIC_BASE_URL: what Twilio calls is what it signs and we check.
    return public_url(current_app, endpoint_path)


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def _phone_config() -> Mapping[str, Any]:
    return current_app.config["phone"]


def _line() -> str:
    return _phone_config()["line_queue"]


def _say(target, text: str) -> None:
    target.say(text, **VOICE)


def _apology(error: DomainError) -> Response:
    """A refused webhook (errors_http calls it): the caller hears an apology, the log says why."""
    log.warning("voice webhook %s refused: %s", request.path, error)
    response = VoiceResponse()
    _say(response, _("Något gick fel. Ring gärna igen."))
    response.hangup()
    return twiml(response)  # 200: Twilio speaks only the TwiML of a successful answer


answer_under("/twilio/voice/", _apology, locale="sv")


def _menu_gather(response: VoiceResponse, choices: list[calls.MenuChoice]) -> None:
    gather = Gather(num_digits=1, action=url("/twilio/voice/menu"), method="POST", timeout=GATHER_TIMEOUT)
    for choice in choices:
        if choice.digit == calls.GENERAL_LINE_DIGIT:
            _say(gather, _("För övriga frågor, tryck %(digit)s.", digit=choice.digit))
        else:
            _say(
                gather,
                _(
                    "Gäller det %(service)s, tryck %(digit)s.",
                    service=choice.service.name_sv.lower(),
                    digit=choice.digit,
                ),
            )
    response.append(gather)
    # No key pressed: Twilio posts to the menu without Digits, which means the general line.
    response.redirect(url("/twilio/voice/menu"), method="POST")


def _closed(response: VoiceResponse, queue_code: str, at: datetime) -> None:
    opens = current_calendar().next_opening(queue_code, at)
    _say(response, _("Just nu har vi stängt."))
    if opens is not None:
        when = format_datetime(opens, "EEEE d MMMM 'klockan' HH.mm", tzinfo=STOCKHOLM, locale="sv")
        _say(response, _("Vi öppnar igen %(when)s.", when=when))
    _say(response, _("Du kan också skriva till oss på malmo.se slash kontakt. Välkommen åter."))
    response.hangup()


@bp.post("/incoming")
@public
@validate_twilio_request
def incoming():
    """A new call: out-of-hours message, or the greeting and the menu."""
    response = VoiceResponse()
    line = _line()
    at = now()
    db.autocommit()  # the greeting only reads the menu: no transaction to open and close
    if not current_calendar().is_open(line, at):
        _closed(response, line, at)
        return twiml(response)
    _say(response, _phone_config()["greeting"])
    _menu_gather(response, calls.menu(db.session, _phone_config()))
    return twiml(response)


@bp.post("/menu")
@public
@validate_twilio_request
def menu():
    """The caller chose: store the call (idempotent on CallSid), route it, <Enqueue> it."""
    form = request.form
    call_sid = form.get("CallSid", "")
    response = VoiceResponse()
    choices = calls.menu(db.session, _phone_config())
    service = calls.service_for_digit(choices, form.get("Digits"))
    if not call_sid:
        _say(response, _("Något gick fel. Ring gärna igen."))
        response.hangup()
        return twiml(response), 400
    if service is None:
        _say(response, _("Det valet finns inte."))
        _menu_gather(response, choices)
        return twiml(response)
    if _name_dialling_chosen(form.get("Digits")):
        return _switchboard_prompt(call_sid, form.get("From"))
    at = now()
    received = calls.enqueue_call(db.session, call_sid=call_sid, caller=form.get("From"), service=service, at=at)
    queue = received.contact.queue
    queue_code = queue.code
    if received.created and not current_calendar().is_open(queue_code, at):
        # The routed queue is closed although the line is open: the request stored
        # nothing else, so undoing its whole transaction undoes exactly this call.
        db.session.rollback()
        _closed(response, queue_code, at)
        return twiml(response)
    db.session.commit()
    if received.contact.outcome is not None:
        # A very late retry of a call that has already left the queue.
        response.hangup()
        return twiml(response)
    # Straight into the queue: arrived_at (now) is the queue entry (METRICS.md); the
    # hold loop's first turn says "Du är nu i kö".
    return _into_queue(response, received.contact.id, queue_code, at)


def _into_queue(response: VoiceResponse, contact_id: int, queue_code: str, at: datetime) -> Response:
    """The stored call enters its queue: offered to a free agent at once, the caller on the hold loop."""
    distribution.after_call_queued(db.session, contact_id, at)
    response.enqueue(
        queue_code,
        action=url("/twilio/voice/queue-result"),
        method="POST",
        wait_url=url("/twilio/voice/wait"),
        wait_url_method="POST",
    )
    return twiml(response)


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw not in (None, "") else None
    except ValueError:
        return None


@bp.post("/wait")
@public
@validate_twilio_request
def wait():
    """The hold loop: position, expected wait, and the callback offer (press 1)."""
    form = request.form
    call_sid = form.get("CallSid", "")
    response = VoiceResponse()
    at = now()
    if form.get("Digits") == "1":
        try:
            calls.request_callback(db.session, call_sid, at)
        except calls.PhoneError as exc:
            # Not the apology and a hang-up: the caller hears why and stays in the queue.
            db.session.rollback()
            _say(response, str(exc))
        else:
            db.session.commit()
            _call_left_queue(call_sid, at)
            response.leave()
            return twiml(response)
    # Asked every 20 seconds for every caller in a queue, and it only reads: one statement,
    # without a transaction's BEGIN and ROLLBACK around it.
    db.autocommit()
    contact, mean_wait = calls.call_on_hold(db.session, call_sid, at)
    position = _number(form.get("QueuePosition"))
    waited = _number(form.get("QueueTime"))
    if waited == 0:
        # Twilio asks /wait the moment the caller enters the queue (QueueTime 0).
        _say(response, _("Du är nu i kö. Ditt samtal besvaras i tur och ordning."))
    waited = waited or 0
    if position:
        _say(response, _("Du har plats %(position)d i kön.", position=int(position)))
    expected = calls.expected_wait(mean_wait, waited)
    if expected is not None:
        minutes = int(expected.total_seconds() // 60)
        _say(response, _("Beräknad väntetid är cirka %(minutes)d minuter.", minutes=minutes))
    if contact is not None and contact.citizen_phone:
        gather = Gather(num_digits=1, action=url("/twilio/voice/wait"), method="POST", timeout=WAIT_GATHER_TIMEOUT)
        _say(gather, _("Tryck 1 för att bli uppringd i stället, så behåller du din plats."))
        response.append(gather)
    else:
        response.pause(length=WAIT_GATHER_TIMEOUT)
    return twiml(response)


@bp.post("/bridge")
@public
@validate_twilio_request
def bridge():
    """Twilio dequeues the caller to an agent (<Dial><Queue url>): record who answered and when."""
    agent = db.session.get(User, request.args.get("agent", type=int) or 0)
    response = VoiceResponse()
    if agent is None:
        log.warning("bridge webhook for call %s names no known agent", request.form.get("CallSid"))
        return twiml(response)
    contact = calls.record_bridge(
        db.session, request.form.get("CallSid", ""), agent, _number(request.form.get("QueueTime")), now()
    )
    # The agent's own leg, which a warm transfer moves into a conference.
    transfers.note_agent_leg(
        db.session, request.form.get("CallSid", ""), agent, request.form.get("DequeingCallSid"), now()
    )
    db.session.commit()
    if contact is not None:
        # Taken by an agent who pulled it: an offer of it to someone else is withdrawn.
        distribution.after_event(db.session, at=now(), gone=[contact.id])
    _say(response, _("Nu kopplas du till %(name)s.", name=agent.name.split()[0]))
    return twiml(response)


@bp.post("/agent-status")
@public
@validate_twilio_request
def agent_status():
    """The call that rang the agent (take next call) ended: free or park the agent."""
    agent = db.session.get(User, request.args.get("agent", type=int) or 0)
    if agent is not None:
        calls.record_agent_leg_end(db.session, agent, request.form.get("CallStatus", ""), now())
        db.session.commit()
        distribution.after_event(db.session, at=now(), agent_ids=[agent.id])
    return Response(status=204)


@bp.post("/queue-result")
@public
@validate_twilio_request
def queue_result():
    """The caller left the queue: answered (after the conversation), hung up, or chose a callback."""
    form = request.form
    result = form.get("QueueResult", "")
    response = VoiceResponse()
    if result == "redirected" and distribution.answered_by_offer(db.session, form.get("CallSid", "")):
        # An agent answered its offer and the caller went on into their conference: the
        # conversation goes on, its end comes with the status callback.
        return twiml(response)
    contact = calls.record_queue_result(
        db.session, form.get("CallSid", ""), result, _number(form.get("QueueTime")), now()
    )
    db.session.commit()
    if contact is not None:
        _call_event(contact)
    if result == "leave" and contact is not None and contact.outcome == "callback_requested":
        _say(
            response,
            _(
                "Tack. Vi ringer upp dig så snart vi kan. Ditt ärendenummer är %(reference)s.",
                reference=contact.ticket.reference,
            ),
        )
    elif result == "queue-full":
        _say(response, _("Just nu är det många som ringer. Försök gärna igen om en stund."))
    response.hangup()
    return twiml(response)


@bp.post("/status")
@public
@validate_twilio_request
def status():
    """The call's status callback: when it ended; a call that never reached a queue is an IVR drop."""
    form = request.form
    contact = calls.record_status(
        db.session,
        call_sid=form.get("CallSid", ""),
        status=form.get("CallStatus", ""),
        duration=_number(form.get("CallDuration")),
        caller=form.get("From"),
        at=now(),
        line_open=lambda started: current_calendar().is_open(_line(), started),
        queue_time=_number(form.get("QueueTime")),
    )
    db.session.commit()
    if contact is not None:
        _call_event(contact)
    return Response(status=204)


# -- automatic call distribution (distribution.py) ------------------------------------


def _call_event(contact) -> None:
    """A call ended or left its queue: withdraw its offer, and offer the freed agent a call."""
    gone = contact.id if contact.outcome is not None or contact.ended_at is not None else None
    distribution.after_event(db.session, at=now(), gone=[gone], agent_ids=[contact.answered_by_id])


def _call_left_queue(call_sid: str, at: datetime) -> None:
    contact = calls.call_by_sid(db.session, call_sid)
    if contact is not None:
        distribution.after_event(db.session, at=at, gone=[contact.id])


def _hang_up_agent(text: str) -> Response:
    response = VoiceResponse()
    _say(response, text)
    response.hangup()
    return twiml(response)


@bp.post("/offers/<int:offer_id>/answer")
@public
@validate_twilio_request
def offer_answer(offer_id: int):
    """The agent answered an offered call: bridge them to exactly that caller."""
    try:
        offer = distribution.answer_offer(
            db.session, distribution.app_ringer(), offer_id, request.form.get("CallSid", ""), now()
        )
    except distribution.DistributionError as exc:
        db.session.rollback()
        log.info("offer %s not bridged: %s", offer_id, exc)
        return _hang_up_agent(_("Samtalet har redan besvarats eller avslutats."))
    except (TwilioException, TransportError) as exc:
        db.session.rollback()
        log.error("Twilio could not move the caller of offer %s to the agent: %s", offer_id, exc)
        return _hang_up_agent(_("Samtalet kunde inte kopplas."))
    response = VoiceResponse()
    _say(response, _("Nu kopplas du till samtalet."))
    _into_offer_room(response, offer)
    # When the room ends because the caller was moved (a warm transfer puts them on hold
    # first), the agent's leg asks what next instead of hanging up, as a pulled call's did.
    response.redirect(url(f"/twilio/voice/agent-after?agent={offer.user_id}"), method="POST")
    return twiml(response)


def _into_offer_room(response: VoiceResponse, offer) -> Response:
    """The offer's conference, which the agent and exactly the offered caller join."""
    dial = Dial()
    # Either leaving ends the room, so nobody is left alone in it.
    dial.conference(
        distribution.conference_name(offer), start_conference_on_enter=True, end_conference_on_exit=True, beep=False
    )
    response.append(dial)
    return twiml(response)


@bp.post("/offers/<int:offer_id>/join")
@public
@validate_twilio_request
def offer_join(offer_id: int):
    """The offered caller, moved out of the queue, joins the agent who answered."""
    db.autocommit()
    try:
        offer = distribution.join_offer(db.session, offer_id, request.form.get("CallSid", ""))
    except distribution.DistributionError as exc:
        log.warning("caller join of offer %s refused: %s", offer_id, exc)
        return _hang_up_agent(_("Något gick fel. Ring gärna igen."))
    return _into_offer_room(VoiceResponse(), offer)


@bp.post("/offers/<int:offer_id>/status")
@public
@validate_twilio_request
def offer_status(offer_id: int):
    """The agent's leg of an offer ended: missed (the call goes to the next agent) or done."""
    at = now()
    ended = distribution.offer_leg_ended(db.session, offer_id, request.form.get("CallStatus", ""), at)
    db.session.commit()
    distribution.after_event(db.session, at=at, contact_ids=[ended.contact_id], agent_ids=[ended.agent_id])
    return Response(status=204)


# -- live-call transfers (transfers.py): what Twilio reports about a transfer's legs --------


def _transfer_id() -> int:
    return request.args.get("transfer", type=int) or 0


@bp.post("/transfer-result")
@public
@validate_twilio_request
def transfer_result():
    """A cold transfer's <Dial> or department <Enqueue> ended: record whether it was answered."""
    form = request.form
    response = VoiceResponse()
    transfer = transfers.transfer_of(db.session, _transfer_id())
    if (
        transfer is not None
        and transfer.kind == "queue"
        and form.get("QueueResult") == "redirected"
        and distribution.answered_by_offer(db.session, form.get("CallSid", ""))
    ):
        # A caseworker answered the department queue's offer (recorded then) and the caller
        # went on into their conference: the conversation goes on.
        return twiml(response)
    if transfer is not None and transfer.kind == "queue":
        transfer = transfers.record_queue_transfer_result(
            db.session,
            transfer.id,
            form.get("CallSid", ""),
            form.get("QueueResult", ""),
            _number(form.get("QueueTime")),
            now(),
        )
    elif transfer is not None:
        transfer = transfers.record_dial_result(
            db.session,
            transfer.id,
            form.get("CallSid", ""),
            form.get("DialCallStatus", ""),
            _number(form.get("DialCallDuration")),
            now(),
        )
    if transfer is not None and transfer.status == "unanswered" and transfer.kind != "queue":
        # Nobody answered: back to the line the caller came in on, not a hang-up, as a new
        # queue entry the distribution and take-next find like any waiting call.
        again = transfers.requeue_transferred(db.session, transfer, now())
        db.session.commit()
        _say(response, _("Det svarar inte just nu. Du kopplas tillbaka till kontaktcenter."))
        response.enqueue(
            again.queue.code if again.queue else _line(),
            action=url("/twilio/voice/queue-result"),
            method="POST",
            wait_url=url("/twilio/voice/wait"),
            wait_url_method="POST",
        )
        distribution.after_call_queued(db.session, again.id, now())
        return twiml(response)
    db.session.commit()
    if transfer is not None and transfer.requeued_contact_id is not None:
        # The department queue's entry is over: its offer (a caseworker's phone ringing) is withdrawn.
        distribution.after_event(db.session, at=now(), gone=[transfer.requeued_contact_id])
    if transfer is not None and transfer.status == "unanswered":
        _say(response, _("Ingen kunde svara just nu. Ditt ärende är lämnat över och du blir kontaktad."))
    response.hangup()
    return twiml(response)


@bp.post("/transfer-wait")
@public
@validate_twilio_request
def transfer_wait():
    """The hold loop of a caller transferred to a department queue (no callback offer: the errand is handed over)."""
    response = VoiceResponse()
    db.autocommit()
    transfer = transfers.transfer_of(db.session, _transfer_id())
    waited = _number(request.form.get("QueueTime")) or 0
    if transfer is not None and waited >= current_app.config["transfers"]["department_wait_seconds"]:
        # Nobody of the department could answer: the errand is handed over all the same
        # (transfer-result tells the caller so), rather than a hold loop without end.
        response.leave()
        return twiml(response)
    if transfer is not None and transfer.queue_id is not None and waited == 0:
        _say(response, _("Du är nu i kö till förvaltningen. Ditt samtal besvaras i tur och ordning."))
    position = _number(request.form.get("QueuePosition"))
    if position:
        _say(response, _("Du har plats %(position)d i kön.", position=int(position)))
    response.pause(length=WAIT_GATHER_TIMEOUT)
    return twiml(response)


@bp.post("/transfer-hold")
@public
@validate_twilio_request
def transfer_hold():
    """The caller's hold loop while the agent speaks to the receiver of a warm transfer."""
    db.autocommit()
    transfer = transfers.transfer_of(db.session, _transfer_id())
    if transfer is None:
        response = VoiceResponse()
        response.hangup()
        return twiml(response)
    move = transfers.caller_move(db.session, transfer)
    if move is not None:
        # The transfer ended but the move after it did not reach Twilio: the loop takes the caller there.
        return Response(_caller_twiml(move), mimetype="text/xml")
    return Response(
        transfers.hold_twiml(url(f"/twilio/voice/transfer-hold?transfer={transfer.id}")), mimetype="text/xml"
    )


def _caller_twiml(move: transfers.CallerMove) -> str:
    return transfers.caller_twiml(
        move, queue_result_url=url("/twilio/voice/queue-result"), wait_url=url("/twilio/voice/wait")
    )


def _move_caller(move: transfers.CallerMove, at: datetime) -> None:
    """After the commit: take the transferred caller's leg where the transfer's end says."""
    try:
        client = twilio_client()
        if move.kind == "hangup":
            client.calls(move.call_sid).update(status="completed")
        else:
            client.calls(move.call_sid).update(twiml=_caller_twiml(move))
    except (TwilioException, TransportError) as exc:
        if move.kind == "hangup":
            # Most often the caller hung up first, which is what ended the room.
            log.info("the caller of contact %s was not hung up: %s", move.contact_id, exc)
        else:
            # The caller's hold loop asks again within transfers.HOLD_PAUSE_SECONDS and goes there then.
            log.error("Twilio could not move the transferred caller of contact %s: %s", move.contact_id, exc)
    if move.kind == "queue":
        distribution.after_call_queued(db.session, move.contact_id, at)


@bp.post("/transfer-status")
@public
@validate_twilio_request
def transfer_status():
    """A leg of a warm transfer: the receiver's call status, and the conference's participant join and leave."""
    form = request.form
    status = form.get("CallStatus", "")
    conference_event = form.get("StatusCallbackEvent")
    if conference_event:
        # Joining the conference is answering; leaving it is hanging up (other events: nothing).
        status = {"participant-join": "in-progress", "participant-leave": "completed"}.get(conference_event, "")
    at = now()
    move = transfers.record_warm_leg_status(db.session, _transfer_id(), form.get("CallSid", ""), status, at)
    db.session.commit()
    if move is not None:
        _move_caller(move, at)
    return Response(status=204)


@bp.post("/agent-after")
@public
@validate_twilio_request
def agent_after():
    """The agent's leg after its bridge ended: wait a moment for a warm transfer's conference, else hang up."""
    db.autocommit()
    agent = db.session.get(User, request.args.get("agent", type=int) or 0)
    tries = request.args.get("try", type=int) or 0
    response = VoiceResponse()
    if agent is not None and transfers.agent_leg_waits(db.session, agent, request.form.get("CallSid", ""), tries):
        response.pause(length=transfers.AGENT_WAIT_SECONDS)
        response.redirect(url(f"/twilio/voice/agent-after?agent={agent.id}&try={tries + 1}"), method="POST")
        return twiml(response)
    response.hangup()
    return twiml(response)


def _name_dialling_chosen(digits: str | None) -> bool:
    return name_dialling.chose_switchboard(digits, _switchboard_settings())


def _switchboard_settings() -> Mapping[str, Any]:
    return current_app.config["switchboard"]


def _general_service():
    choices = calls.menu(db.session, _phone_config())
    return calls.service_for_digit(choices, calls.GENERAL_LINE_DIGIT)


def _switchboard_prompt(call_sid: str, caller: str | None) -> Response:
    """The caller pressed the switchboard digit: record the request, ask for a name."""
    name_dialling.start(db.session, call_sid=call_sid, caller=caller, service=_general_service(), at=now())
    db.session.commit()
    response = VoiceResponse()
    gather = Gather(
        input="speech",
        language="sv-SE",
        hints=name_dialling.speech_hints(db.session, _switchboard_settings()["max_hints"]),
        speech_timeout="auto",
        timeout=GATHER_TIMEOUT,
        action=url("/twilio/voice/switchboard/name"),
        method="POST",
    )
    _say(gather, _("Säg namnet på personen eller verksamheten du söker."))
    response.append(gather)
    # Nothing said: Twilio goes on here without SpeechResult, which means the queue.
    response.redirect(url("/twilio/voice/switchboard/name"), method="POST")
    return twiml(response)
