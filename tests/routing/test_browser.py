"""The rules page and the ticket's decision section in a real browser: axe-core, keyboard."""

from __future__ import annotations

import shutil

import pytest
from flask import render_template_string
from sqlalchemy import select

from kontaktcenter.config import PROJECT_ROOT
from kontaktcenter.database import db
from kontaktcenter.intake.incoming import IncomingContact
from kontaktcenter.intake.receive import receive
from kontaktcenter.routing.engine import Vocabulary, load_rules
from kontaktcenter.routing.service import EXTENSION_KEY, latest_decision
from kontaktcenter.tickets.models import Ticket
from tests.fixtures.browser import assert_accessible, login
from tests.fixtures.factories import at

pytestmark = pytest.mark.browser


@pytest.fixture
def live_rules(live_server, tmp_path):
    """A copy of the shipped rules that the live server routes with for this test only."""
    app = live_server.app
    directory = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "routing_rules", directory)
    saved_dir, saved_state = app.config["RULES_DIR"], app.extensions.pop(EXTENSION_KEY, None)
    app.config["RULES_DIR"] = str(directory)
    yield directory
    app.config["RULES_DIR"] = saved_dir
    app.extensions.pop(EXTENSION_KEY, None)
    if saved_state is not None:
        app.extensions[EXTENSION_KEY] = saved_state


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_rules_page_with_a_refused_change_is_accessible(page, live_rules, lang):
    shipped = load_rules(live_rules, Vocabulary.from_catalogue())
    login(page, "admin")
    page.goto(f"/admin/rules?lang={lang}")  # the shipped set goes into force
    (live_rules / "15-trasig.yaml").write_text(
        '- id: trasig\n  when: servise == "allmant"\n  route_to: kc-forsta-linjen\n', encoding="utf-8"
    )
    page.goto(f"/admin/rules?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    assert "15-trasig.yaml:2: trasig: unknown attribute 'servise'" in page.locator("pre.problems").inner_text()
    assert page.locator("tbody tr").count() == len(shipped.rules)
    assert shipped.version in page.locator("dl.facts").inner_text()
    assert_accessible(page)
    # The wide table scrolls with the keyboard: its region takes focus.
    page.locator(".table-scroll").focus()
    assert page.evaluate("document.activeElement.classList.contains('table-scroll')")


def test_the_tickets_decision_section_is_accessible_and_keyboard_operable(page, live_server, live_rules):
    app = live_server.app
    with app.app_context():
        received = receive(
            db.session,
            IncomingContact(
                channel="web",
                service_code="skolval",
                text="Jag behöver tolk.",
                language="ar",
                needs=["interpreter"],
                interpreter_language="ar",
                arrived_at=at("2026-03-03 10:00"),
            ),
        )
        reference = received.ticket.reference
        db.session.commit()
        db.session.remove()
    # The full decision record (routing/_decision.html) in the site's layout, with its styles.
    with app.test_request_context("/?lang=sv"):
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
        html = render_template_string(
            '{% extends "base.html" %}{% block content %}{% include "routing/_decision.html" %}{% endblock %}',
            decision=latest_decision(db.session, ticket),
            ticket=ticket,
        )
        db.session.remove()
    preview = f"{live_server.url}/__decision-preview"
    page.route(preview, lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
    page.goto(preview)
    summary = page.locator("details summary")
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator("details").get_attribute("open") is not None
    assert page.locator("th:has-text('interpreter_language')").is_visible()
    assert "efter 120 min arbetstid vidare" in page.locator("ol.route").inner_text()
    assert_accessible(page)

    # The ticket page itself (casework) shows the decision in its section, to the agent whose queue holds it.
    login(page, "agent")
    page.goto(f"/tickets/{reference}")
    section = page.locator("section[aria-labelledby=why]")
    assert "tolkbehov" in section.inner_text()
    assert "regeln kräver" in section.inner_text()
    assert_accessible(page)
    details = section.locator("details")
    if details.count():  # the attribute table (routing/_decision.html) opens with the keyboard
        details.locator("summary").focus()
        page.keyboard.press("Enter")
        assert details.get_attribute("open") is not None
        assert section.locator("th:has-text('interpreter_language')").is_visible()
        assert_accessible(page)
