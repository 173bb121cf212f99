"""The pages this round added, in headless Chromium: axe-core WCAG 2.1 AA, and the keyboard alone.

The web receipt with its receipt code (sv/en/ar); the ticket page's reply address, the
mention of a cited ticket and the link to the citizen's earlier ticket; the reason form for
reading outside one's own work; the access log; the password page and the sign-in log.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.browser.test_casework_flows import seed, tab_to
from tests.fixtures.browser import assert_accessible, login, press_and_wait

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
def test_the_receipt_with_its_code_is_accessible(page, live_server, lang):
    page.goto(f"/kontakt?lang={lang}")
    page.select_option("#service", "skolval")
    page.fill("#text", "När öppnar skolvalet?")
    page.locator("#reply_channel-3, input[name=reply_channel][value=none]").first.check()
    with page.expect_navigation():
        page.locator("form button[type=submit]").last.click()
    assert "/kontakt/kvitto" in page.url
    code = page.locator(".receipt-code").inner_text()
    assert len(code) == 11
    assert code[5] == "-"
    assert_accessible(page)


def _mentioning_and_related(live_server) -> tuple[str, str, str]:
    """A call's ticket from a caller whose earlier first-line ticket exists, and a mail citing that one from a stranger."""
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import User
    from kontaktcenter.intake.incoming import IncomingContact
    from kontaktcenter.intake.receive import receive

    earlier = seed(live_server, "allmant", "Var lämnar jag grovsopor?", phone="0701112299", reply_channel="sms")
    with live_server.app.app_context():
        db.session.execute(update(User).values(presence="away"))
        call = receive(
            db.session,
            IncomingContact(channel="phone", service_code="allmant", phone="0701112299", reply_channel="phone"),
        )
        mail = receive(
            db.session,
            IncomingContact(
                channel="email",
                service_code=None,
                email="stranger@example.se",
                reply_channel="email",
                subject=f"Re: {earlier}",
                text="Skicka svaret hit.",
                reference=earlier,
            ),
        )
        db.session.commit()
        references = call.ticket.reference, mail.ticket.reference
        db.session.remove()
    return earlier, *references


def test_ticket_page_reply_address_mention_and_link_by_keyboard(page, live_server):
    earlier, call, mail = _mentioning_and_related(live_server)
    login(page, "agent")

    page.goto(f"/tickets/{mail}")
    assert f"Nämner ärende {earlier}" in page.locator("article.contact").inner_text()
    # The reply address section opens and saves with the keyboard.
    tab_to(page, ".reply-address summary")
    page.keyboard.press("Enter")
    assert page.locator(".reply-address details").get_attribute("open") is not None
    assert_accessible(page)
    tab_to(page, "#reply_to")
    page.keyboard.press("Control+a")
    page.keyboard.type("ny.adress@example.se")
    tab_to(page, ".reply-address button")
    press_and_wait(page, "Enter")
    assert "Svarsadressen är ändrad." in page.content()
    assert "ny.adress@example.se" in page.locator(".reply-address").inner_text()

    # The call links to the caller's earlier ticket, on the caller's word.
    page.goto(f"/tickets/{call}")
    assert_accessible(page)
    tab_to(page, f"button:has-text('Koppla till {earlier}')")
    press_and_wait(page, "Enter")
    assert page.url.endswith(f"/tickets/{earlier}")
    assert f"Kontakten är kopplad till ärende {earlier}" in page.content()
    assert_accessible(page)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_reason_form_is_accessible_and_works_by_keyboard(page, live_server, lang):
    reference = seed(live_server, "allmant", "En fråga om parkering.")
    login(page, "bygglov")  # a caseworker of another department
    page.goto(f"/tickets/{reference}?lang={lang}")
    assert page.url.endswith(f"/tickets/{reference}/skal")
    assert_accessible(page)
    tab_to(page, "form[action$='/skal'] button[type=submit]")
    press_and_wait(page, "Enter")  # no reason: refused with a message on the field
    assert page.locator("#reason-error").is_visible()
    assert_accessible(page)
    tab_to(page, "#reason")
    page.keyboard.type("Medborgaren ringde om bygglov och parkering.")
    tab_to(page, "form[action$='/skal'] button[type=submit]")
    press_and_wait(page, "Enter")
    assert page.url.endswith(f"/tickets/{reference}")


def test_access_log_password_page_and_sign_in_log_are_accessible(page, live_server):
    from kontaktcenter.database import db
    from kontaktcenter.directory.models import User
    from kontaktcenter.tickets.access import log_access
    from kontaktcenter.tickets.models import Ticket

    reference = seed(live_server, "forsorjningsstod", "Hyran", personnummer="19900101-0017")
    with live_server.app.app_context():
        user = db.session.scalar(select(User).where(User.username == "agent2"))
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
        log_access(db.session, user, ticket, "read", allowed=False, detail=reference)
        log_access(db.session, user, None, "search", detail="personnummer 19900101-XXXX")
        db.session.commit()
        db.session.remove()
    login(page, "admin")
    page.goto(f"/admin/atkomstlogg?reference={reference}")
    assert "nekad" in page.content()
    assert_accessible(page)
    page.goto("/admin/inloggningar")
    assert_accessible(page)
    page.goto("/konto/losenord")
    assert_accessible(page)
