"""The Content-Security-Policy in a real browser: key pages work and report no violation.

Chromium reports what a CSP blocks both as a console message ("Refused to execute inline
script because it violates the following Content Security Policy directive …") and as a
securitypolicyviolation event; both are collected on every page visited.
"""

from __future__ import annotations

import pytest

from tests.browser.test_casework_flows import seed
from tests.fixtures.browser import assert_accessible, login

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def watched(page):
    """The page, with every CSP complaint it meets recorded; asserts there were none."""
    console = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    seen = []

    def check() -> None:
        events = page.evaluate("window.__cspViolations || []")
        seen.append(page.url)
        assert (console, events) == ([], []), f"CSP violations on {page.url}"

    page.check_csp = check
    yield page
    check()
    assert seen


@pytest.mark.parametrize("lang", ["sv", "ar"])
def test_citizen_form_runs_its_script_under_the_policy(watched, live_server, lang):
    page = watched
    response = page.goto(f"/kontakt?lang={lang}")
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    # kontakt.js (a static file now) shows the personnummer field only for services that use it.
    assert page.locator("#personnummer-part").is_hidden()
    page.locator("#service").select_option("forsorjningsstod")
    assert page.locator("#personnummer-part").is_visible()
    page.locator("#service").select_option("allmant")
    assert page.locator("#personnummer-part").is_hidden()
    page.check_csp()
    assert_accessible(page)  # axe-core still runs under the policy


def test_staff_pages_under_the_policy(watched, live_server):
    page = watched
    reference = seed(
        live_server, "allmant", "Var lämnar jag grovsopor?", email="sopor@example.se", reply_channel="email"
    )
    login(page, "agent")
    for path in ("/console", f"/tickets/{reference}", "/sok", "/kunskapsbank", "/phone"):
        response = page.goto(path)
        assert response.status == 200, path
        assert response.headers["cache-control"] == "no-store"
        page.check_csp()
    page.goto("/no-such-page")  # the error page's "back" link is a script file too
    page.check_csp()


def test_reports_and_the_walk_in_display_under_the_policy(watched, live_server):
    page = watched
    login(page, "chef")
    for path in ("/reports?start=2025-01-01&end=2025-01-31", "/reports/likvardighet", "/reports/bemanning"):
        assert page.goto(path).status == 200, path
        page.check_csp()
    page.goto("/besok/bibl-stadsbiblioteket/skarm")
    page.check_csp()
