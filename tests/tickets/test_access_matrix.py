"""The access rule (tickets/access.py) object by object: every role × every kind of ticket ×
every way of reaching it, with the expected answer and the access-log row it leaves."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import func, select, update

from kontaktcenter.casework.escalation import Handover, escalate
from kontaktcenter.casework.service import citizen_contacts
from kontaktcenter.directory.models import Queue, User
from kontaktcenter.tickets.models import AccessLog, Ticket
from kontaktcenter.worktime.calendar import STOCKHOLM
from tests.fixtures.tokens import make_token  # noqa: F401 - a fixture

PHONE = "0701239876"
# Situations, seen from the users below: the first line's own ticket; asf's (escalated there);
# asf's confidential errand; a confidential first-line errand the agent "agent" took; a first-line
# ticket assigned to agent2.
SITUATIONS = ("first_line", "asf", "confidential_asf", "confidential_taken", "assigned_other")
USERS = ("agent", "handlaggare", "samordnare", "bygglov", "chef", "admin", "bibliotek")

# read: 200 reads it; "reason" asks for a reason first (302 to the form); 404 may not know it
# exists; 403 the role has no such page. write: 302 done; 403 refused; 404 hidden.
A, R, H, F = 200, "reason", 404, 403
READ = {
    "agent": {"first_line": A, "asf": R, "confidential_asf": H, "confidential_taken": A, "assigned_other": A},
    "handlaggare": {"first_line": R, "asf": A, "confidential_asf": A, "confidential_taken": A, "assigned_other": R},
    "samordnare": {"first_line": R, "asf": A, "confidential_asf": A, "confidential_taken": A, "assigned_other": R},
    "bygglov": {"first_line": R, "asf": R, "confidential_asf": H, "confidential_taken": H, "assigned_other": R},
    # A ticket that is not confidential exists for everyone: no access is said as such (403);
    # a confidential one's existence stays hidden (404).
    "chef": {"first_line": A, "asf": F, "confidential_asf": H, "confidential_taken": H, "assigned_other": A},
    "admin": {"first_line": F, "asf": F, "confidential_asf": H, "confidential_taken": H, "assigned_other": F},
    "bibliotek": dict.fromkeys(SITUATIONS, F),
}
WRITE = {
    "agent": {"first_line": 302, "asf": F, "confidential_asf": H, "confidential_taken": 302, "assigned_other": F},
    "handlaggare": {"first_line": F, "asf": 302, "confidential_asf": 302, "confidential_taken": F, "assigned_other": F},
    # the coordinator also acts on their department's tickets that someone else holds
    "samordnare": {
        "first_line": F,
        "asf": 302,
        "confidential_asf": 302,
        "confidential_taken": 302,
        "assigned_other": F,
    },
    "bygglov": {"first_line": F, "asf": F, "confidential_asf": H, "confidential_taken": H, "assigned_other": F},
    "chef": dict.fromkeys(SITUATIONS, F),  # no casework pages at all
    "admin": {"first_line": F, "asf": F, "confidential_asf": H, "confidential_taken": H, "assigned_other": F},
    "bibliotek": dict.fromkeys(SITUATIONS, F),
}


@pytest.fixture
def tickets(app, session, make_contact):
    """One ticket per situation, all from the same citizen (so each is a related contact of the others)."""
    session.execute(update(User).values(presence="away"))
    session.commit()

    def user(name):
        return session.scalar(select(User).where(User.username == name))

    made = {
        "first_line": make_contact(service="allmant", text="Allmän fråga", phone=PHONE).ticket,
        "asf": make_contact(service="arbetsmarknad", text="Praktik?", phone=PHONE).ticket,
        "confidential_asf": make_contact(service="forsorjningsstod", text="Hyran", phone=PHONE).ticket,
        "confidential_taken": make_contact(service="budget-skuldradgivning", text="Skulder", phone=PHONE).ticket,
        "assigned_other": make_contact(service="allmant", text="Tas av agent2", phone=PHONE).ticket,
    }
    with app.app_context():
        made["asf"].taken_by_id = user("agent2").id  # the agent who escalated it is agent2, not "agent"
        escalate(
            session,
            made["asf"],
            user("agent2"),
            session.scalar(select(Queue).where(Queue.code == "asf-arbetsmarknad")),
            Handover("Vill ha praktik."),
        )
        made["confidential_taken"].taken_by_id = user("agent").id
        made["confidential_taken"].assignee = user("agent")
        made["assigned_other"].assignee = user("agent2")
    session.commit()
    assert made["confidential_asf"].confidential
    assert made["confidential_taken"].confidential
    assert made["confidential_taken"].queue.kind == "first_line"
    assert made["asf"].queue.code == "asf-arbetsmarknad"
    return made


def _log(session, ticket, username, allowed: bool) -> int:
    session.expire_all()
    return session.scalar(
        select(func.count(AccessLog.id))
        .join(User, User.id == AccessLog.user_id)
        .where(AccessLog.ticket_id == ticket.id, User.username == username, AccessLog.allowed.is_(allowed))
    )


def _read(client, ticket) -> int | str:
    response = client.get(f"/tickets/{ticket.reference}")
    if response.status_code == 302 and response.headers["Location"].endswith("/skal"):
        return R
    return response.status_code


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("username", USERS)
def test_access_matrix(app, client, auth, session, tickets, make_token, username, situation):  # noqa: F811
    ticket = tickets[situation]
    auth.login(username)
    user = session.scalar(select(User).where(User.username == username))
    expected_read, expected_write = READ[username][situation], WRITE[username][situation]

    # read, and what the access log says about it
    assert _read(client, ticket) == expected_read
    if expected_read == H:
        assert _log(session, ticket, username, allowed=False) == 1  # the denied attempt
    elif expected_read == A:
        assert _log(session, ticket, username, allowed=True) == (1 if ticket.confidential else 0)
    elif expected_read == R:
        reason = "Medborgaren ringde och bad mig titta på ärendet."
        assert auth.post(f"/tickets/{ticket.reference}/skal", {"reason": reason}).status_code == 302
        assert _read(client, ticket) == A
        (row,) = session.scalars(
            select(AccessLog).where(AccessLog.ticket_id == ticket.id, AccessLog.user_id == user.id)
        ).all()
        assert (row.allowed, row.reason) == (True, reason)

    # search hit (by the citizen's phone): listed exactly when the user may know the ticket exists
    search = auth.post("/sok", {"q": PHONE}, csrf_page="/kontakt")
    if username in ("chef", "bibliotek"):  # roles without the search page
        assert search.status_code == 403
    else:
        assert (ticket.reference in search.get_data(as_text=True).split("Träffar", 1)[1]) is (expected_read in (A, R))

    # related contact: on the citizen's first-line ticket, seen by this user
    if situation != "first_line":
        related = {r.ticket.reference for r in citizen_contacts(session, user, tickets["first_line"])}
        assert (ticket.reference in related) is (expected_read in (A, R))

    # the public API: without the receipt code nobody learns anything, whoever asks
    api = client.get(
        f"/api/v1/tickets/{ticket.reference}", headers={"Authorization": f"Bearer {make_token('tickets:read')}"}
    )
    assert api.status_code == 404

    # drill-down (report roles): listed only when readable in one's own work, and never when
    # confidential (reports show those in aggregate only)
    if username in ("chef", "samordnare", "admin"):
        # The report's days are Stockholm's: between 23:00 and 24:00 UTC the UTC date is a day behind.
        arrived = ticket.first_arrived_at
        arrived = arrived if arrived.tzinfo else arrived.replace(tzinfo=UTC)
        day = arrived.astimezone(STOCKHOLM).date().isoformat()
        page = client.get("/reports/drill", query_string={"start": day, "end": day, "figure": "tickets"}).get_data(
            as_text=True
        )
        assert (f">{ticket.reference}<" in page) is (expected_read == A and not ticket.confidential)

    # write: escalate (the form), reply (a note), resolve — each refused the same way, nothing changed
    escalate_form = client.get(f"/tickets/{ticket.reference}/escalate").status_code
    assert escalate_form == (200 if expected_write == 302 else expected_write)
    before = (session.get(Ticket, ticket.id).status, len(session.get(Ticket, ticket.id).messages))
    assert (
        auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "note", "body": "Anteckning"}).status_code
        == expected_write
    )
    assert auth.post(f"/tickets/{ticket.reference}/resolve").status_code == expected_write
    session.expire_all()
    after = session.get(Ticket, ticket.id)
    if expected_write == 302:
        assert after.status == "resolved"
    else:
        assert (after.status, len(after.messages)) == before
        if expected_write == H:
            assert _log(session, ticket, username, allowed=False) >= 3  # read, reply and resolve attempts


@pytest.mark.parametrize("reason", ["", "   ", "för kort", "x" * 301])
def test_a_reason_that_says_nothing_grants_nothing_and_logs_nothing(client, auth, session, tickets, reason):
    ticket = tickets["first_line"]
    auth.login("bygglov")
    response = auth.post(f"/tickets/{ticket.reference}/skal", {"reason": reason})
    assert response.status_code == 400
    assert _read(client, ticket) == R  # still asked for a reason
    assert _log(session, ticket, "bygglov", allowed=True) == 0


def test_serving_a_citizen_means_holding_their_ticket_not_typing_their_number(
    app, client, auth, session, tickets, make_contact
):
    """An agent who files a form with someone's phone number gets an unassigned first-line
    ticket: that is no key to the person's other tickets. Once they hold a ticket of the
    citizen's, the other non-confidential ones open, and each read is logged with why."""
    bait = make_contact(service="allmant", text="Jag är visst den här personen", phone=PHONE).ticket
    auth.login("agent")
    target = tickets["asf"]
    assert client.get(f"/tickets/{target.reference}?via={bait.reference}").headers["Location"].endswith("/skal")
    assert client.get(f"/tickets/{tickets['confidential_asf'].reference}?via={bait.reference}").status_code == 404
    assert auth.post(f"/tickets/{bait.reference}/take").status_code == 302
    assert client.get(f"/tickets/{target.reference}?via={bait.reference}").status_code == 200
    (row,) = session.scalars(select(AccessLog).where(AccessLog.ticket_id == target.id)).all()
    assert (row.user.username, row.allowed, row.reason) == ("agent", True, f"samma medborgare som {bait.reference}")
    assert client.get(f"/tickets/{tickets['confidential_asf'].reference}?via={bait.reference}").status_code == 404
