"""Live calls in the metrics: arrival at the queue entry, the wait from Twilio's QueueTime (METRICS.md)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.metrics.engine import ReportQuery
from kontaktcenter.metrics.report import report
from kontaktcenter.worktime.calendar import WorkCalendar
from tests.fixtures.factories import at
from tests.fixtures.twilio import call_params, call_sid, parse_twiml

DAY = date(2026, 3, 3)  # the pinned clock's Tuesday


def _figures(session) -> dict:
    session.expire_all()
    table = report(session, ReportQuery(DAY, DAY, as_of=at("2026-03-04 12:00")), WorkCalendar(), 5, use_rollups=False)
    return table.to_dict(orient="records")[0]


def _contact(session, sid: str) -> Contact:
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_sid == sid))


def test_a_hang_up_with_queue_time_42_is_an_abandon_not_a_short_one(twilio, clock, session):
    sid = call_sid()
    twilio.queue(sid)
    clock.set("2026-03-03 10:00:00.110")  # the webhooks 0.11 s apart; Twilio says 42 s in the queue
    twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="hangup", QueueTime="42"))
    contact = _contact(session, sid)
    assert (contact.ended_at - contact.arrived_at).total_seconds() == 42
    figures = _figures(session)
    assert (figures["phone_queued"], figures["phone_short_abandoned"], figures["phone_abandoned"]) == (1, 0, 1)


def test_without_queue_time_the_webhook_times_give_the_wait(twilio, clock, session):
    sid = call_sid()
    twilio.queue(sid)
    clock.set("2026-03-03 10:00:00.110")
    twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="hangup"))
    figures = _figures(session)
    assert (figures["phone_short_abandoned"], figures["phone_abandoned"]) == (1, 0)


def test_queue_time_after_the_status_callback_still_gives_the_wait(twilio, clock, session):
    sid = call_sid()
    twilio.queue(sid)
    clock.set("2026-03-03 10:00:01")
    twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="20"))
    twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="hangup", QueueTime="42"))
    figures = _figures(session)
    assert (figures["phone_short_abandoned"], figures["phone_abandoned"]) == (0, 1)


def test_an_answered_call_waits_its_queue_time(twilio, clock, session, make_user):
    agent = make_user("agent", queues=["kc-forsta-linjen"])
    session.commit()
    sid = call_sid()
    twilio.queue(sid)
    clock.set("2026-03-03 10:00:01")  # the bridge webhook's clock says 1 s; Twilio says 75 s
    twilio.post(f"/twilio/voice/bridge?agent={agent.id}", call_params(sid, QueueTime="75"))
    clock.set("2026-03-03 10:06:00")
    twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="bridged", QueueTime="75"))
    contact = _contact(session, sid)
    assert contact.answered_at == at("2026-03-03 10:01:15")
    assert contact.ended_at == at("2026-03-03 10:06:00")
    figures = _figures(session)
    assert (figures["phone_answered"], figures["asa_seconds"], figures["wait_p90_seconds"]) == (1, 75.0, 75.0)
    assert figures["aht_seconds"] == 285.0


def test_an_answered_call_without_queue_time_waits_by_the_timestamps(twilio, clock, session, make_user):
    agent = make_user("agent", queues=["kc-forsta-linjen"])
    session.commit()
    sid = call_sid()
    twilio.queue(sid)
    clock.set("2026-03-03 10:00:30")
    twilio.post(f"/twilio/voice/bridge?agent={agent.id}", call_params(sid))
    clock.set("2026-03-03 10:04:00")
    twilio.post("/twilio/voice/queue-result", call_params(sid, QueueResult="bridged"))
    figures = _figures(session)
    assert (figures["phone_answered"], figures["asa_seconds"], figures["aht_seconds"]) == (1, 30.0, 210.0)


def test_arrival_is_the_queue_entry_not_the_greeting(twilio, clock, session):
    sid = call_sid()
    twilio.post("/twilio/voice/incoming", call_params(sid))
    clock.set("2026-03-03 10:00:25")  # greeting and menu took 25 s
    root = parse_twiml(twilio.queue(sid).get_data())
    # Nothing is said between the choice and the queue: the call is in the queue now.
    assert [verb.tag for verb in root] == ["Enqueue"]
    assert _contact(session, sid).arrived_at == at("2026-03-03 10:00:25")
    first_turn = parse_twiml(
        twilio.post("/twilio/voice/wait", call_params(sid, QueuePosition="1", QueueTime="0")).get_data()
    )
    assert first_turn[0].text == "Du är nu i kö. Ditt samtal besvaras i tur och ordning."
    later = parse_twiml(
        twilio.post("/twilio/voice/wait", call_params(sid, QueuePosition="1", QueueTime="20")).get_data()
    )
    assert "Du är nu i kö" not in (later[0].text or "")
