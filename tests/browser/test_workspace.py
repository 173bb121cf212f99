"""The workspace in headless Chromium (issue 21): answer, resolve and open the next ticket with
the keyboard in at most 2 actions after typing, the shortcut help, the walk-in desk's Enter,
the kiosk display, axe-core and no sideways scrolling at 1366 and 320 px."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.browser.test_casework_flows import seed
from tests.fixtures.browser import assert_accessible, login, press_and_wait

pytestmark = pytest.mark.browser

WIDTHS = (1366, 320)


def _service_id(live_server, code: str) -> int:
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import Service

    with live_server.app.app_context():
        service_id = db.session.scalar(select(Service.id).where(Service.code == code))
        db.session.remove()
    return service_id


def _ticket(live_server, reference: str):
    from kontaktcenter.database import db
    from kontaktcenter.tickets.models import Ticket

    with live_server.app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
        values = (ticket.status, ticket.assignee.username if ticket.assignee else None)
        db.session.remove()
    return values


def _no_sideways_scroll(page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths}"


def test_answer_resolve_and_open_the_next_ticket_in_one_action_after_typing(page, live_server):
    """Before: 4 clicks, 3 page loads and about 31 keystrokes; no next ticket, no shortcuts."""
    # A service no other browser test writes to, so the filtered list holds this test's tickets only.
    first = seed(
        live_server, "lokalbokning", "Kan vi boka aulan?", priority=9, email="a@example.se", reply_channel="email"
    )
    second = seed(
        live_server, "lokalbokning", "Vad kostar en sal?", priority=9, email="b@example.se", reply_channel="email"
    )
    login(page, "agent")
    page.goto(f"/console?service={_service_id(live_server, 'lokalbokning')}&status=new")

    keys = []

    def press(key: str, navigates: bool = False) -> None:
        keys.append(key)
        if navigates:
            press_and_wait(page, key)
        else:
            page.keyboard.press(key)

    # j moves down the lists (the agent's own tickets first, which earlier tests may have left):
    # on to the first of this test's tickets.
    for _ in range(20):
        press("j")
        assert page.evaluate("document.activeElement.closest('tr').classList.contains('selected')")
        opened = page.evaluate("document.activeElement.textContent.trim()")
        if opened in (first, second):
            break
    assert opened in (first, second)
    press("Enter", navigates=True)
    assert page.url.endswith(f"/tickets/{opened}")
    press("r")  # to the reply box
    assert page.evaluate("document.activeElement.id") == "body"
    page.keyboard.type("Aulan bokas i e-tjänsten Lokalbokning.")
    after_typing = len(keys)
    press("Control+Enter", navigates=True)  # send and resolve: the next ticket opens
    assert len(keys) - after_typing <= 2
    assert opened not in page.url
    assert "Svaret är skickat och ärendet är löst." in page.content()
    assert _ticket(live_server, opened)[0] == "resolved"
    following = page.url.rsplit("/tickets/", 1)[1].split("#", 1)[0]
    assert _ticket(live_server, following) == ("open", "agent")  # claimed for this agent
    assert page.evaluate("document.activeElement.id") == "body"  # ready to type the next answer
    assert_accessible(page)


def test_shortcut_help_opens_with_question_mark_and_shortcuts_wait_while_typing(page, live_server):
    seed(live_server, "allmant", "Fråga om parkering", email="c@example.se", reply_channel="email")
    login(page, "agent")
    page.keyboard.press("?")
    dialog = page.locator("#shortcut-help")
    assert dialog.is_visible()
    assert "Ctrl" in dialog.inner_text()
    assert_accessible(page)
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    # Typing "j" in the search field is text, not a shortcut.
    page.focus("#console-q")
    page.keyboard.type("jk?")
    assert page.locator("#console-q").input_value() == "jk?"
    assert not dialog.is_visible()
    assert page.locator("tr.ticket-row.selected").count() == 0


@pytest.mark.parametrize("width", WIDTHS)
def test_console_ticket_and_inbox_are_accessible_and_reflow(page, live_server, width):
    """Before: the console was 1,044 px wide at 320 px."""
    reference = seed(
        live_server,
        "allmant",
        "En fråga med ett mycket långt ord: " + "x" * 80,
        email="d@example.se",
        reply_channel="email",
    )
    page.set_viewport_size({"width": width, "height": 800})
    login(page, "agent")
    page.goto("/console")
    assert_accessible(page)
    _no_sideways_scroll(page)
    page.goto("/console?channel=web&page=1")
    assert_accessible(page)
    _no_sideways_scroll(page)
    page.goto(f"/tickets/{reference}")
    assert_accessible(page)
    _no_sideways_scroll(page)
    page.goto("/console?channel=fax")  # a refused filter: the message, still accessible
    assert_accessible(page)
    page.context.clear_cookies()  # the next staff member on this browser
    login(page, "bygglov")
    page.goto("/inkorg")
    assert_accessible(page)
    _no_sideways_scroll(page)


def test_walk_in_desk_registers_with_enter_as_the_hint_says(page, live_server):
    """Before: "Enter registrerar" was wrong (8 Tabs were needed)."""
    login(page, "bibliotek")
    assert "/besok/" in page.url
    # The list of errands has the focus (autofocus: applied once the page has loaded, which on a
    # busy machine comes a moment after the URL does).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'service'", timeout=5000)
    page.keyboard.press("ArrowDown")
    press_and_wait(page, "Enter")
    assert "Besöket är registrerat med könummer" in page.content()
    assert_accessible(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_desk_and_kiosk_display_are_accessible_and_reflow(page, live_server, width):
    page.set_viewport_size({"width": width, "height": 800})
    login(page, "bibliotek")
    page.focus("#desk")
    page.keyboard.press("Control+a")
    page.keyboard.type("2")
    press_and_wait(page, "Enter")
    assert "Du tar emot vid disk 2" in page.content()
    assert_accessible(page)
    _no_sideways_scroll(page)
    desk_url = page.url
    for lang in ("sv", "en", "ar"):
        response = page.goto(desk_url + f"/skarm?lang={lang}")
        assert page.locator(".site-header").count() == 0
        assert response.headers["refresh"] == "15"  # reloads itself, without JavaScript
        assert_accessible(page)
        _no_sideways_scroll(page)


def test_ctrl_enter_without_a_required_reason_keeps_the_typed_reply(page, live_server):
    """A call needs its contact reason to be resolved: the page says so and the answer stays."""
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import User
    from kontaktcenter.tickets.models import Ticket

    reference = seed(live_server, "allmant", "Samtal om sophämtning", phone="0701234570", reply_channel="phone")
    with live_server.app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
        ticket.contacts[0].channel = "phone"  # a call: its reason is required
        ticket.assignee = db.session.scalar(select(User).where(User.username == "agent"))
        db.session.commit()
        db.session.remove()
    login(page, "agent")
    page.goto(f"/tickets/{reference}")
    page.keyboard.press("r")
    page.keyboard.type("Ringt upp och förklarat hämtdagarna.")
    page.keyboard.press("Control+Enter")
    assert page.locator("#reply-reason-error").is_visible()
    assert page.evaluate("document.activeElement.id") == "reply-reason"
    assert page.locator("#body").input_value() == "Ringt upp och förklarat hämtdagarna."
    assert page.url.endswith(f"/tickets/{reference}")
    assert _ticket(live_server, reference)[0] != "resolved"
    assert_accessible(page)
