"""axe-core (WCAG 2.1 AA) and reflow at 320 px: the contact reasons, service development and quarter pages."""

from __future__ import annotations

from datetime import date

import pytest

from tests.fixtures.browser import assert_accessible, login

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def development_history(live_server):
    """A month of generated history with contact reasons on some contacts."""
    from sqlalchemy import func, select, update

    from kontaktcenter.contacts.models import Contact
    from kontaktcenter.database import db
    from kontaktcenter.demo import generate_history
    from kontaktcenter.directory.models import ContactReason
    from kontaktcenter.history.write import Directory, write_history

    with live_server.app.app_context():
        if not db.session.scalar(select(func.count()).select_from(Contact).where(Contact.external_id.like("dev-%"))):
            rows = list(generate_history(date(2025, 2, 1), days=31, seed=19))
            for row in rows:
                row.external_id = "dev-" + row.external_id
            write_history(db.session, rows, Directory(db.session))
            reasons = {
                r.service_id: r.id
                for r in db.session.scalars(select(ContactReason).where(ContactReason.code == "annat-fel"))
            }
            for service_id, reason_id in reasons.items():
                db.session.execute(
                    update(Contact)
                    .where(Contact.service_id == service_id, Contact.external_id.like("dev-%"), Contact.id % 3 == 0)
                    .values(reason_id=reason_id)
                )
            db.session.commit()
        db.session.remove()


PERIOD = "start=2025-02-01&end=2025-02-28"
PAGES = [
    ("samordnare", "/samordnare/orsaker"),
    ("admin", "/samordnare/orsaker?department=sbk"),
    ("chef", f"/reports/utveckling?{PERIOD}"),
    ("samordnare", f"/reports/utveckling?{PERIOD}"),
    ("chef", "/reports/kvartal?department=kultur&quarter=2025-Q1&cost=1200000"),
    ("chef", "/reports/kvartal?department=kultur&quarter=2025-Q1&cost=1200000&print=1"),
    ("chef", f"/reports/utveckling?{PERIOD}&print=1"),
    ("kultursamordnare", "/reports/kvartal?quarter=2025-Q1"),
    ("chef", "/reports/kvartal?department=kultur&quarter=2025-Q9"),  # the error state
]


@pytest.mark.parametrize("width", [1366, 320])
@pytest.mark.parametrize(("user", "path"), PAGES)
def test_page_is_accessible_and_reflows(page, development_history, user, path, width):
    page.set_viewport_size({"width": width, "height": 800})
    login(page, user)
    page.goto(path)
    assert page.locator("h1").count() == 1
    assert_accessible(page)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] == width, f"{path} scrolls sideways at {width} px: {widths}"
