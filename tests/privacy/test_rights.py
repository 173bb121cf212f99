"""Rättelse, radering and begränsning: who may, what each changes and keeps, and that each
is an event and an access-log row with its reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kontaktcenter.casework.models import Escalation
from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import utcnow
from kontaktcenter.directory.models import User
from kontaktcenter.privacy import rights
from kontaktcenter.tickets.models import AccessLog, Message, Ticket, TicketEvent
from kontaktcenter.tickets.service import resolve

PNR = "19900101-0017"
PNR_DIGITS = "199001010017"
NEW_PNR = "19121212-1212"


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _log(session, ticket: Ticket, action: str) -> list[AccessLog]:
    return session.scalars(select(AccessLog).where(AccessLog.ticket_id == ticket.id, AccessLog.action == action)).all()


def _page(auth, reference: str) -> str:
    return f"/dataskydd/arenden/{reference}"


@pytest.fixture
def errand(make_contact):
    """A general question (P6M delete: its period is a longest time, not a shortest)."""
    return make_contact(
        service="allmant",
        text="Anna Svensson undrar om sophämtningen.",
        citizen_name="Anna Svensson",
        phone="0701234567",
        email="anna@example.se",
        personnummer=PNR,
    ).ticket


def _close(session, ticket: Ticket, days_ago: int = 1) -> None:
    resolve(session, ticket, actor=None, at=utcnow() - timedelta(days=days_ago))
    session.commit()


# -- rättelse --------------------------------------------------------------------------------


def test_rattelse_of_personnummer_is_an_event_with_masked_before_and_after(client, auth, session, errand):
    auth.login("dataskydd")
    page = _page(auth, errand.reference)
    assert client.get(page).status_code == 200
    response = auth.post(
        f"{page}/rattelse",
        {"field": "personnummer", "value": NEW_PNR, "reason": "Begäran 2026-12-01, fel nummer"},
        csrf_page=page,
    )
    assert response.status_code == 302
    session.expire_all()
    assert {c.citizen_personnummer for c in errand.contacts} == {"191212121212"}
    event = session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == errand.id, TicketEvent.kind == "identifier_corrected")
    )
    assert (event.from_value, event.to_value) == ("19900101-XXXX", "19121212-XXXX")
    assert event.detail == {"field": "personnummer", "reason": "Begäran 2026-12-01, fel nummer"}
    assert event.actor.username == "dataskydd"
    # Neither the old nor the new number is stored in clear in the event or the log.
    rows = _log(session, errand, "rattelse")
    assert len(rows) == 1
    assert rows[0].reason == "Begäran 2026-12-01, fel nummer"
    assert rows[0].detail == "personnummer"
    stored = " ".join(str(v) for v in (event.from_value, event.to_value, event.detail, rows[0].detail, rows[0].reason))
    assert PNR_DIGITS not in stored
    assert "191212121212" not in stored


def test_rattelse_of_phone_shows_before_and_after(client, auth, session, errand):
    admin = _user(session, "admin")
    rights.correct(session, errand, admin, "phone", "070-765 43 21", "Medborgaren har bytt nummer")
    session.commit()
    event = session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == errand.id, TicketEvent.kind == "identifier_corrected")
    )
    assert (event.from_value, event.to_value) == ("+46701234567", "+46707654321")
    assert errand.contacts[0].citizen_phone == "+46707654321"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("personnummer", "19900101-0018", "Personnumret är inte giltigt."),
        ("phone", "12", "Telefonnumret är inte giltigt."),
        ("email", "inte en adress", "E-postadressen är inte giltig."),
        ("phone", "0701234567", "Uppgiften har redan det värdet."),
        ("shoe_size", "42", "Välj vilken uppgift som ska rättas."),
    ],
)
def test_bad_rattelse_says_why_and_changes_nothing(client, auth, session, errand, field, value, message):
    auth.login("dataskydd")
    page = _page(auth, errand.reference)
    response = auth.post(f"{page}/rattelse", {"field": field, "value": value, "reason": "Begäran"}, csrf_page=page)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    session.expire_all()
    contact = errand.contacts[0]
    assert (contact.citizen_personnummer, contact.citizen_phone, contact.citizen_email) == (
        PNR_DIGITS,
        "+46701234567",
        "anna@example.se",
    )
    assert not session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == errand.id, TicketEvent.kind == "identifier_corrected")
    ).all()
    assert _log(session, errand, "rattelse") == []


def test_rattelse_needs_a_reason(client, auth, session, errand):
    auth.login("dataskydd")
    page = _page(auth, errand.reference)
    response = auth.post(f"{page}/rattelse", {"field": "name", "value": "Anna Berg", "reason": "   "}, csrf_page=page)
    assert response.status_code == 400
    session.expire_all()
    assert errand.contacts[0].citizen_name == "Anna Svensson"


def test_coordinator_corrects_own_department_only(client, auth, session, make_contact):
    asf = make_contact(service="forsorjningsstod", text="Hyran.", personnummer=PNR, phone="0701234567").ticket
    auth.login("samordnare")  # asf's coordinator
    ticket_page = client.get(f"/tickets/{asf.reference}").get_data(as_text=True)
    assert _page(auth, asf.reference) in ticket_page  # reachable from the ticket page
    response = auth.post(
        f"{_page(auth, asf.reference)}/rattelse", {"field": "phone", "value": "0707654321", "reason": "Nytt nummer"}
    )
    assert response.status_code == 302
    # but neither erases nor restricts
    assert auth.post(f"{_page(auth, asf.reference)}/radering", {"reason": "x"}).status_code == 403
    assert auth.post(f"{_page(auth, asf.reference)}/begransning", {"reason": "x"}).status_code == 403
    auth.logout()
    auth.login("kultursamordnare")  # another department: the confidential ticket's existence is hidden
    response = auth.post(
        f"{_page(auth, asf.reference)}/rattelse", {"field": "phone", "value": "0701111111", "reason": "x"}
    )
    assert response.status_code == 404
    session.expire_all()
    assert asf.contacts[0].citizen_phone == "+46707654321"


@pytest.mark.parametrize("username", ["agent", "handlaggare", "chef", "bibliotek"])
def test_other_roles_get_403_on_the_rights_pages(client, auth, session, errand, username):
    auth.login(username)
    assert client.get(_page(auth, errand.reference)).status_code == 403
    assert client.get("/dataskydd").status_code == 403
    for action in ("radering", "begransning"):
        assert auth.post(f"{_page(auth, errand.reference)}/{action}", {"reason": "x"}).status_code == 403
    session.expire_all()
    assert errand.gallrad_at is None
    assert errand.restriction == ""


# -- radering --------------------------------------------------------------------------------


def test_radering_empties_personal_data_and_keeps_the_figures(client, auth, session, errand):
    contact = errand.contacts[0]
    kept_before = (contact.channel, contact.service_id, contact.arrived_at, contact.language, contact.queue_id)
    _close(session, errand)
    ticket_before = (
        errand.status,
        errand.resolution,
        errand.resolved_at,
        errand.first_arrived_at,
        errand.service_id,
        errand.queue_id,
    )
    contacts_before = session.scalar(select(func.count()).select_from(Contact))
    auth.login("dataskydd")
    page = _page(auth, errand.reference)
    response = auth.post(f"{page}/radering", {"reason": "Begäran om radering 2026-12-02 (dnr 123)"}, csrf_page=page)
    assert response.status_code == 302
    session.expire_all()
    contact = session.get(Contact, contact.id)
    assert (
        contact.citizen_name,
        contact.citizen_phone,
        contact.citizen_email,
        contact.citizen_personnummer,
        contact.text,
    ) == ("", None, None, None, "")
    assert (contact.channel, contact.service_id, contact.arrived_at, contact.language, contact.queue_id) == kept_before
    ticket = session.get(Ticket, errand.id)
    assert (
        ticket.status,
        ticket.resolution,
        ticket.resolved_at,
        ticket.first_arrived_at,
        ticket.service_id,
        ticket.queue_id,
    ) == ticket_before
    assert ticket.subject == ""
    assert ticket.receipt_code is None
    assert ticket.gallrad_at is not None
    assert session.scalar(select(func.count()).select_from(Contact)) == contacts_before
    # allmant is a `delete` service: messages go, as gallring would delete them
    assert session.scalars(select(Message).where(Message.ticket_id == ticket.id)).all() == []
    event = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "erased"))
    assert event.detail == {"reason": "Begäran om radering 2026-12-02 (dnr 123)"}
    assert event.to_value == "delete"
    assert [r.reason for r in _log(session, ticket, "radering")] == ["Begäran om radering 2026-12-02 (dnr 123)"]
    # The person is no longer found by the registerutdrag.
    from kontaktcenter.privacy.extract import extract, person

    assert extract(session, person(personnummer=PNR))["contacts"] == []


def test_radering_refused_while_the_ticket_is_open(client, auth, session, errand):
    auth.login("dataskydd")
    page = _page(auth, errand.reference)
    response = auth.post(f"{page}/radering", {"reason": "Begäran"}, csrf_page=page)
    assert response.status_code == 400
    assert "Ärendet är öppet" in response.get_data(as_text=True)
    session.expire_all()
    assert errand.contacts[0].citizen_personnummer == PNR_DIGITS
    assert errand.gallrad_at is None
    assert _log(session, errand, "radering") == []


def test_radering_refused_under_a_retention_hold(client, auth, session, errand):
    _close(session, errand)
    errand.retention_hold = "Överklagat"
    session.commit()
    with pytest.raises(rights.RightsError, match="bevarande"):
        rights.erase(session, errand, _user(session, "dataskydd"), "Begäran")
    session.rollback()
    session.expire_all()
    assert errand.contacts[0].citizen_personnummer == PNR_DIGITS


def test_radering_refused_while_the_decision_keeps_the_records(client, auth, session, make_contact):
    """försörjningsstöd: P2Y anonymise — the records of the errand are kept two years."""
    ticket = make_contact(service="forsorjningsstod", text="Hyran.", personnummer=PNR).ticket
    escalation_count = session.scalar(select(func.count()).select_from(Escalation))
    _close(session, ticket, days_ago=30)
    dataskydd = _user(session, "dataskydd")
    with pytest.raises(rights.RightsError, match="gallringsbeslut"):
        rights.erase(session, ticket, dataskydd, "Begäran")
    session.rollback()
    # Two years after closing, the decision no longer keeps it.
    rights.erase(session, ticket, dataskydd, "Begäran", now=utcnow() + timedelta(days=2 * 366))
    session.commit()
    session.expire_all()
    assert ticket.contacts[0].citizen_personnummer is None
    assert session.scalar(select(func.count()).select_from(Escalation)) == escalation_count


def test_radering_from_the_command_line(runner, session, errand):
    _close(session, errand)
    result = runner.invoke(
        args=["dataskydd", "radering", errand.reference, "--reason", "Begäran per brev", "--by", "dataskydd"]
    )
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert errand.contacts[0].citizen_personnummer is None
    result = runner.invoke(args=["dataskydd", "radering", errand.reference, "--reason", "igen", "--by", "dataskydd"])
    assert result.exit_code == 1
    assert "redan raderade" in result.output
    result = runner.invoke(args=["dataskydd", "radering", errand.reference, "--reason", "x", "--by", "agent"])
    assert result.exit_code == 1
    assert "not an active admin or dataskydd" in result.output


def test_rattelse_from_the_command_line_refuses_bad_input(runner, session, errand):
    result = runner.invoke(
        args=[
            "dataskydd",
            "rattelse",
            errand.reference,
            "--field",
            "personnummer",
            "--value",
            "123",
            "--reason",
            "x",
            "--by",
            "admin",
        ]
    )
    assert result.exit_code == 1
    assert "Personnumret är inte giltigt." in result.output
    session.expire_all()
    assert errand.contacts[0].citizen_personnummer == PNR_DIGITS


# -- begränsning ----------------------------------------------------------------------------


def test_begransning_hides_the_ticket_from_lists_but_a_direct_read_is_logged(client, auth, session, make_contact):
    ticket = make_contact(
        service="allmant", text="Fråga om parkering.", phone="0701234567", citizen_name="Bo Ek"
    ).ticket
    reference = ticket.reference
    auth.login("agent")
    assert reference in client.get("/console").get_data(as_text=True)
    assert (
        reference
        in auth.post("/sok", {"q": "0701234567"}, csrf_page="/sok").get_data(as_text=True).split("Träffar", 1)[-1]
    )
    auth.logout()

    auth.login("dataskydd")
    page = _page(auth, reference)
    response = auth.post(
        f"{page}/begransning", {"reason": "Medborgaren bestrider uppgifternas riktighet"}, csrf_page=page
    )
    assert response.status_code == 302
    session.expire_all()
    assert ticket.restriction == "Medborgaren bestrider uppgifternas riktighet"
    assert (
        session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "restricted"))
        is not None
    )
    auth.logout()

    auth.login("agent")
    assert reference not in client.get("/console").get_data(as_text=True)  # queue list
    assert (
        reference
        not in auth.post("/sok", {"q": "0701234567"}, csrf_page="/sok").get_data(as_text=True).split("Träffar", 1)[-1]
    )  # search
    assert (
        reference
        not in auth.post("/sok", {"q": "parkering"}, csrf_page="/sok").get_data(as_text=True).split("Träffar", 1)[-1]
    )
    assert auth.post("/console/next").headers["Location"].endswith("/console")  # not handed out
    before = len(_log(session, ticket, "read"))
    response = client.get(f"/tickets/{reference}")  # first line: the agent may still read it directly
    assert response.status_code == 200
    assert "Behandlingen av ärendet är begränsad" in response.get_data(as_text=True)
    assert len(_log(session, ticket, "read")) == before + 1
    assert auth.post(f"/tickets/{reference}/take").status_code == 403  # but no one acts on it
    auth.logout()

    auth.login("dataskydd")
    response = auth.post(f"{page}/begransning", {"reason": "Uppgifterna är kontrollerade", "lift": "1"}, csrf_page=page)
    assert response.status_code == 302
    session.expire_all()
    assert ticket.restriction == ""
    lifted = session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "restriction_lifted")
    )
    assert (lifted.from_value, lifted.to_value) == (
        "Medborgaren bestrider uppgifternas riktighet",
        "Uppgifterna är kontrollerade",
    )
    assert [
        r.action
        for r in session.scalars(
            select(AccessLog)
            .where(AccessLog.ticket_id == ticket.id, AccessLog.action.like("begransning%"))
            .order_by(AccessLog.id)
        )
    ] == ["begransning", "begransning_havd"]


def test_begransning_hides_the_ticket_from_the_open311_list(client, session, make_contact):
    ticket = make_contact(channel="open311", service="gatubelysning", text="Lampan är trasig.").ticket
    assert ticket.reference in client.get("/open311/v2/requests.json").get_data(as_text=True)
    rights.restrict(session, ticket, _user(session, "dataskydd"), "Begäran")
    session.commit()
    assert ticket.reference not in client.get("/open311/v2/requests.json").get_data(as_text=True)


def test_begransning_needs_a_reason_and_is_not_set_twice(session, errand):
    dataskydd = _user(session, "dataskydd")
    with pytest.raises(rights.RightsError, match="skälet"):
        rights.restrict(session, errand, dataskydd, "")
    rights.restrict(session, errand, dataskydd, "Begäran")
    with pytest.raises(rights.RightsError, match="redan begränsad"):
        rights.restrict(session, errand, dataskydd, "igen")
    with pytest.raises(rights.RightsError, match="Du får inte"):
        rights.lift_restriction(session, errand, _user(session, "samordnare"), "x")


def test_a_new_sms_from_the_citizen_does_not_join_a_restricted_ticket(app, session):
    """Nothing is lost: no one works on a restricted ticket, so the SMS makes a new, listed one."""
    from kontaktcenter.intake.incoming import IncomingContact
    from kontaktcenter.intake.receive import receive

    with app.app_context():
        first = receive(
            session,
            IncomingContact(
                channel="sms", service_code="allmant", phone="0701234567", text="Hej", provider_sid="SM" + "1" * 32
            ),
        ).ticket
        session.commit()
        rights.restrict(session, first, _user(session, "dataskydd"), "Begäran")
        session.commit()
        second = receive(
            session,
            IncomingContact(
                channel="sms", service_code="allmant", phone="0701234567", text="Hej igen", provider_sid="SM" + "2" * 32
            ),
        ).ticket
        session.commit()
    assert second.id != first.id
    assert not second.restricted
