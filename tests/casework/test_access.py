"""Who may reach which page, and who may read a confidential ticket (OSL)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from kontaktcenter.directory.catalogue import DEMO_USERS
from kontaktcenter.directory.models import User
from kontaktcenter.tickets.models import AccessLog
from kontaktcenter.vocabulary import ROLES
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
        values[name] = (
            999999 if isinstance(converter, IntegerConverter) else ("KC-2099-999999" if "reference" in name else "x")
        )
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _staff_routes(app):
    for rule in app.url_map.iter_rules():
        roles = getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
        if roles:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, roles


CASE = {"agent", "caseworker", "coordinator", "admin"}
INBOX = {"caseworker", "coordinator", "admin"}
# Casework's own routes and who may use them, stated here rather than read back from
# the decorator, so a loosened decorator fails this test.
CASEWORK_ROUTES = {
    "casework.console": CASE,
    "casework.presence": CASE,
    "casework.take_next": CASE,
    "casework.ticket": CASE | {"manager"},
    "casework.reason": {"agent", "caseworker", "coordinator"},
    "casework.take": CASE,
    "casework.reply": CASE,
    "casework.reply_address": CASE,
    "casework.waiting": CASE,
    "casework.resolve": CASE,
    "casework.reply_and_resolve": CASE,
    "casework.use_article": CASE,
    "casework.escalate": CASE,
    "casework.search": CASE,
    "casework.knowledge_base": CASE,
    "casework.inbox": INBOX,
    "casework.accept": INBOX,
    "casework.return_escalation": INBOX,
    "casework.new_article": {"coordinator", "admin"},
    "casework.edit_article": {"coordinator", "admin"},
}


def _request(app, identity, method: str, path: str):
    cookie, token = identity
    client = app.test_client()
    client.set_cookie("session", cookie)
    if method == "GET":
        return client.get(path)
    return client.open(path, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})


def test_role_route_matrix_covers_every_staff_route(app, session, monkeypatch):
    """Every route in app.url_map wearing roles_required (other parts' too), as every role
    and anonymous: allowed, or refused the right way (sign-in for anonymous, 403 otherwise)."""
    # A report export started by the matrix must not run in a thread on the test's connection.
    monkeypatch.setitem(app.extensions, "kontaktcenter.metrics.export_submit", lambda *args: None)
    identities = {role: _client_as(app, USER_OF_ROLE[role]) for role in ROLES}
    identities[None] = _client_as(app, None)
    routes = list(_staff_routes(app))
    casework = {rule.endpoint: set(roles) for rule, _method, roles in routes if rule.endpoint.startswith("casework.")}
    assert casework == CASEWORK_ROUTES
    assert len({rule.rule for rule, _m, _r in routes}) >= 30  # casework, reports, phone, walk-ins, admin, …
    wrong = []
    for rule, method, allowed in routes:
        path = _path(app, rule)
        for role, identity in list(identities.items()):
            try:
                response = _request(app, identity, method, path)
            except Exception as exc:  # noqa: BLE001 - a crash is a finding, reported with its route
                wrong.append((method, rule.rule, role, f"raised {exc!r}"))
                continue
            if rule.endpoint == "auth.logout" and role is not None:
                # Signing out ends the user's sessions on the server: sign in anew for the next routes.
                identities[role] = _client_as(app, USER_OF_ROLE[role])
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


def test_casework_pages_on_real_objects_as_every_role(app, session, everyone_away, make_contact):
    """The same pages on a real escalated ticket and a real article: exact status per role."""
    from kontaktcenter.casework.escalation import Handover, escalate
    from kontaktcenter.casework.models import KnowledgeArticle
    from kontaktcenter.directory.models import Queue, Service

    ticket = make_contact(service="arbetsmarknad", text="Hur får jag praktik?", phone="0701234567").ticket
    with app.app_context():
        agent = session.scalar(select(User).where(User.username == "agent"))
        queue = session.scalar(select(Queue).where(Queue.code == "asf-arbetsmarknad"))
        escalation = escalate(session, ticket, agent, queue, Handover("Vill ha praktik."))
    article = KnowledgeArticle(
        service=session.scalar(select(Service).where(Service.code == "arbetsmarknad")),
        title="Praktik",
        body="Kontakta Jobb Malmö.",
    )
    session.add(article)
    session.commit()
    # Per page, the status for each role (tickets/access.py): asf's caseworker and coordinator receive it; the administrator and the manager of
    # another department may not open it (403: the ticket is not confidential, so the page says "no access"); roles without the page get 403.
    pages = {
        # The agent escalated without taking it: no longer their work, readable with a reason (302 to the form).
        f"/tickets/{ticket.reference}": {
            "agent": 302,
            "caseworker": 200,
            "coordinator": 200,
            "admin": 403,
            "manager": 403,
        },
        f"/tickets/{ticket.reference}/escalate": {"caseworker": 200, "coordinator": 200, "admin": 403},
        "/inkorg": dict.fromkeys(INBOX, 200),
        # handlaggare and samordnare are of asf, the receiving department
        f"/escalations/{escalation.id}/return": {"caseworker": 200, "coordinator": 200, "admin": 403},
        f"/kunskapsbank/{article.id}": {"coordinator": 200, "admin": 200},  # samordnare keeps asf's answers
        "/admin/atkomstlogg": {"admin": 200, "dataskydd": 200},
    }
    identities = {role: _client_as(app, USER_OF_ROLE[role]) for role in ROLES}
    seen = {}
    for path in pages:
        for role, identity in identities.items():
            seen[(path, role)] = _request(app, identity, "GET", path).status_code
        assert _request(app, _client_as(app, None), "GET", path).headers["Location"].startswith("/login?next=")
    expected = {(path, role): statuses.get(role, 403) for path, statuses in pages.items() for role in ROLES}
    assert seen == expected


@pytest.fixture
def confidential(make_contact):
    """A försörjningsstöd errand: confidential, owned by Arbetsmarknads- och socialförvaltningen."""
    received = make_contact(
        service="forsorjningsstod",
        text="Jag behöver hjälp med hyran.",
        personnummer="19900101-0017",
        phone="0701234567",
        reply_channel="sms",
    )
    assert received.ticket.confidential
    return received.ticket


def _logged_reads(session, ticket, username, allowed=True):
    return session.scalar(
        select(func.count())
        .select_from(AccessLog)
        .join(User, User.id == AccessLog.user_id)
        .where(AccessLog.ticket_id == ticket.id, User.username == username, AccessLog.allowed.is_(allowed))
    )


@pytest.mark.parametrize(
    ("username", "expected", "acting"),
    [
        ("handlaggare", 200, 200),  # caseworker of the owning department
        ("samordnare", 200, 200),  # coordinator of the owning department
        ("agent", 404, 404),  # kontaktcenter agent who did not take it
        ("agent2", 404, 404),
        ("bygglov", 404, 404),  # caseworker of another department
        ("kultursamordnare", 404, 404),  # coordinator of another department
        ("admin", 404, 404),  # administrators read the log, not the errand
        ("chef", 404, 403),  # a manager of another department: not even its existence; no casework at all
        ("bibliotek", 403, 403),
    ],
)
def test_confidential_ticket_is_readable_only_by_its_department_and_every_read_is_logged(
    client, auth, session, confidential, username, expected, acting
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
        # The escalation form shows how to reach the citizen: a read too.
        assert client.get(f"/tickets/{confidential.reference}/escalate").status_code == 200
        assert _logged_reads(session, confidential, username) == 3
    else:
        assert "hyran" not in page
        assert client.get(f"/tickets/{confidential.reference}/escalate").status_code == acting
        assert (
            auth.post(f"/tickets/{confidential.reference}/reply", {"kind": "note", "body": "x"}).status_code == acting
        )
        if acting == 404:
            # Not even found by its reference: its existence is confidential too.
            found = (
                auth.post("/sok", {"q": confidential.reference}, csrf_page="/kontakt")
                .get_data(as_text=True)
                .split("Träffar", 1)[1]
            )
            assert confidential.reference not in found
            # Every denied attempt is in the access log.
            assert _logged_reads(session, confidential, username, allowed=False) >= 2
        assert _logged_reads(session, confidential, username) == 0


def test_agent_who_took_a_confidential_contact_may_read_it_others_may_not(client, auth, session, make_contact):
    # Budget- och skuldrådgivning is confidential but answered by the first line.
    ticket = make_contact(service="budget-skuldradgivning", text="Skulder hos Kronofogden", phone="0701112233").ticket
    assert ticket.confidential
    assert ticket.queue.code == "kc-forsta-linjen"
    auth.login("agent2")
    console = client.get("/console").get_data(as_text=True)
    assert ticket.reference not in console  # not even listed for those who may not read it
    assert "Skulder hos Kronofogden" not in console
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
    search = (
        auth.post("/sok", {"q": "199001010017"}, csrf_page="/kontakt").get_data(as_text=True).split("Träffar", 1)[1]
    )  # the results, not the echoed query
    assert confidential.reference in search
    assert open_ticket.reference in search
    assert "199001010017" not in search
    assert "19900101-XXXX" in search
    assert "hyran" not in search
    # The school-choice ticket is another department's: opening it asks for a reason, then
    # its page masks nothing; the personnummer is shown in full only there.
    response = client.get(f"/tickets/{open_ticket.reference}")
    assert response.headers["Location"].endswith(f"/tickets/{open_ticket.reference}/skal")
    auth.post(f"/tickets/{open_ticket.reference}/skal", {"reason": "Medborgaren ringde om både hyran och skolvalet."})
    assert "199001010017" in client.get(f"/tickets/{open_ticket.reference}").get_data(as_text=True)


def test_admin_sees_the_access_log(client, auth, session, confidential):
    auth.login("handlaggare")
    client.get(f"/tickets/{confidential.reference}")
    auth.logout()
    auth.login("admin")
    page = client.get(f"/admin/atkomstlogg?reference={confidential.reference}").get_data(as_text=True)
    assert re.search(rf"Per Andersson \(handlaggare\).*?{confidential.reference}.*?läste ärendet", page, re.S)
    assert "Inga läsningar loggade." in client.get("/admin/atkomstlogg?reference=KC-2000-000001").get_data(as_text=True)
