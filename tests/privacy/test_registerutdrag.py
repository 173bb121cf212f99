"""Registerutdrag: every row about the citizen is in the extract, no row about anyone else,
and each request is in the access log with the identifiers masked."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import or_, select

from kontaktcenter.casework.escalation import Handover, escalate
from kontaktcenter.casework.models import Escalation
from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import Queue, User
from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.tickets.access import log_access
from kontaktcenter.tickets.models import AccessLog, Message, Ticket, TicketEvent
from kontaktcenter.tickets.service import add_message

ANNA = {"personnummer": "19900101-0017", "phone": "0701234567", "email": "anna.svensson@example.se"}
BO = {"personnummer": "19121212-1212", "phone": "0707654321", "email": "bo.berg@example.se"}


def _citizen(make_contact, who: dict, name: str) -> list:
    made = [
        make_contact(
            channel="phone", service="skolval", phone=who["phone"], citizen_name=name, text=f"{name} ringer om skolval"
        ),
        make_contact(
            channel="sms", service="avfall", phone=who["phone"], reply_channel="sms", text=f"Soporna hos {name}"
        ),
        make_contact(
            channel="web",
            service="forskoleplats",
            personnummer=who["personnummer"],
            email=who["email"],
            citizen_name=name,
            reply_channel="email",
            text="Förskoleplats till mitt barn",
        ),
        make_contact(
            channel="email",
            service="bygglov",
            email=who["email"],
            reply_channel="email",
            subject="Bygglov",
            text="Altan",
        ),
        make_contact(
            channel="walk_in",
            service="utskrift-hjalp",
            personnummer=who["personnummer"],
            location_code="filial-rosengard",
            citizen_name=name,
            text="Skriva ut beslut",
        ),
        make_contact(
            channel="web",
            service="forsorjningsstod",
            personnummer=who["personnummer"],
            phone=who["phone"],
            reply_channel="sms",
            text=f"{name} behöver hjälp med hyran",
        ),
    ]
    return made


@pytest.fixture
def people(session, make_contact):
    anna = _citizen(make_contact, ANNA, "Anna Svensson")
    bo = _citizen(make_contact, BO, "Bo Berg")
    anonymous = make_contact(channel="web", service="allmant", text="Anonym fråga")
    agent = session.scalar(select(User).where(User.username == "agent"))
    caseworker = session.scalar(select(User).where(User.username == "handlaggare"))
    for received in (anna[0], bo[0]):
        # An escalation, a reply and a logged read on each citizen's tickets.
        ticket = received.ticket
        escalate(
            session,
            ticket,
            agent,
            session.scalar(select(Queue).where(Queue.code == "grundskola-antagning")),
            Handover(citizen_wants="Byta skola", how_to_reach="ring efter 16"),
        )
        add_message(session, ticket, kind="note", body="Vi har skickat vidare ärendet.", author=agent)
    for received in (anna[-1], bo[-1]):
        assert received.ticket.confidential
        log_access(session, caseworker, received.ticket, "read")
    session.commit()
    return {"anna": anna, "bo": bo, "anonymous": anonymous}


def _ids(session, model, where) -> set:
    return set(session.scalars(select(model.id).where(where)))


def _expected(session, who: dict) -> dict:
    from kontaktcenter.contacts.citizen import normalise_email, normalise_personnummer, normalise_phone

    mine = or_(
        Contact.citizen_personnummer == normalise_personnummer(who["personnummer"]),
        Contact.citizen_phone == normalise_phone(who["phone"]),
        Contact.citizen_email == normalise_email(who["email"]),
    )
    contacts = _ids(session, Contact, mine)
    tickets = set(session.scalars(select(Contact.ticket_id).where(mine)))
    return {
        "contacts": contacts,
        "tickets": tickets,
        "messages": _ids(session, Message, Message.ticket_id.in_(tickets)),
        "events": _ids(session, TicketEvent, TicketEvent.ticket_id.in_(tickets)),
        "routing_decisions": _ids(session, RoutingDecision, RoutingDecision.ticket_id.in_(tickets)),
        "escalations": _ids(session, Escalation, Escalation.ticket_id.in_(tickets)),
        "access_log": len(_ids(session, AccessLog, AccessLog.ticket_id.in_(tickets))),
    }


def _check(data: dict, expected: dict) -> None:
    assert {c["id"] for c in data["contacts"]} == expected["contacts"]
    assert {c["channel"] for c in data["contacts"]} >= {"phone", "sms", "web", "email", "walk_in"}
    assert {t["id"] for t in data["tickets"]} == expected["tickets"]
    assert any(t["confidential"] for t in data["tickets"])
    for section in ("messages", "events", "routing_decisions", "escalations"):
        assert {r["id"] for r in data[section]} == expected[section], section
        assert expected[section], section  # the fixture made some of each
    assert len(data["access_log"]) == expected["access_log"] >= 1
    assert [v["channel"] for v in data["walk_in_visits"]] == ["walk_in"]
    assert data["identifiers"]["personnummer"] == ["199001010017"]
    assert data["identifiers"]["phone"] == ["+46701234567"]
    assert data["identifiers"]["email"] == ["anna.svensson@example.se"]


def _nothing_about_bo(session, text: str, people) -> None:
    for needle in ("Bo Berg", "191212121212", "+46707654321", "bo.berg@example.se", "Anonym fråga"):
        assert needle not in text
    for received in [*people["bo"], people["anonymous"]]:
        assert received.ticket.reference not in text


def test_admin_page_extract_json_and_html(client, auth, session, people):
    expected = _expected(session, ANNA)
    auth.login("admin")
    assert client.get("/admin/registerutdrag").status_code == 200
    response = auth.post("/admin/registerutdrag", {**ANNA, "format": "json"}, csrf_page="/admin/registerutdrag")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    _check(json.loads(text), expected)
    _nothing_about_bo(session, text, people)

    page = auth.post("/admin/registerutdrag", {**ANNA, "format": "html"}, csrf_page="/admin/registerutdrag").get_data(
        as_text=True
    )
    assert "Registerutdrag" in page
    assert all(r.ticket.reference in page for r in people["anna"])
    _nothing_about_bo(session, page, people)

    # Each request is logged, the identifiers masked.
    logged = session.scalars(select(AccessLog).where(AccessLog.action == "registerutdrag").order_by(AccessLog.id)).all()
    assert len(logged) == 2
    assert logged[0].user.username == "admin"
    assert logged[0].ticket_id is None
    assert "19900101-XXXX" in logged[0].detail
    assert "199001010017" not in logged[0].detail
    assert "0017" not in logged[0].detail
    assert "anna.svensson" not in logged[0].detail


def test_only_admins_and_bad_input(client, auth, session, people):
    auth.login("handlaggare")
    assert client.get("/admin/registerutdrag").status_code == 403
    auth.logout()
    auth.login("admin")
    bad = auth.post("/admin/registerutdrag", {"personnummer": "19900101-0018"}, csrf_page="/admin/registerutdrag")
    assert bad.status_code == 400
    assert session.scalar(select(AccessLog.id).where(AccessLog.action == "registerutdrag")) is None


def test_cli_extract(runner, session, people, tmp_path):
    expected = _expected(session, ANNA)
    out = tmp_path / "utdrag.json"
    args = [
        "registerutdrag",
        "--personnummer",
        ANNA["personnummer"],
        "--phone",
        ANNA["phone"],
        "--email",
        ANNA["email"],
        "--by",
        "admin",
    ]
    result = runner.invoke(args=[*args, "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    _check(json.loads(text), expected)
    _nothing_about_bo(session, text, people)
    html = runner.invoke(args=args)
    assert html.exit_code == 0, html.output
    assert "<h1>Registerutdrag</h1>" in html.output
    assert runner.invoke(args=["registerutdrag", "--by", "admin"]).exit_code == 1
    assert runner.invoke(args=["registerutdrag", "--phone", ANNA["phone"], "--by", "agent"]).exit_code == 1
    assert session.scalar(select(AccessLog.detail).where(AccessLog.action == "registerutdrag")).startswith(
        "personnummer 19900101-XXXX"
    )


def test_one_identifier_finds_only_its_contacts(session, people):
    from kontaktcenter.privacy.extract import extract, person

    data = extract(session, person(email=ANNA["email"]))
    assert {c["channel"] for c in data["contacts"]} == {"web", "email"}
    assert all(t["id"] in {c["ticket_id"] for c in data["contacts"]} for t in data["tickets"])
    assert (
        session.scalar(select(Ticket.id).where(Ticket.id.in_([t["id"] for t in data["tickets"]]), Ticket.confidential))
        is None
    )
