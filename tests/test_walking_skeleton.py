"""End to end: citizen form → routed ticket → agent takes, replies, resolves → report."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from kontaktcenter.tickets.models import Ticket
from tests.conftest import csrf_token


def test_citizen_to_agent_to_report(client, auth, session):
    token = csrf_token(client, "/kontakt")
    response = client.post(
        "/kontakt",
        data={
            "service": "bibliotekskort",
            "text": "Jag har tappat mitt bibliotekskort.",
            "reply_channel": "email",
            "email": "sven@example.se",
            "csrf_token": token,
        },
    )
    reference = re.search(r"KC-\d{4}-\d{6}", client.get(response.headers["Location"]).get_data(as_text=True)).group(0)

    auth.login("agent")
    console = client.get("/console").get_data(as_text=True)
    assert reference in console

    page = client.get(f"/tickets/{reference}").get_data(as_text=True)
    assert "Jag har tappat mitt bibliotekskort." in page
    assert "Varför hamnade ärendet här?" in page

    assert auth.post(f"/tickets/{reference}/take").status_code == 302
    auth.post(f"/tickets/{reference}/reply", {"kind": "reply", "body": "Du kan spärra kortet på Mina sidor."})
    auth.post(f"/tickets/{reference}/resolve")

    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert ticket.status == "resolved"
    assert ticket.resolution == "first_contact"
    assert ticket.assignee.username == "agent"
    assert ticket.contacts[0].first_response_at is not None
    kinds = [e.kind for e in ticket.events]
    assert kinds == ["created", "routed", "assigned", "status", "message:reply", "status", "resolution"]

    auth.logout()
    auth.login("chef")
    today = datetime.now(ZoneInfo("Europe/Stockholm")).date().isoformat()
    page = client.get("/reports", query_string={"start": today, "end": today}).get_data(as_text=True)
    assert "kc_resolution_rate" in page
    export = client.get(
        "/reports/export", query_string={"start": today, "end": today, "format": "json", "by": "service"}
    )
    row = next(r for r in export.get_json()["rows"] if r["service"] == "bibliotekskort")
    # METRICS.md: resolved in the contact center ÷ tickets the contact center handled.
    assert row["tickets"] >= 1
    assert row["kc_resolution_rate"] == 1.0


def test_resolving_twice_is_refused(client, auth, session, make_contact):
    received = make_contact(service="allmant")
    auth.login("agent")
    auth.post(f"/tickets/{received.ticket.reference}/resolve")
    response = auth.post(f"/tickets/{received.ticket.reference}/resolve")
    assert "Ärendet är redan löst." in client.get(response.headers["Location"]).get_data(as_text=True)
