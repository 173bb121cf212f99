"""The live-call panel on /phone in a real browser: axe-core finds nothing, and a transfer is done by keyboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kontaktcenter.contacts.calls import CallTransfer
from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import User
from kontaktcenter.switchboard.models import StaffMember
from tests.fixtures.browser import assert_accessible, login, press_and_wait
from tests.fixtures.factories import at
from tests.fixtures.twilio import call_params, call_sid

pytestmark = pytest.mark.browser

NOW = at("2026-03-03 10:00")


def _signed_post(server, path: str, params: dict[str, str], status: int = 200) -> None:
    import requests
    from twilio.request_validator import RequestValidator

    from kontaktcenter.channels.twilio_security import auth_token

    app = server.app
    signature = RequestValidator(auth_token(app)).compute_signature(app.config["PUBLIC_BASE_URL"] + path, params)
    response = requests.post(server.url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
    assert response.status_code == status, response.text


def _focus(page, selector_id: str, limit: int = 120) -> None:
    """Tab (keyboard only) until the element with this id has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == selector_id:
            return
    raise AssertionError(f"never reached #{selector_id} by Tab")


def test_live_call_panel_is_accessible_and_a_transfer_is_made_with_the_keyboard(page, live_server):
    from kontaktcenter.channels.clock import CLOCK_KEY
    from kontaktcenter.database import db

    app = live_server.app
    app.extensions[CLOCK_KEY] = lambda: NOW
    try:
        with app.app_context():
            agent = db.session.scalar(select(User).where(User.username == "agent"))
            agent_id = agent.id
            db.session.add(
                StaffMember(
                    employee_id="hr-browser-1",
                    name="Birgitta Webbtest",
                    title="Skolhandläggare",
                    phone="+46406005000",
                    absent_until=NOW + timedelta(days=2),
                    absence_message="På kurs till onsdag.",
                )
            )
            db.session.commit()
            db.session.remove()
        sid = call_sid()
        _signed_post(live_server, "/twilio/voice/menu", call_params(sid, From="+46731119950", Digits="2"))
        _signed_post(
            live_server,
            f"/twilio/voice/bridge?agent={agent_id}",
            call_params(sid, From="+46731119950", QueueTime="12", DequeingCallSid="CA" + "b" * 32),
        )

        login(page, "agent")
        page.goto("/phone")
        assert page.locator("#live-heading").inner_text() == "Pågående samtal"
        assert_accessible(page)

        # Search the directory with the keyboard: the absence notice shows before any connecting.
        _focus(page, "staff-search")
        page.keyboard.type("webbtest")
        press_and_wait(page, "Enter")
        assert "På kurs till onsdag." in page.locator(".staff-matches").inner_text()
        assert_accessible(page)
        page.goto("/phone?lang=en&q=webbtest")
        assert_accessible(page)
        page.goto("/phone?lang=sv")  # the language chosen stays in the session

        # A cold transfer to a department queue, by Tab, arrow keys, typing and Enter alone.
        _focus(page, "transfer-queue")
        page.keyboard.press("ArrowDown")
        chosen = page.evaluate("document.activeElement.selectedOptions[0].textContent")
        _focus(page, "transfer-handover")
        page.keyboard.type("Vill byta skola till hösten.")
        _focus(page, "transfer-to-queue")
        press_and_wait(page, "Enter")
        assert "Samtalet är kopplat vidare." in page.locator("[role=status]").inner_text()
        assert page.locator("#live-heading").count() == 0
        assert_accessible(page)

        with app.app_context():
            # The caller now waits in the department's queue: a queue entry of its own, with the call's sid.
            waiting = db.session.scalar(select(Contact).where(Contact.provider_sid == sid))
            (transfer,) = db.session.scalars(select(CallTransfer).where(CallTransfer.requeued_contact_id == waiting.id))
            assert transfer.kind == "queue"
            assert waiting.queue.name_sv == chosen
            assert waiting.ticket.queue.name_sv == chosen
            assert waiting.ticket.status == "escalated"
            db.session.remove()
    finally:
        app.extensions.pop(CLOCK_KEY, None)


def test_a_warm_transfer_is_started_and_taken_back_with_the_keyboard(page, live_server):
    from kontaktcenter.channels.clock import CLOCK_KEY
    from kontaktcenter.database import db

    app = live_server.app
    app.extensions[CLOCK_KEY] = lambda: NOW
    try:
        with app.app_context():
            agent_id = db.session.scalar(select(User.id).where(User.username == "agent2"))
            person = StaffMember(employee_id="hr-browser-2", name="Gustav Varmtest", phone="+46406005100")
            db.session.add(person)
            db.session.commit()
            person_id = person.id
            db.session.remove()
        sid = call_sid()
        _signed_post(live_server, "/twilio/voice/menu", call_params(sid, From="+46731119951", Digits="2"))
        _signed_post(
            live_server,
            f"/twilio/voice/bridge?agent={agent_id}",
            call_params(sid, From="+46731119951", QueueTime="8", DequeingCallSid="CA" + "d" * 32),
        )
        login(page, "agent2")
        page.goto("/phone?lang=sv&q=varmtest")
        _focus(page, f"warm-person-{person_id}")
        page.keyboard.press("Space")  # speak to the receiver first
        assert page.is_checked(f"#warm-person-{person_id}")
        page.keyboard.press("Tab")
        press_and_wait(page, "Enter")
        assert "Mottagaren rings upp." in page.locator("[role=status]").inner_text()
        assert "Mottagaren (Gustav Varmtest, +46406005100) rings upp." in page.locator("#warm-state").inner_text()
        assert_accessible(page)

        _focus(page, "transfer-cancel")
        press_and_wait(page, "Enter")
        assert "Överlämnandet är avbrutet." in page.locator("[role=status]").inner_text()
        assert page.locator("#live-heading").count() == 1  # the caller is with the agent again
        assert_accessible(page)
        with app.app_context():
            contact = db.session.scalar(select(Contact).where(Contact.provider_sid == sid))
            (transfer,) = db.session.scalars(select(CallTransfer).where(CallTransfer.contact_id == contact.id))
            assert transfer.warm
            assert transfer.status == "cancelled"
            # Leave the shared live server as it was: the call ends.
            contact.ended_at = NOW
            contact.outcome = "answered"
            db.session.commit()
            db.session.remove()
    finally:
        app.extensions.pop(CLOCK_KEY, None)


def test_a_receiver_who_does_not_answer_is_told_on_the_open_panel(page, live_server):
    """The agent waits on the panel; the receiver never answers: the panel says the caller is back, by itself."""
    from kontaktcenter.channels.clock import CLOCK_KEY
    from kontaktcenter.database import db

    app = live_server.app
    app.extensions[CLOCK_KEY] = lambda: NOW
    try:
        with app.app_context():
            agent_id = db.session.scalar(select(User.id).where(User.username == "agent2"))
            person = StaffMember(employee_id="hr-browser-3", name="Greta Tystest", phone="+46406005200")
            db.session.add(person)
            db.session.commit()
            person_id = person.id
            db.session.remove()
        sid = call_sid()
        _signed_post(live_server, "/twilio/voice/menu", call_params(sid, From="+46731119952", Digits="2"))
        _signed_post(
            live_server,
            f"/twilio/voice/bridge?agent={agent_id}",
            call_params(sid, From="+46731119952", QueueTime="8", DequeingCallSid="CA" + "e" * 32),
        )
        login(page, "agent2")
        page.goto("/phone?lang=sv&q=tystest")
        _focus(page, f"warm-person-{person_id}")
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        press_and_wait(page, "Enter")
        assert "rings upp" in page.locator("#warm-state").inner_text()
        with app.app_context():
            contact = db.session.scalar(select(Contact).where(Contact.provider_sid == sid))
            (transfer,) = db.session.scalars(select(CallTransfer).where(CallTransfer.contact_id == contact.id))
            transfer_id, receiver = transfer.id, transfer.receiver_call_sid
            db.session.remove()
        _signed_post(
            live_server,
            f"/twilio/voice/transfer-status?transfer={transfer_id}",
            call_params(receiver, CallStatus="no-answer", Direction="outbound-api"),
            status=204,
        )
        page.wait_for_selector("#warm-returned", timeout=15000)  # the live region, no reload
        assert "Greta Tystest" in page.locator("#warm-returned").inner_text()
        assert "tillbaka hos dig" in page.locator("#warm-returned").inner_text()
        assert page.locator("#warm-state").count() == 0
        assert_accessible(page)
        with app.app_context():
            contact = db.session.scalar(select(Contact).where(Contact.id == contact.id))
            contact.ended_at = NOW
            contact.outcome = "answered"
            db.session.commit()
            db.session.remove()
    finally:
        app.extensions.pop(CLOCK_KEY, None)
