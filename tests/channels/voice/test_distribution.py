"""Automatic call distribution: offers to the longest-idle eligible agent, driven by Twilio-signed webhooks."""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kontaktcenter.channels.voice import distribution
from kontaktcenter.channels.voice.jobs import SWEEP_JOB, distribution_sweep
from kontaktcenter.contacts.calls import CallOffer, CallRequirement
from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import ENGINE_KEY, db
from kontaktcenter.directory.models import Department, Queue, User
from kontaktcenter.notify.transport import clear_recorded, recorded
from kontaktcenter.scheduling.jobs import JOBS
from tests.fixtures.twilio import BASE, call_params, call_sid, parse_twiml, twilio_post

QUEUE = "kc-forsta-linjen"  # where the menu's digit 2 (skolval) is routed


@pytest.fixture
def acd(app, session, monkeypatch):
    """Distribution on, and nobody at the phone but the agents the test makes."""
    monkeypatch.setitem(app.config, "phone", {**app.config["phone"], "automatic_distribution": True})
    session.execute(update(User).values(presence="offline"))
    session.commit()


@pytest.fixture
def agent(make_user, session, clock):
    """make("name", idle_minutes=…): an available agent of the first line with a phone."""
    numbers = iter(range(100, 999))

    def make(name: str, *, idle_minutes: int = 1, presence: str = "available", languages=("sv",), **kw):
        user = make_user(
            "agent",
            username=f"{name}-{uuid.uuid4().hex[:6]}",
            queues=[QUEUE],
            presence=presence,
            presence_since=clock.now - timedelta(minutes=idle_minutes),
            languages=languages,
            **{"phone_identity": f"+46701234{next(numbers)}", **kw},
        )
        session.commit()
        return user

    return make


def _twiml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    return parse_twiml(response.get_data())


def _rings(app) -> list[dict]:
    """The agent legs the app asked Twilio to dial (REST Calls.create)."""
    with app.app_context():
        return [r.data for r in recorded() if r.kind == "call"]


def _updates(app) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(r.url.rsplit("/", 1)[1].removesuffix(".json"), r.data) for r in recorded() if r.kind == "call_update"]


def _offers(session, sid: str | None = None) -> list[CallOffer]:
    session.expire_all()
    stmt = select(CallOffer).order_by(CallOffer.id)
    if sid is not None:
        stmt = stmt.join(Contact, Contact.id == CallOffer.contact_id).where(Contact.provider_sid == sid)
    return list(session.scalars(stmt))


def _contact(session, sid: str) -> Contact:
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_sid == sid))


def _leg_status(twilio, offer: CallOffer, status: str):
    return twilio.post(
        f"/twilio/voice/offers/{offer.id}/status",
        call_params(offer.agent_call_sid, CallStatus=status, Direction="outbound-api"),
    )


# -- offering ------------------------------------------------------------------------


def test_queued_call_rings_the_longest_idle_eligible_agent(acd, twilio, app, session, agent):
    agent("nyss", idle_minutes=1)
    longest = agent("langst", idle_minutes=30)
    agent("mitten", idle_minutes=10)
    sid = call_sid()
    twilio.queue(sid)
    [offer] = _offers(session)
    assert offer.user_id == longest.id
    assert offer.contact_id == _contact(session, sid).id
    assert offer.result is None
    assert offer.expires_at - offer.offered_at == timedelta(seconds=15)  # [phone] reservation_seconds
    [ring] = _rings(app)
    assert ring["To"] == longest.phone_identity
    assert ring["Timeout"] == 15
    assert ring["Url"] == f"{BASE}/twilio/voice/offers/{offer.id}/answer"
    assert ring["StatusCallback"] == f"{BASE}/twilio/voice/offers/{offer.id}/status"
    assert offer.agent_call_sid  # the agent's leg, to cancel it or check its webhooks
    # The caller still gets the queue: the hold loop plays while the agent's phone rings.
    assert _contact(session, sid).outcome is None


def test_no_offer_to_a_busy_away_missed_offline_or_on_call_agent(acd, twilio, app, session, agent):
    agent("upptagen", presence="busy", idle_minutes=50)
    agent("borta", presence="away", idle_minutes=50)
    agent("missat", presence="missed", idle_minutes=50)
    agent("utloggad", presence="offline", idle_minutes=50)
    agent("utan-telefon", idle_minutes=50, phone_identity="")
    talking = agent("i-samtal", presence="offline", idle_minutes=50)
    # "i-samtal" talks in an answered call that has not ended, yet says "available".
    earlier = call_sid()
    twilio.queue(earlier)
    contact = _contact(session, earlier)
    contact.answered_at, contact.answered_by_id = contact.arrived_at, talking.id
    session.execute(update(User).where(User.id == talking.id).values(presence="available"))
    session.commit()
    clear_recorded_in(app)
    twilio.queue(call_sid())
    assert _offers(session) == []
    assert _rings(app) == []


def clear_recorded_in(app):
    with app.app_context():
        clear_recorded()


def test_a_caller_the_switchboard_sends_on_to_the_queue_is_offered_at_once(acd, twilio, app, session, agent):
    """Name dialling that finds nobody puts the caller in the general queue: offered like a menu call."""
    waiting = agent("vaxel", idle_minutes=5)
    sid = call_sid()
    twilio.queue(sid, digits="0")  # the switchboard: "säg namnet …"
    assert _offers(session) == []
    root = _twiml(
        twilio.post("/twilio/voice/switchboard/name", call_params(sid, SpeechResult="Ingen Alls", Confidence="0.9"))
    )
    assert root.find("Enqueue") is not None
    [offer] = _offers(session)
    assert (offer.user_id, offer.contact_id) == (waiting.id, _contact(session, sid).id)
    assert _rings(app)[0]["To"] == waiting.phone_identity


def test_an_agent_becoming_available_is_offered_the_longest_waiting_call(acd, twilio, app, session, auth, clock):
    first, second = call_sid(), call_sid()
    twilio.queue(first)
    clock.now += timedelta(seconds=30)
    twilio.queue(second)
    assert _offers(session) == []  # nobody at the phone
    auth.login("agent")  # the demo agent: first line, client:agent
    response = auth.post("/phone/presence", {"presence": "available"}, csrf_page="/phone")
    assert response.status_code == 303
    [offer] = _offers(session)
    assert offer.contact_id == _contact(session, first).id
    assert session.get(User, offer.user_id).username == "agent"
    assert _rings(app)[0]["To"] == "client:agent"


def test_an_agent_available_from_the_console_is_offered_a_call_at_once(acd, twilio, app, session, auth):
    """The console's presence form distributes as the phone page's does, not at the next sweep."""
    sid = call_sid()
    twilio.queue(sid)
    assert _offers(session) == []  # nobody at the phone
    auth.login("agent")
    response = auth.post("/console/presence", {"presence": "available"})
    assert response.status_code == 302
    [offer] = _offers(session)
    assert offer.contact_id == _contact(session, sid).id
    assert session.get(User, offer.user_id).username == "agent"
    assert _rings(app)[0]["To"] == "client:agent"


def test_skills_language_is_respected(acd, twilio, app, session, agent, monkeypatch):
    swedish = agent("svensk", idle_minutes=60)
    arabic = agent("arabisk", idle_minutes=1, languages=("sv", "ar"))
    sid = call_sid()
    # Queued while the distribution was off; the caller's language is Arabic.
    monkeypatch.setitem(app.config, "phone", {**app.config["phone"], "automatic_distribution": False})
    twilio.queue(sid)
    contact = _contact(session, sid)
    contact.language = "ar"
    session.commit()
    monkeypatch.setitem(app.config, "phone", {**app.config["phone"], "automatic_distribution": True})
    with app.app_context():
        distribution_sweep(db.session, contact.arrived_at + timedelta(seconds=5))
    [offer] = _offers(session)
    assert offer.user_id == arabic.id  # the longer-idle Swedish-only agent is passed over
    assert session.get(CallRequirement, contact.id).language == "ar"
    assert swedish.id not in {o.user_id for o in _offers(session)}


def test_service_skill_is_respected(acd, app, session, agent, twilio):
    plain = agent("utan-tjanst", idle_minutes=60)
    skilled = agent("skolval", idle_minutes=1)
    from kontaktcenter.directory.models import Service

    skolval = session.scalar(select(Service).where(Service.code == "skolval"))
    skilled.services = [skolval]
    session.execute(update(User).where(User.id.in_([plain.id, skilled.id])).values(presence="offline"))
    session.commit()
    sid = call_sid()
    twilio.queue(sid)
    contact = _contact(session, sid)
    # As a rule with skills {service: true} would ask.
    session.execute(
        update(CallRequirement).where(CallRequirement.contact_id == contact.id).values(service_id=skolval.id)
    )
    session.execute(update(User).where(User.id.in_([plain.id, skilled.id])).values(presence="available"))
    session.commit()
    with app.app_context():
        distribution_sweep(db.session, contact.arrived_at + timedelta(seconds=5))
    [offer] = _offers(session)
    assert offer.user_id == skilled.id


# -- missing, answering, hanging up --------------------------------------------------


def test_unanswered_offer_is_missed_and_the_call_goes_to_the_next_agent(acd, twilio, app, session, agent):
    first = agent("forsta", idle_minutes=20)
    second = agent("andra", idle_minutes=10)
    sid = call_sid()
    twilio.queue(sid)
    [offer] = _offers(session)
    assert offer.user_id == first.id
    assert _leg_status(twilio, offer, "no-answer").status_code == 204
    missed, again = _offers(session)
    assert (missed.id, missed.result) == (offer.id, "missed")
    assert session.get(User, first.id).presence == "missed"  # away until they are back
    assert (again.user_id, again.result, again.contact_id) == (second.id, None, offer.contact_id)
    assert [r["To"] for r in _rings(app)] == [first.phone_identity, second.phone_identity]
    assert _contact(session, sid).outcome is None  # still in the queue's hold loop


def test_expired_reservation_found_by_the_sweep_is_missed_and_re_offered(acd, twilio, app, session, agent, clock):
    first = agent("forsta", idle_minutes=20)
    second = agent("andra", idle_minutes=10)
    twilio.queue(call_sid())
    [offer] = _offers(session)
    with app.app_context():
        distribution_sweep(db.session, clock.now + timedelta(seconds=16))  # within the grace: kept
    assert [o.result for o in _offers(session)] == [None]
    with app.app_context():
        distribution_sweep(db.session, clock.now + timedelta(seconds=21))
    missed, again = _offers(session)
    assert missed.result == "missed"
    assert again.user_id == second.id
    assert session.get(User, first.id).presence == "missed"
    assert (offer.agent_call_sid, {"Status": "canceled"}) in _updates(app)  # the ringing stops


def test_answered_offer_bridges_exactly_the_offered_caller(acd, twilio, app, session, agent, clock):
    older, newer = call_sid(), call_sid()
    twilio.queue(older)
    clock.now += timedelta(seconds=20)
    twilio.queue(newer)
    taker = agent("svarar", idle_minutes=5)
    with app.app_context():
        distribution_sweep(db.session, clock.now)
    [offer] = _offers(session)
    assert offer.contact_id == _contact(session, older).id
    clock.now += timedelta(seconds=6)
    root = _twiml(
        twilio.post(
            f"/twilio/voice/offers/{offer.id}/answer",
            call_params(offer.agent_call_sid, Direction="outbound-api", To=taker.phone_identity),
        )
    )
    assert [c.tag for c in root] == ["Say", "Dial", "Redirect"]
    assert root[1][0].tag == "Conference"
    assert root[1][0].text == f"kc-offer-{offer.id}"
    [offer] = _offers(session)
    assert offer.result == "answered"
    contact = _contact(session, older)
    assert (contact.answered_by_id, contact.answered_at) == (taker.id, clock.now)
    assert contact.ticket.assignee_id == taker.id
    assert session.get(User, taker.id).presence == "busy"
    # The offered caller, by its own CallSid, is moved into the agent's conference.
    assert (older, {"Url": f"{BASE}/twilio/voice/offers/{offer.id}/join", "Method": "POST"}) in _updates(app)
    assert _contact(session, newer).answered_at is None
    # The caller's leg joins the same room; another caller cannot.
    root = _twiml(twilio.post(f"/twilio/voice/offers/{offer.id}/join", call_params(older)))
    assert root[0].tag == "Dial"
    assert root[0][0].text == f"kc-offer-{offer.id}"
    root = _twiml(twilio.post(f"/twilio/voice/offers/{offer.id}/join", call_params(newer)))
    assert [c.tag for c in root] == ["Say", "Hangup"]
    # Twilio reports the caller leaving the queue as redirected: the conversation goes on.
    twilio.post("/twilio/voice/queue-result", call_params(older, QueueResult="redirected", QueueTime="26"))
    assert _contact(session, older).ended_at is None
    assert session.get(User, taker.id).presence == "busy"
    # The conversation ends: the agent is free, and the next caller rings them at once.
    clock.now += timedelta(minutes=4)
    twilio.post("/twilio/voice/status", call_params(older, CallStatus="completed", CallDuration="300"))
    assert _contact(session, older).outcome == "answered"
    offers = _offers(session)
    assert len(offers) == 2
    assert offers[1].contact_id == _contact(session, newer).id
    assert offers[1].user_id == taker.id


def test_answer_after_the_offer_was_missed_is_refused(acd, twilio, app, session, agent):
    agent("forsta", idle_minutes=20)
    sid = call_sid()
    twilio.queue(sid)
    [offer] = _offers(session)
    _leg_status(twilio, offer, "no-answer")
    root = _twiml(twilio.post(f"/twilio/voice/offers/{offer.id}/answer", call_params(offer.agent_call_sid)))
    assert [c.tag for c in root] == ["Say", "Hangup"]
    assert _contact(session, sid).answered_at is None
    assert _offers(session)[0].result == "missed"


def test_caller_hanging_up_withdraws_the_offer_and_cancels_the_agent_leg(acd, twilio, app, session, agent, clock):
    ringing = agent("ringer", idle_minutes=20)
    sid = call_sid()
    twilio.queue(sid)
    [offer] = _offers(session)
    clock.now += timedelta(seconds=8)
    twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="20"))
    [offer] = _offers(session)
    assert offer.result == "withdrawn"
    assert session.get(User, ringing.id).presence == "available"  # not the agent's miss
    assert (offer.agent_call_sid, {"Status": "canceled"}) in _updates(app)
    # Twilio then reports the cancelled leg: nothing changes.
    _leg_status(twilio, offer, "canceled")
    assert _offers(session)[0].result == "withdrawn"
    assert session.get(User, ringing.id).presence == "available"


def test_an_agent_whose_caller_hung_up_is_offered_the_next_caller_at_once(acd, twilio, app, session, agent, clock):
    ringing = agent("ringer", idle_minutes=20)
    first, second = call_sid(), call_sid()
    twilio.queue(first)
    clock.now += timedelta(seconds=2)
    twilio.queue(second)  # nobody else is free: it waits unoffered
    assert [o.contact_id for o in _offers(session)] == [_contact(session, first).id]
    clock.now += timedelta(seconds=3)
    twilio.post("/twilio/voice/status", call_params(first, CallStatus="completed", CallDuration="5"))
    withdrawn, offered = _offers(session)
    assert withdrawn.result == "withdrawn"
    assert (offered.user_id, offered.contact_id, offered.result) == (ringing.id, _contact(session, second).id, None)
    assert len(_rings(app)) == 2


def test_take_next_never_takes_a_call_offered_to_someone_else(acd, twilio, app, session, agent, auth):
    agent("erbjuden", idle_minutes=20)
    twilio.queue(call_sid())
    assert len(_offers(session)) == 1
    session.execute(update(User).where(User.username == "agent").values(presence="available"))
    session.commit()
    auth.login("agent")
    clear_recorded_in(app)
    response = auth.post("/phone/next", csrf_page="/phone")
    assert response.status_code == 303
    assert _rings(app) == []  # nothing was dialled for the puller


def test_take_next_rings_for_exactly_the_picked_caller_never_one_offered_to_another(
    acd, twilio, app, session, agent, auth, clock
):
    """Take-next is the distribution's own offer: the agent's phone is bridged to exactly the
    caller the database picked, never Twilio's head of the queue (which may be ringing a colleague)."""
    ringing = agent("ringer", idle_minutes=20)
    offered = call_sid()
    twilio.queue(offered)
    [first] = _offers(session)
    assert first.user_id == ringing.id
    clock.now += timedelta(seconds=10)
    picked = call_sid()
    twilio.queue(picked)  # nobody else is free: it waits unoffered
    puller = session.scalar(select(User).where(User.username == "agent"))
    puller.presence = "available"
    session.commit()
    auth.login("agent")
    clear_recorded_in(app)
    assert auth.post("/phone/next", csrf_page="/phone").status_code == 303
    offer = _offers(session)[1]
    assert (offer.user_id, offer.contact_id, offer.result) == (puller.id, _contact(session, picked).id, None)
    [ring] = _rings(app)
    assert "Twiml" not in ring  # no <Dial><Queue>: the leg asks the offer
    assert ring["Url"] == f"{BASE}/twilio/voice/offers/{offer.id}/answer"
    # A second click rings nothing more: the database holds one open offer per agent.
    page = auth.client.get(auth.post("/phone/next", csrf_page="/phone").headers["Location"]).get_data(as_text=True)
    assert "Din telefon ringer redan för ett samtal." in page
    assert len(_rings(app)) == 1
    _twiml(
        twilio.post(
            f"/twilio/voice/offers/{offer.id}/answer", call_params(offer.agent_call_sid, Direction="outbound-api")
        )
    )
    moved = [sid for sid, data in _updates(app) if "Url" in data]
    assert moved == [picked]  # exactly the picked caller, by its own CallSid
    assert _contact(session, picked).answered_by_id == puller.id
    assert _contact(session, offered).answered_at is None
    assert _offers(session)[0].result is None  # the colleague's offer still stands


def test_distribution_off_makes_no_offers(app, twilio, session, agent, monkeypatch):
    monkeypatch.setitem(app.config, "phone", {**app.config["phone"], "automatic_distribution": False})
    session.execute(update(User).values(presence="offline"))
    agent("ledig", idle_minutes=20)
    twilio.queue(call_sid())
    with app.app_context():
        distribution_sweep(db.session, datetime.now(UTC))
    assert _offers(session) == []


def test_the_sweep_runs_every_five_seconds():
    job = JOBS[SWEEP_JOB]
    assert (job.trigger, job.trigger_args) == ("interval", {"seconds": 5})


# -- one open offer, enforced by the database ----------------------------------------


def _refused(session, offer: CallOffer) -> None:
    savepoint = session.begin_nested()
    session.add(offer)
    with pytest.raises(IntegrityError):
        session.flush()
    savepoint.rollback()


def test_database_refuses_a_second_open_offer_for_a_call_or_an_agent(acd, twilio, session, agent):
    first = agent("forsta", idle_minutes=20)
    other = agent("andra", idle_minutes=10)
    sid = call_sid()
    twilio.queue(sid)
    [offer] = _offers(session)
    contact_id = offer.contact_id
    expires = offer.expires_at
    _refused(session, CallOffer(contact_id=contact_id, user_id=other.id, expires_at=expires))
    twilio.queue(second := call_sid())
    second_id = _contact(session, second).id
    _refused(session, CallOffer(contact_id=second_id, user_id=first.id, expires_at=expires))
    # A closed offer does not count: the agent can be offered again.
    session.execute(update(CallOffer).where(CallOffer.id == offer.id).values(result="missed"))
    with session.begin_nested():
        session.add(CallOffer(contact_id=contact_id, user_id=first.id, expires_at=expires))
        session.flush()


# -- bad input -----------------------------------------------------------------------


def test_unsigned_or_forged_offer_webhooks_are_refused_and_change_nothing(acd, twilio, client, session, agent):
    agent("forsta", idle_minutes=20)
    sid = call_sid()
    twilio.queue(sid)
    [offer] = _offers(session)
    for step in ("answer", "status", "join"):
        params = call_params(offer.agent_call_sid, CallStatus="no-answer")
        unsigned = client.post(f"/twilio/voice/offers/{offer.id}/{step}", data=params)
        assert unsigned.status_code == 403
        forged = twilio_post(client, f"/twilio/voice/offers/{offer.id}/{step}", params, token="not-the-token")
        assert forged.status_code == 403
    assert _offers(session)[0].result is None
    assert _contact(session, sid).answered_at is None


def test_bad_offer_webhook_input_changes_nothing(acd, twilio, session, agent):
    first = agent("forsta", idle_minutes=20)
    sid = call_sid()
    twilio.queue(sid)
    [offer] = _offers(session)
    # Unknown offer, someone else's leg, NUL bytes and over-long values.
    root = _twiml(twilio.post("/twilio/voice/offers/999999/answer", call_params(call_sid())))
    assert [c.tag for c in root] == ["Say", "Hangup"]
    root = _twiml(twilio.post(f"/twilio/voice/offers/{offer.id}/answer", call_params(call_sid())))
    assert [c.tag for c in root] == ["Say", "Hangup"]
    root = _twiml(twilio.post(f"/twilio/voice/offers/{offer.id}/answer", call_params("CA\x00" + "x" * 5000)))
    assert [c.tag for c in root] == ["Say", "Hangup"]
    for status in ("no-answer\x00", "x" * 5000, ""):
        response = twilio.post(
            f"/twilio/voice/offers/{offer.id}/status", call_params(offer.agent_call_sid, CallStatus=status)
        )
        assert response.status_code in (204, 400)
    assert twilio.post("/twilio/voice/offers/not-a-number/status", call_params(call_sid())).status_code == 404
    [offer] = _offers(session)
    assert offer.result is None
    assert session.get(User, first.id).presence == "available"
    assert _contact(session, sid).answered_at is None


# -- many distributors at once (PostgreSQL) ------------------------------------------


@pytest.mark.postgres
def test_concurrent_distributors_never_make_a_second_open_offer(app):
    """Eight threads with their own sessions distribute the same 40 calls to the same 15 agents."""
    engine = app.extensions[ENGINE_KEY]
    tag = uuid.uuid4().hex[:8]
    start = datetime(2026, 3, 3, 9, tzinfo=UTC)
    with app.app_context(), Session(engine, expire_on_commit=False) as s:
        dept = s.scalar(select(Department).where(Department.code == "serviceforvaltningen"))
        queue = Queue(code=f"test-acd-{tag}", name_sv="Test", name_en="Test", kind="first_line", department=dept)
        s.add(queue)
        agents = [
            User(
                username=f"acd-{tag}-{i}",
                name=f"Agent {i}",
                role="agent",
                password_hash="x",
                department=dept,
                queues=[queue],
                presence="available",
                presence_since=start - timedelta(minutes=i),
                phone_identity=f"+4670555{i:04d}",
            )
            for i in range(15)
        ]
        s.add_all(agents)
        s.flush()
        contacts = [
            Contact(
                channel="phone", provider_sid=f"CA{tag}{i:024d}", queue_id=queue.id, arrived_at=start, language="sv"
            )
            for i in range(40)
        ]
        s.add_all(contacts)
        s.flush()
        s.add_all(CallRequirement(contact_id=c.id, language=None) for c in contacts)
        s.commit()
        agent_ids, contact_ids = [a.id for a in agents], [c.id for c in contacts]

    errors: list[Exception] = []
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            with app.app_context(), Session(engine, expire_on_commit=False) as s:
                ringer = distribution.app_ringer()
                barrier.wait()
                if n % 2:
                    distribution.distribute(s, ringer)
                else:
                    distribution.distribute(s, ringer, agent_ids=agent_ids, contact_ids=contact_ids)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert errors == []
        with Session(engine) as s:
            rows = s.execute(
                select(CallOffer.contact_id, CallOffer.user_id).where(
                    CallOffer.user_id.in_(agent_ids), CallOffer.result.is_(None)
                )
            ).all()
        assert len(rows) == 15  # every free agent got a call
        assert max(Counter(c for c, _ in rows).values()) == 1
        assert max(Counter(u for _, u in rows).values()) == 1
        assert {c for c, _ in rows} == set(contact_ids[:15]) or len({c for c, _ in rows}) == 15
    finally:
        with Session(engine) as s:
            s.execute(delete(CallOffer).where(CallOffer.user_id.in_(agent_ids)))
            s.execute(delete(Contact).where(Contact.id.in_(contact_ids)))
            s.execute(delete(User).where(User.id.in_(agent_ids)))
            s.execute(delete(Queue).where(Queue.code == f"test-acd-{tag}"))
            s.commit()


def test_a_missed_agent_is_told_and_gets_the_call_when_back(acd, twilio, app, session, auth, agent):
    session.execute(update(User).where(User.username == "agent").values(presence="available"))
    session.commit()
    sid = call_sid()
    twilio.queue(sid)
    [offer] = _offers(session)
    assert session.get(User, offer.user_id).username == "agent"
    _leg_status(twilio, offer, "busy")
    assert session.scalar(select(User.presence).where(User.username == "agent")) == "missed"
    assert len(_offers(session)) == 1  # nobody else to offer it to: the call waits
    auth.login("agent")
    page = auth.client.get("/phone").get_data(as_text=True)
    assert "Du svarade inte på ett samtal som erbjöds dig." in page
    assert 'value="available"' in page  # one button brings them back
    auth.post("/phone/presence", {"presence": "available"}, csrf_page="/phone")
    missed, again = _offers(session)
    assert missed.result == "missed"
    assert (again.contact_id, again.result) == (offer.contact_id, None)
    assert session.get(User, again.user_id).username == "agent"


def test_take_next_that_twilio_refuses_reserves_nothing(twilio, app, session, auth, monkeypatch):
    """Twilio cannot ring the agent: the offer is withdrawn (not their miss) and the caller can be taken again."""
    import logging

    from twilio.http import HttpClient
    from twilio.http.response import Response
    from twilio.rest import Client

    class Refusing(HttpClient):
        def request(self, method, uri, **kw):
            return Response(400, '{"code": 21211, "message": "Invalid To", "status": 400}', {})

    refusing = Client(
        "AC" + "0" * 32, "token", http_client=Refusing(logging.getLogger(__name__), False), environment={}
    )
    monkeypatch.setattr("kontaktcenter.notify.transport.twilio_client", lambda: refusing)
    sid = call_sid()
    twilio.queue(sid)
    session.execute(update(User).where(User.username == "agent").values(presence="available"))
    session.commit()
    auth.login("agent")
    page = auth.client.get(auth.post("/phone/next", csrf_page="/phone").headers["Location"]).get_data(as_text=True)
    assert "Twilio kunde inte koppla samtalet." in page
    [offer] = _offers(session)
    assert offer.result == "withdrawn"
    assert session.scalar(select(User.presence).where(User.username == "agent")) == "available"
    assert _contact(session, sid).answered_at is None
