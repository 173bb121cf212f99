"""Casework pages in headless Chromium: axe-core WCAG 2.1 AA, and every flow with the keyboard alone."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.fixtures.browser import assert_accessible, login, press_and_wait

pytestmark = pytest.mark.browser


def seed(live_server, service: str, text: str, priority: int | None = None, **kw) -> str:
    """A waiting ticket in the live server's database (every agent away, so nobody got it)."""
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import User
    from kontaktcenter.intake.incoming import IncomingContact
    from kontaktcenter.intake.receive import receive

    with live_server.app.app_context():
        db.session.execute(update(User).values(presence="away"))
        received = receive(db.session, IncomingContact(channel="web", service_code=service, text=text, **kw))
        if priority is not None:
            received.ticket.priority = priority
        db.session.commit()
        reference = received.ticket.reference
        db.session.remove()
    return reference


def seed_article(live_server, service: str, title: str, body: str) -> None:
    from kontaktcenter.casework.models import KnowledgeArticle
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import Service

    with live_server.app.app_context():
        if db.session.scalar(select(KnowledgeArticle).where(KnowledgeArticle.title == title)) is None:
            db.session.add(
                KnowledgeArticle(
                    service=db.session.scalar(select(Service).where(Service.code == service)), title=title, body=body
                )
            )
            db.session.commit()
        db.session.remove()


def tab_to(page, selector: str, limit: int = 120) -> None:
    """Press Tab until the element matching `selector` has focus: proves it is reachable by keyboard."""
    target = page.locator(selector).first
    target.wait_for()
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def logout(page) -> None:
    tab_to(page, "form.logout button")
    press_and_wait(page, "Enter")


def test_agent_console_take_next_quick_answer_and_escalation_by_keyboard(page, live_server):
    seed_article(live_server, "bygglov", "Handläggningstid bygglov", "Ett komplett bygglov beslutas inom tio veckor.")
    # The most urgent ticket in the first line, so "take next" hands out this one.
    reference = seed(
        live_server,
        "bygglov",
        "Hur lång tid tar ett bygglov för ett plank?",
        priority=9,
        email="plank@example.se",
        reply_channel="email",
    )

    login(page, "agent")
    assert page.url.endswith("/console")
    assert_accessible(page)  # the console

    tab_to(page, "#presence")
    page.keyboard.press("Home")  # "Tillgänglig" is the first choice
    tab_to(page, "form:has(#presence) button")
    press_and_wait(page, "Enter")
    assert "Din status är ändrad." in page.content()

    tab_to(page, "#take-next")
    press_and_wait(page, "Enter")
    assert page.url.endswith(f"/tickets/{reference}")
    assert_accessible(page)  # the ticket

    tab_to(page, "button:has-text('Använd som svar')")
    press_and_wait(page, "Enter")
    assert page.locator("#body").input_value().startswith("Ett komplett bygglov")
    tab_to(page, "form.reply button[type=submit]")
    press_and_wait(page, "Enter")
    assert "Svaret är skickat." in page.content()

    tab_to(page, "a:has-text('Eskalera')")
    press_and_wait(page, "Enter")
    assert page.url.endswith(f"/tickets/{reference}/escalate")
    assert_accessible(page)  # the escalation form

    tab_to(page, "button:has-text('Eskalera')")
    press_and_wait(page, "Enter")  # nothing filled in: errors, announced
    assert page.locator("#error-summary[role=alert]").is_visible()
    assert_accessible(page)

    tab_to(page, "#queue")
    page.keyboard.type("Stadsbyggnadskontoret")
    tab_to(page, "#citizen_wants")
    page.keyboard.type("Vill veta om plank kräver bygglov.")
    tab_to(page, "#done_so_far")
    page.keyboard.type("Gav handläggningstiden.")
    tab_to(page, "input[name=urgency]:checked")  # Tab enters a radio group at its checked choice, Normal
    page.keyboard.press("ArrowDown")  # Hög
    tab_to(page, "#notify")
    page.keyboard.press("Space")
    tab_to(page, "button:has-text('Eskalera')")
    press_and_wait(page, "Enter")
    assert "Ärendet är eskalerat" in page.content()
    assert "Hög" in page.content()


def test_caseworker_inbox_accept_answer_and_resolve_by_keyboard(page, live_server):
    reference = seed(
        live_server, "bygglov", "Behöver jag bygglov för en altan?", phone="0701234567", reply_channel="sms"
    )
    _escalate(live_server, reference, "sbk-bygglov", "Vill veta om altanen kräver bygglov.")

    login(page, "bygglov")
    tab_to(page, "a:has-text('Inkorg')")
    press_and_wait(page, "Enter")
    assert page.url.endswith("/inkorg")
    assert reference in page.content()
    assert_accessible(page)  # the inbox

    tab_to(page, f"tr:has-text('{reference}') button:has-text('Acceptera')")
    press_and_wait(page, "Enter")
    assert page.url.endswith(f"/tickets/{reference}")
    assert "Du har accepterat eskaleringen" in page.content()
    assert_accessible(page)

    tab_to(page, "#body")
    page.keyboard.type("En altan lägre än 1,8 m kräver inget bygglov.")
    tab_to(page, "form.reply button[type=submit]")
    press_and_wait(page, "Enter")
    assert "Svaret är skickat." in page.content()
    tab_to(page, "button:has-text('Markera som löst')")
    press_and_wait(page, "Enter")
    assert "Ärendet är löst." in page.content()


def test_caseworker_returns_an_escalation_by_keyboard(page, live_server):
    reference = seed(live_server, "bygglov", "Fråga om parkeringsböter", phone="0701234568", reply_channel="sms")
    _escalate(live_server, reference, "sbk-bygglov", "Fråga om parkeringsböter.")
    login(page, "bygglov")
    tab_to(page, "a:has-text('Inkorg')")
    press_and_wait(page, "Enter")
    tab_to(page, f"tr:has-text('{reference}') a:has-text('Lämna tillbaka')")
    press_and_wait(page, "Enter")
    assert_accessible(page)  # the return form
    tab_to(page, "#reason")
    page.keyboard.type("Gäller gatukontoret, inte bygglov.")
    tab_to(page, "button:has-text('Lämna tillbaka')")
    press_and_wait(page, "Enter")
    assert "Ärendet är återlämnat till kontaktcenter." in page.content()
    assert reference not in page.locator("table").inner_text()


def test_coordinator_writes_a_knowledge_base_answer_by_keyboard(page, live_server):
    login(page, "kultursamordnare")
    tab_to(page, "a:has-text('Kunskapsbank')")
    press_and_wait(page, "Enter")
    assert_accessible(page)  # the knowledge base
    tab_to(page, "a:has-text('Nytt svar')")
    press_and_wait(page, "Enter")
    assert_accessible(page)  # the article form
    tab_to(page, "#service")
    page.keyboard.type("Bibliotekskort")
    tab_to(page, "#title")
    page.keyboard.type("Låna utan kort")
    tab_to(page, "#body")
    page.keyboard.type("Visa legitimation i lånedisken.")
    tab_to(page, "button:has-text('Spara')")
    press_and_wait(page, "Enter")
    assert "Svaret är sparat i kunskapsbanken." in page.content()
    assert "Låna utan kort" in page.content()
    assert_accessible(page)


def test_search_and_access_log_pages_are_accessible(page, live_server):
    reference = seed(
        live_server, "forsorjningsstod", "Hyran", personnummer="19900101-0017", phone="0701234569", reply_channel="sms"
    )
    login(page, "handlaggare")  # starts in the inbox; the queue is under "Mina köer"
    tab_to(page, "a:has-text('Mina köer')")
    press_and_wait(page, "Enter")
    tab_to(page, f"a[href='/tickets/{reference}']")  # from the console's list of the queue
    press_and_wait(page, "Enter")
    assert "Din läsning är loggad." in page.content()  # a logged read of a confidential ticket
    tab_to(page, "a:has-text('Sök ärende')")
    press_and_wait(page, "Enter")
    tab_to(page, "#q")
    page.keyboard.type("19900101-0017")
    press_and_wait(page, "Enter")
    assert reference in page.content()
    assert "19900101-XXXX" not in page.url
    assert_accessible(page)  # search results
    logout(page)

    login(page, "admin")
    tab_to(page, "a:has-text('Åtkomstlogg')")
    press_and_wait(page, "Enter")
    assert reference in page.content()
    assert_accessible(page)  # the access log


def _escalate(live_server, reference: str, queue_code: str, wants: str) -> None:
    from kontaktcenter.casework.escalation import Handover, escalate
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import Queue, User
    from kontaktcenter.tickets.models import Ticket

    with live_server.app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
        agent = db.session.scalar(select(User).where(User.username == "agent"))
        queue = db.session.scalar(select(Queue).where(Queue.code == queue_code))
        escalate(db.session, ticket, agent, queue, Handover(wants, "Inget ännu.", "0701234567", "normal"))
        db.session.commit()
        db.session.remove()
