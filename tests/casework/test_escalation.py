"""Escalation round trip: handover → department inbox → accept → answer → resolve, or return."""

from __future__ import annotations

import re

from sqlalchemy import select

from kontaktcenter.casework.models import Escalation
from kontaktcenter.directory.models import Queue
from kontaktcenter.notify.email import OUTBOX_KEY
from kontaktcenter.notify.transport import recorded


def _queue_id(session, code):
    return session.scalar(select(Queue.id).where(Queue.code == code))


HANDOVER = {
    "citizen_wants": "Vill ändra sin ansökan om bygglov för ett plank.",
    "done_so_far": "Förklarat handläggningstiden.",
    "how_to_reach": "0701234567 efter 16",
    "urgency": "high",
}


def test_escalation_round_trip_through_the_department_inbox(app, client, auth, session, everyone_away, make_contact):
    ticket = make_contact(
        service="bygglov", text="Jag vill ändra min bygglovsansökan.", email="eva@example.se", reply_channel="email"
    ).ticket
    assert ticket.queue.code == "kc-forsta-linjen"
    outbox = app.extensions.setdefault(OUTBOX_KEY, [])
    outbox.clear()

    auth.login("agent")
    auth.post(f"/tickets/{ticket.reference}/take")
    response = auth.post(
        f"/tickets/{ticket.reference}/escalate", {**HANDOVER, "queue": _queue_id(session, "sbk-bygglov"), "notify": "y"}
    )
    assert response.status_code == 302
    session.refresh(ticket)
    assert (ticket.status, ticket.queue.code, ticket.assignee_id, ticket.escalated) == (
        "escalated",
        "sbk-bygglov",
        None,
        True,
    )
    assert ticket.priority >= 6
    assert ticket.accept_due_at is not None
    # The citizen was told, automatically (not counted as a first response).
    assert [m["To"] for m in outbox] == ["eva@example.se"]
    assert ticket.contacts[0].first_response_at is None
    auth.logout()

    auth.login("bygglov")
    inbox = client.get("/inkorg").get_data(as_text=True)
    assert ticket.reference in inbox
    assert "Vill ändra sin ansökan" in inbox
    escalation = session.scalar(select(Escalation).where(Escalation.ticket_id == ticket.id))
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert "Förklarat handläggningstiden." in page
    assert "0701234567 efter 16" in page
    auth.post(f"/escalations/{escalation.id}/accept")
    session.refresh(ticket)
    session.refresh(escalation)
    assert ticket.assignee.username == "bygglov"
    assert ticket.status == "open"
    assert escalation.accepted_by.username == "bygglov"
    assert escalation.accepted_at is not None

    auth.post(
        f"/tickets/{ticket.reference}/reply", {"kind": "reply", "body": "Skicka in en ny ritning via e-tjänsten."}
    )
    auth.post(f"/tickets/{ticket.reference}/resolve")
    session.refresh(ticket)
    assert ticket.status == "resolved"
    assert ticket.resolution == "department"
    assert outbox[-1]["To"] == "eva@example.se"
    assert "ny ritning" in outbox[-1].get_content()
    kinds = [e.kind for e in ticket.events]
    assert kinds.index("escalated") < kinds.index("escalation_accepted") < kinds.index("resolution")


def test_department_returns_an_escalation_with_a_reason(app, client, auth, session, everyone_away, make_contact):
    ticket = make_contact(service="bygglov", text="Fråga om parkering", phone="0701234567", reply_channel="sms").ticket
    auth.login("agent")
    auth.post(f"/tickets/{ticket.reference}/escalate", {**HANDOVER, "queue": _queue_id(session, "sbk-bygglov")})
    auth.logout()
    escalation = session.scalar(select(Escalation).where(Escalation.ticket_id == ticket.id))

    auth.login("bygglov")
    refused = auth.post(f"/escalations/{escalation.id}/return", {"reason": ""})
    assert refused.status_code == 400
    assert "Ange varför ärendet lämnas tillbaka." in refused.get_data(as_text=True)
    auth.post(
        f"/escalations/{escalation.id}/return", {"reason": "Gäller parkeringstillstånd, inte bygglov.", "notify": "y"}
    )
    with app.app_context():
        texts = [r.data for r in recorded() if r.kind == "message"]
    # The citizen asked for SMS and is told that the contact center has the errand again.
    assert texts[-1]["To"] == "+46701234567"
    assert ticket.reference in texts[-1]["Body"]
    session.refresh(ticket)
    session.refresh(escalation)
    # Back with the agent who escalated it (tests/casework/test_workspace.py: flagged, with a notice).
    assert (ticket.status, ticket.queue.code, ticket.assignee.username) == ("open", "kc-forsta-linjen", "agent")
    assert escalation.return_reason == "Gäller parkeringstillstånd, inte bygglov."
    assert ticket.reference not in client.get("/inkorg").get_data(as_text=True)
    auth.logout()

    auth.login("agent")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert "Gäller parkeringstillstånd, inte bygglov." in page


def test_escalation_needs_what_the_citizen_wants_and_changes_nothing_without_it(
    client, auth, session, everyone_away, make_contact
):
    ticket = make_contact(service="bygglov").ticket
    auth.login("agent")
    response = auth.post(
        f"/tickets/{ticket.reference}/escalate", {"queue": _queue_id(session, "sbk-bygglov"), "citizen_wants": ""}
    )
    assert response.status_code == 400
    assert "Beskriv vad medborgaren vill." in response.get_data(as_text=True)
    session.refresh(ticket)
    assert ticket.status == "new"
    assert not ticket.escalated
    assert session.scalar(select(Escalation).where(Escalation.ticket_id == ticket.id)) is None


def test_only_the_departments_caseworkers_may_accept(client, auth, session, everyone_away, make_contact):
    ticket = make_contact(service="bygglov").ticket
    auth.login("agent")
    auth.post(f"/tickets/{ticket.reference}/escalate", {**HANDOVER, "queue": _queue_id(session, "sbk-bygglov")})
    auth.logout()
    escalation = session.scalar(select(Escalation).where(Escalation.ticket_id == ticket.id))
    auth.login("handlaggare")  # a caseworker of another department
    assert auth.post(f"/escalations/{escalation.id}/accept").status_code == 403
    assert client.get(f"/escalations/{escalation.id}/return").status_code == 403
    assert ticket.reference not in client.get("/inkorg").get_data(as_text=True)
    session.refresh(escalation)
    assert escalation.accepted_at is None


def test_escalated_confidential_errand_leaves_the_agents_sight(client, auth, session, everyone_away, make_contact):
    ticket = make_contact(service="budget-skuldradgivning", text="Skulder", phone="0701234567").ticket
    auth.login("agent")
    auth.post("/console/next")
    response = auth.post(
        f"/tickets/{ticket.reference}/escalate", {**HANDOVER, "queue": _queue_id(session, "asf-forsorjningsstod")}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    # The agent took the contact, so may still read it.
    assert re.search(rf"/tickets/{ticket.reference}$", response.headers["Location"])
    auth.logout()
    auth.login("agent2")
    assert client.get(f"/tickets/{ticket.reference}").status_code == 404
    auth.logout()
    auth.login("handlaggare")
    assert ticket.reference in client.get("/inkorg").get_data(as_text=True)
    inbox = client.get("/inkorg").get_data(as_text=True)
    assert HANDOVER["citizen_wants"] not in inbox  # a list masks a confidential ticket, even for its readers


def test_escalation_to_a_confidential_queue_makes_the_errand_confidential(
    client, auth, session, everyone_away, make_contact
):
    ticket = make_contact(service="allmant", text="Jag har inga pengar till hyran", phone="0701234567").ticket
    assert not ticket.confidential
    auth.login("agent2")
    auth.post(
        f"/tickets/{ticket.reference}/escalate", {**HANDOVER, "queue": _queue_id(session, "asf-forsorjningsstod")}
    )
    session.refresh(ticket)
    assert ticket.confidential
    # agent2 did not take the contact: the errand is gone from sight, and its department reads it.
    assert client.get(f"/tickets/{ticket.reference}").status_code == 404
    auth.logout()
    auth.login("handlaggare")
    assert "Jag har inga pengar till hyran" in client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
