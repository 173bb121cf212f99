"""Single sign-on in headless Chromium against the local OpenID Connect provider:
axe-core WCAG 2.1 AA on the sign-in page with its SSO button and on the refusal page,
and the whole round trip with the keyboard alone."""

import pytest

from tests.fixtures.browser import assert_accessible, press_and_wait
from tests.fixtures.oidc_provider import ProviderUser, sso_settings

pytestmark = pytest.mark.browser


@pytest.fixture
def sso_live(live_server, oidc_provider, monkeypatch):
    oidc_provider.reset()
    for key, value in sso_settings(oidc_provider).items():
        monkeypatch.setitem(live_server.app.config, key, value)
    return oidc_provider


def tab_to(page, selector: str, limit: int = 20) -> None:
    """Press Tab from the top of the page until `selector` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_login_page_with_the_sso_button_is_accessible(page, sso_live, lang):
    page.goto(f"/login?lang={lang}")
    assert page.locator("a.sso-button").is_visible()
    assert_accessible(page)


def test_login_page_with_only_sso_is_accessible(page, sso_live, live_server, monkeypatch):
    monkeypatch.setitem(live_server.app.config, "PASSWORD_LOGIN", False)
    page.goto("/login")
    assert page.locator("#password").count() == 0
    assert_accessible(page)


def test_sso_sign_in_with_the_keyboard_alone(page, sso_live):
    sso_live.user = ProviderUser(
        sub="sub-browser-1",
        preferred_username="kim.keyboard@malmo.se",
        name="Kim Tangentbord",
        email="kim.keyboard@malmo.se",
        groups=["kc-agents"],
    )
    page.goto("/login")
    tab_to(page, "a.sso-button")
    press_and_wait(page, "Enter")
    page.wait_for_url("**/console")
    assert "Kim Tangentbord" in page.content()


def test_the_no_access_page_is_accessible_and_leads_back_by_keyboard(page, sso_live):
    sso_live.user = ProviderUser(
        sub="sub-browser-2",
        preferred_username="utan.grupp@malmo.se",
        name="Utan Grupp",
        email="utan.grupp@malmo.se",
        groups=["alla-medarbetare"],
    )
    page.goto("/login")
    tab_to(page, "a.sso-button")
    press_and_wait(page, "Enter")
    page.wait_for_url("**/login/sso/callback**")
    assert page.locator("h1").inner_text() == "Ingen åtkomst"
    assert page.locator("[role=alert]").is_visible()
    assert_accessible(page)
    tab_to(page, "main a[href='/login']")
    press_and_wait(page, "Enter")
    assert page.url.endswith("/login")


def test_the_refusal_of_a_forged_token_is_accessible(page, sso_live):
    sso_live.user = ProviderUser(sub="sub-browser-3", preferred_username="mallory@malmo.se", groups=["kc-admins"])
    sso_live.tamper = "forged"
    page.goto("/login")
    tab_to(page, "a.sso-button")
    press_and_wait(page, "Enter")
    page.wait_for_url("**/login/sso/callback**")
    assert "kunde inte verifieras" in page.locator("[role=alert]").inner_text()
    assert_accessible(page)
