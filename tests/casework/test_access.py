"""Who may reach which page, and who may read a confidential ticket (OSL)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from kontaktcenter.auth.decorators import STAFF_ROLES
from kontaktcenter.casework.models import AccessLog
from kontaktcenter.directory.catalogue import DEMO_USERS
from kontaktcenter.directory.models import User
from tests.conftest import AuthActions, csrf_token

# One demo user per role.
USER_OF_ROLE = {}
for username, _name, role, *_rest in DEMO_USERS:
    USER_OF_ROLE.setdefault(role, username)


def _client_as(app, username: str | None):
    """A signed-in (or anonymous) client's session cookie and CSRF token, to replay per request."""
    client = app.test_client()
    if username:
        response = AuthActions(client).login(username)
        assert response.status_code == 302, f"could not sign in as {username}"
    token = csrf_token(client, "/kontakt")
    return client.get_cookie("session").value, token


def _path(app, rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        values[name] = 999999 if isinstance(converter, IntegerConverter) else ("KC-2099-999999" if "reference" in name else "x")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _staff_routes(app):
    for rule in app.url_map.iter_rules():
        roles = getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
        if roles:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, roles


def test_role_route_matrix_covers_every_staff_route(app, session):
    """Every route wearing roles_required, as every role and anonymous: allowed, or refused the right way."""
    identities = {role: _client_as(app, USER_OF_ROLE[role]) for role in STAFF_ROLES}
    identities[None] = _client_as(app, None)
    routes = list(_staff_routes(app))
    assert len(routes) >= 15  # the console, ticket, escalation, knowledge base, search, access log, reports, …
    wrong = []
    for rule, method, allowed in routes:
        path = _path(app, rule)
        for role, (cookie, token) in identities.items():
            client = app.test_client()
            client.set_cookie("session", cookie)
            try:
                if method == "GET":
                    response = client.get(path)
                else:
                    response = client.open(path, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
            except Exception as exc:  # noqa: BLE001 - a crash is a finding, reported with its route
                wrong.append((method, rule.rule, role, f"raised {exc!r}"))
                continue
            status, location = response.status_code, response.headers.get("Location", "")
            if role is None:
                ok = status == 401 or (status == 302 and "/login?next=" in location)
            elif role not in allowed:
                ok = status == 403
            else:
                # Signing out lands on /login too, but a refusal carries ?next=.
                ok = status not in (401, 403) and status < 500 and "/login?next=" not in location
            if not ok:
                wrong.append((method, rule.rule, role or "anonymous", status))
    assert wrong == [], "\n".join(map(str, wrong))


@pytest.fixture
def confidential(make_contact):
    """A försörjningsstöd errand: confidential, owned by Arbetsmarknads- och socialförvaltningen."""
    received = make_contact(
        service="forsorjningsstod", text="Jag behöver hjälp med hyran.", personnummer="19900101-0017",
        phone="0701234567", reply_channel="sms",
    )
    assert received.ticket.confidential
    return received.ticket


def _logged_reads(session, ticket, username):
    return session.scalar(
        select(func.count()).select_from(AccessLog).join(User, User.id == AccessLog.user_id)
        .where(AccessLog.ticket_id == ticket.id, User.username == username)
    )


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("handlaggare", 200),  # caseworker of the owning department
        ("samordnare", 200),  # coordinator of the owning department
        ("agent", 404),  # kontaktcenter agent who did not take it
        ("agent2", 404),
        ("bygglov", 404),  # caseworker of another department
        ("kultursamordnare", 404),  # coordinator of another department
        ("admin", 404),  # administrators read the log, not the errand
        ("chef", 403),  # managers see aggregates only
        ("bibliotek", 403),
    ],
)
def test_confidential_ticket_is_readable_only_by_its_department_and_every_read_is_logged(
    client, auth, session, confidential, username, expected
):
    auth.login(username)
    response = client.get(f"/tickets/{confidential.reference}")
    assert response.status_code == expected
    page = response.get_data(as_text=True)
    if expected == 200:
        assert "Jag behöver hjälp med hyran." in page
        assert "199001010017" in page  # the full personnummer, only here
        assert _logged_reads(session, confidential, username) == 1
        client.get(f"/tickets/{confidential.reference}")
        assert _logged_reads(session, confidential, username) == 2
    else:
        assert "hyran" not in page
        assert _logged_reads(session, confidential, username) == 0


def test_agent_who_took_a_confidential_contact_may_read_it_others_may_not(client, auth, session, make_contact):
    # Budget- och skuldrådgivning is confidential but answered by the first line.
    ticket = make_contact(service="budget-skuldradgivning", text="Skulder hos Kronofogden", phone="0701112233").ticket
    assert ticket.confidential and ticket.queue.code == "kc-forsta-linjen"
    auth.login("agent2")
    console = client.get("/console").get_data(as_text=True)
    assert ticket.reference in console and "Skulder hos Kronofogden" not in console
    assert f'href="/tickets/{ticket.reference}"' not in console
    auth.logout()

    auth.login("agent")
    response = auth.post("/console/next")
    assert response.headers["Location"].endswith(f"/tickets/{ticket.reference}")
    assert "Skulder hos Kronofogden" in client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert _logged_reads(session, ticket, "agent") == 1
    auth.logout()

    auth.login("agent2")
    assert client.get(f"/tickets/{ticket.reference}").status_code == 404
    assert auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "note", "body": "x"}).status_code == 404


def test_lists_mask_confidential_tickets_and_the_personnummer(client, auth, session, confidential, make_contact):
    open_ticket = make_contact(service="skolval", text="Skolval för min dotter", personnummer="19900101-0017").ticket
    auth.login("handlaggare")
    console = client.get("/console").get_data(as_text=True)
    assert confidential.reference in console
    assert "hyran" not in console  # subject masked even for a reader in a list
    search = client.get("/sok?q=199001010017").get_data(as_text=True).split("Träffar", 1)[1]  # the results, not the echoed query
    assert confidential.reference in search and open_ticket.reference in search
    assert "199001010017" not in search and "19900101-XXXX" in search
    assert "hyran" not in search
    # The ordinary ticket's page masks nothing for its readers; personnummer shown in full only there.
    assert "199001010017" in client.get(f"/tickets/{open_ticket.reference}").get_data(as_text=True)


def test_admin_sees_the_access_log(client, auth, session, confidential):
    auth.login("handlaggare")
    client.get(f"/tickets/{confidential.reference}")
    auth.logout()
    auth.login("admin")
    page = client.get(f"/admin/atkomstlogg?reference={confidential.reference}").get_data(as_text=True)
    assert re.search(rf"Per Andersson \(handlaggare\).*?{confidential.reference}", page, re.S)
    assert "Inga läsningar loggade." in client.get("/admin/atkomstlogg?reference=KC-2000-000001").get_data(as_text=True)
