"""Twilio's webhooks of name dialling: the spoken name, the confirmation, the <Dial> result.

The menu (views.py) asks a caller who pressed the switchboard digit for a name
(`switchboard_prompt`); what follows lives under /twilio/voice/switchboard/.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask_babel import gettext as _
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ...auth.decorators import public
from ...database import db
from ...extensions import csrf
from ...switchboard.models import StaffMember
from ...switchboard.staff import absence_day
from ...worktime.calendar import current_calendar
from ..clock import now
from ..twilio_security import validate_twilio_request
from . import calls, name_dialling
from .views import (
    GATHER_TIMEOUT,
    _closed,
    _general_service,
    _into_queue,
    _number,
    _say,
    _switchboard_settings,
    twiml,
    url,
)

bp = Blueprint("switchboard_voice", __name__, url_prefix="/twilio/voice/switchboard")
csrf.exempt(bp)  # Twilio signs instead


def _offer(response: VoiceResponse, member: StaffMember) -> None:
    gather = Gather(
        num_digits=1,
        action=url(f"/twilio/voice/switchboard/confirm?staff={member.id}"),
        method="POST",
        timeout=GATHER_TIMEOUT,
    )
    title = f", {member.title}" if member.title else ""
    _say(gather, _("Tryck 1 för att bli kopplad till %(name)s%(title)s.", name=member.name, title=title))
    response.append(gather)
    # No key: the switchboard queue.
    response.redirect(url("/twilio/voice/switchboard/queue"), method="POST")


def _queue(response: VoiceResponse) -> Response:
    """On to the switchboard queue (the general line's queue), as the menu would enqueue."""
    form = request.form
    at = now()
    received = name_dialling.to_queue(
        db.session, call_sid=form.get("CallSid", ""), caller=form.get("From"), service=_general_service(), at=at
    )
    queue_code = received.contact.queue.code
    if received.created and not current_calendar().is_open(queue_code, at):
        db.session.rollback()
        _closed(response, queue_code, at)
        return twiml(response)
    db.session.commit()
    if received.contact.outcome is not None:
        response.hangup()  # a late retry of a call that has left the queue
        return twiml(response)
    _say(response, _("Du kopplas till växeln."))
    return _into_queue(response, received.contact.id, queue_code, at)


def _missing_call() -> Response | None:
    if request.form.get("CallSid"):
        return None
    response = VoiceResponse()
    _say(response, _("Något gick fel. Ring gärna igen."))
    response.hangup()
    return Response(str(response), status=400, mimetype="text/xml")


@bp.post("/name")
@public
@validate_twilio_request
def name():
    """What the caller said: confirm a single confident match, read an absence notice, or queue."""
    if (missing := _missing_call()) is not None:
        return missing
    form = request.form
    response = VoiceResponse()
    switchboard_request = name_dialling.request_for(db.session, form["CallSid"])
    if switchboard_request is None:  # never through the menu's switchboard digit
        name_dialling.start(
            db.session, call_sid=form["CallSid"], caller=form.get("From"), service=_general_service(), at=now()
        )
        switchboard_request = name_dialling.request_for(db.session, form["CallSid"])
    decision = name_dialling.decide(
        db.session, form.get("SpeechResult"), _number(form.get("Confidence")), _switchboard_settings()
    )
    name_dialling.heard(switchboard_request, decision)
    if decision.kind != name_dialling.CONFIRM:
        if decision.kind != name_dialling.NO_SPEECH:
            _say(response, _("Jag hittade ingen som jag är säker på."))
        return _queue(response)
    member = decision.match.staff
    at = now()
    if member.is_absent(at):
        db.session.commit()
        _say(
            response,
            _("%(name)s är frånvarande till och med %(day)s.", name=member.name, day=absence_day(member.absent_until)),
        )
        if member.absence_message:
            _say(response, member.absence_message)
        alternative = name_dialling.alternative_for(member)
        if alternative is None:
            return _queue(response)
        _offer(response, alternative)
        return twiml(response)
    if not member.phone:
        return _queue(response)
    db.session.commit()
    _offer(response, member)
    return twiml(response)


@bp.post("/confirm")
@public
@validate_twilio_request
def confirm():
    """1: ring the person (or the alternative); anything else: the switchboard queue."""
    if (missing := _missing_call()) is not None:
        return missing
    response = VoiceResponse()
    staff_id = request.args.get("staff", type=int) or 0
    member = name_dialling.target(db.session, staff_id, now())
    if request.form.get("Digits") != "1" or member is None:
        return _queue(response)
    _say(response, _("Du kopplas nu till %(name)s.", name=member.name))
    dial = Dial(
        action=url(f"/twilio/voice/switchboard/dialled?staff={member.id}"),
        method="POST",
        timeout=_switchboard_settings()["dial_timeout"],
        answer_on_bridge=True,
    )
    if member.phone.lower().startswith("sip:"):
        dial.sip(member.phone)
    else:
        dial.number(member.phone)
    response.append(dial)
    return twiml(response)


@bp.post("/queue")
@public
@validate_twilio_request
def queue():
    """The caller pressed nothing at the confirmation: the switchboard queue."""
    if (missing := _missing_call()) is not None:
        return missing
    return _queue(VoiceResponse())


@bp.post("/dialled")
@public
@validate_twilio_request
def dialled():
    """The <Dial> ended: connected if answered; unanswered and the caller still there: the queue."""
    if (missing := _missing_call()) is not None:
        return missing
    form = request.form
    status = form.get("DialCallStatus", "")
    name_dialling.record_dial(
        db.session,
        form["CallSid"],
        request.args.get("staff", type=int) or 0,
        status,
        _number(form.get("DialCallDuration")),
        now(),
    )
    db.session.commit()
    response = VoiceResponse()
    if status in ("completed", "answered") or form.get("CallStatus") in calls.FINAL_CALL_STATUSES:
        # Talked and done, or the caller hung up while it rang: nothing more to say.
        response.hangup()
        return twiml(response)
    _say(response, _("Personen svarar inte just nu."))
    return _queue(response)
