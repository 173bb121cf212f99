"""Security headers on every response (issue 15, part 5).

Every GET route of app.url_map is fetched as a client that may use it, with real values
for its URL parameters (tests/route_world.py): each answer carries the CSP (no
'unsafe-inline'), nosniff, no framing and a same-origin referrer; everything but the
public static files is no-store (staff pages, the receipt, exports, API answers); no
HTML page has inline script or style left for the CSP to block.
"""

from __future__ import annotations

import re

from kontaktcenter.channels.tokens.service import create_token
from kontaktcenter.headers import CONTENT_SECURITY_POLICY
from tests.fixtures.routes import client_as, staff_roles

PERIOD = {"start": "2026-03-02", "end": "2026-03-06"}
# Query strings some pages need to show their content rather than a 404 or a form error.
QUERY = {
    "metrics.drill_down": {**PERIOD, "figure": "escalated"},
    "metrics.export_report": {**PERIOD, "format": "csv", "by": "service"},
    "metrics.reports": PERIOD,
    "open311.requests_": {"service_code": "gatubelysning"},
}
# Routes that rightly answer something other than 200 to a GET, and why; the headers are
# checked on these answers all the same.
NOT_200 = {
    "index": 302,  # "/" sends staff to their console
    "walkin.choose_location": 302,  # location staff go straight to their own desk
    "api.not_found": 404,  # the API's catch-all for unknown resources
    "open311.request_": 404,  # the walker's ticket came by the web form, not Open311
    "api.get_ticket": 404,  # without its receipt code every reference is answered alike
    "casework.reason": 302,  # the ticket is in the walker's own work: no reason needed, on to the ticket
    "sso.start": 404,  # single sign-on is off in the walker's app (tests/auth/test_sso.py walks it with a provider)
    "sso.callback": 404,
    "two_factor.code": 302,  # without a right password just before, there is no code to ask for: back to sign-in
    "live.live_stream": 400,  # without ?topics= it names what is missing (a stream with topics is tests/live/)
}
INLINE = {
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "<style> block": re.compile(r"<style\b", re.I),
    "style= attribute": re.compile(r"\sstyle\s*=", re.I),
    "on…= handler": re.compile(r"\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def _header_problems(response, endpoint: str) -> list[str]:
    headers = response.headers
    problems = []
    csp = headers.get("Content-Security-Policy", "")
    for directive in (
        "default-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ):
        if directive not in csp:
            problems.append(f"CSP lacks {directive}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append(f"CSP allows unsafe: {csp}")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer"):
        problems.append(f"Referrer-Policy {headers.get('Referrer-Policy')!r}")
    if headers.get("X-Frame-Options") != "DENY":
        problems.append("no X-Frame-Options: DENY")
    if "Strict-Transport-Security" in headers:
        problems.append("HSTS outside production")
    cache = headers.get("Cache-Control", "")
    if endpoint == "static":
        if "no-store" in cache:
            problems.append("a public static file is no-store")
    elif cache != "no-store":
        problems.append(f"Cache-Control {cache!r}, not no-store")
    return problems


def test_every_get_route_answers_with_the_security_headers(app, session, world):
    # A contact sent through the API, so the API's contact resource exists for the walk.
    client = app.test_client()
    assert client.post(
        "/api/v1/contacts",
        json={"service_code": "allmant", "text": "Hej"},
        headers={"Authorization": f"Bearer {world.api_tokens['contacts:write']}", "Idempotency-Key": "walker-key"},
    ).status_code in (201, 202)
    # The citizen's receipt is shown to the browser that just sent the form.
    citizen, token = client_as(app, world, None)
    sent = citizen.post(
        "/kontakt",
        data={"service": "allmant", "text": "Var hämtas grovsopor?", "reply_channel": "none", "csrf_token": token},
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)
    assert "/kontakt/kvitto" in sent.headers["Location"]

    wrong, html_pages = [], 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        roles = staff_roles(app, rule)
        client = (
            citizen
            if rule.endpoint == "web.receipt"
            else client_as(app, world, world.role_for(rule.endpoint, roles) if roles else None)[0]
        )
        headers = {}
        if rule.endpoint.startswith("api."):
            scope = {"api.get_ticket": "tickets:read", "api.list_services": "services:read"}.get(
                rule.endpoint, "contacts:write"
            )
            headers["Authorization"] = f"Bearer {world.api_tokens[scope]}"
        path = world.path(app, rule, key="walker-key")
        response = client.get(path, query_string=QUERY.get(rule.endpoint, {}), headers=headers)
        expected = NOT_200.get(rule.endpoint, 200)
        if response.status_code != expected:
            wrong.append((rule.rule, f"status {response.status_code}, expected {expected}"))
        wrong += [(rule.rule, problem) for problem in _header_problems(response, rule.endpoint)]
        if response.mimetype == "text/html" and response.status_code == 200:
            html_pages += 1
            page = response.get_data(as_text=True)
            wrong += [(rule.rule, f"has an {what}") for what, pattern in INLINE.items() if pattern.search(page)]
    assert html_pages >= 25, html_pages  # the staff pages, the form, the receipt, the display …
    assert wrong == [], "\n".join(map(str, wrong))


def test_error_pages_carry_the_headers_too(app, client, session):
    for response, endpoint in (
        (client.get("/no-such-page"), None),
        (client.get("/kontakt?q=%00"), "web.kontakt"),
        (client.post("/kontakt", data={"text": "x"}), "web.kontakt"),
    ):
        assert response.status_code in (400, 404)
        assert _header_problems(response, endpoint) == []


def test_staff_pages_and_personal_data_are_never_stored(app, client, auth, session):
    """The header rule's point, said once more on the pages the issue names."""
    auth.login("chef")
    for path in ("/reports", "/reports/export?start=2026-03-02&end=2026-03-06&format=csv&by=service"):
        assert client.get(path).headers["Cache-Control"] == "no-store"
    raw = create_token(session, "headers test", "services:read")[1]
    session.commit()
    assert (
        client.get("/api/v1/services", headers={"Authorization": f"Bearer {raw}"}).headers["Cache-Control"]
        == "no-store"
    )
    static = client.get("/static/style.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")


def test_hsts_only_in_production(app, client, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    monkeypatch.setitem(app.config, "ENV", "production")
    assert client.get("/healthz").headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_policy_allows_nothing_inline():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["default-src"] == "'self'"
