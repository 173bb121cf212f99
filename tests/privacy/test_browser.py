"""axe-core: the registerutdrag form and the extract itself, in Swedish, English and Arabic."""

import pytest

from tests.fixtures.browser import assert_accessible, login

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
def test_registerutdrag_pages_are_accessible(page, live_server, lang):
    from kontaktcenter.database import db
    from kontaktcenter.intake.incoming import IncomingContact
    from kontaktcenter.intake.receive import receive

    with live_server.app.app_context():  # an errand and a visit, so the extract has rows to show
        receive(
            db.session,
            IncomingContact(
                channel="web",
                service_code="forsorjningsstod",
                personnummer="19900101-0017",
                text="Jag behöver hjälp med hyran.",
                reply_channel="none",
            ),
        )
        receive(
            db.session,
            IncomingContact(
                channel="walk_in",
                service_code="utskrift-hjalp",
                personnummer="19900101-0017",
                location_code="filial-rosengard",
                text="Skriva ut",
            ),
        )
        db.session.commit()
        db.session.remove()
    login(page, "admin")
    page.goto(f"/admin/registerutdrag?lang={lang}")
    assert_accessible(page)
    page.fill("#personnummer", "19900101-0017")
    with page.expect_navigation():
        page.click("form[action$='/admin/registerutdrag'] button[type=submit]")
    assert page.locator("h1").inner_text() in ("Registerutdrag", "Subject access request")
    assert page.locator("html").get_attribute("lang") == lang
    assert "Jag behöver hjälp med hyran." in page.content()
    assert_accessible(page)
