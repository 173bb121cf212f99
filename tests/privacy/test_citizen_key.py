"""The import's citizen_key is personal data like a phone number: in the registerutdrag,
corrected and erased by the data subject's rights, emptied by gallring, and never shown whole."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import User
from kontaktcenter.history.write import HistoryRow, write_history
from kontaktcenter.privacy import gallring, rights
from kontaktcenter.privacy.extract import extract, person, registerutdrag
from kontaktcenter.tickets.models import AccessLog, TicketEvent

NOW = datetime(2026, 12, 1, 3, tzinfo=UTC)
KEY = "SRC-000042/Malmö"


def _imported(session, external_id: str, key: str, resolved: datetime | None = None) -> Contact:
    arrived = datetime(2025, 1, 8, 9, tzinfo=UTC)
    write_history(
        session,
        [
            HistoryRow(
                external_id=external_id,
                channel="web",
                service_code="allmant",  # P6M delete
                arrived_at=arrived,
                first_response_at=arrived,
                resolution="kontaktcenter" if resolved else "unresolved",
                resolved_at=resolved,
                citizen_key=key,
            )
        ],
    )
    session.commit()
    return session.scalar(select(Contact).where(Contact.external_id == external_id))


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def test_the_registerutdrag_finds_contacts_by_citizen_key_and_logs_it_masked(session):
    mine = _imported(session, "ck-1", KEY)
    _imported(session, "ck-2", "SRC-000043")
    data = extract(session, person(citizen_key=f"  {KEY} "))
    assert [c["external_id"] for c in data["contacts"]] == ["ck-1"]
    assert data["identifiers"]["citizen_key"] == [KEY]
    assert data["contacts"][0]["citizen_key"] == KEY  # the person's own extract holds it
    registerutdrag(session, _user(session, "dataskydd"), person(citizen_key=KEY))
    logged = session.scalars(select(AccessLog.detail).where(AccessLog.action == "registerutdrag")).all()
    assert logged[-1] == "citizen_key SR***"
    assert mine.ticket_id is not None


def test_rattelse_removes_a_wrong_citizen_key_with_the_event_masked(session):
    contact = _imported(session, "ck-3", KEY)
    rights.correct(session, contact.ticket, _user(session, "admin"), "citizen_key", "", "Fel nyckel vid importen")
    session.commit()
    assert contact.citizen_key is None
    event = session.scalar(
        select(TicketEvent).where(
            TicketEvent.ticket_id == contact.ticket_id, TicketEvent.kind == "identifier_corrected"
        )
    )
    assert (event.from_value, event.to_value) == ("SR***", "")
    assert KEY not in str((event.from_value, event.to_value, event.detail))


def test_the_rights_page_shows_the_key_masked(client, auth, session):
    contact = _imported(session, "ck-4", KEY)
    auth.login("dataskydd")
    page = client.get(f"/dataskydd/arenden/{contact.ticket.reference}").get_data(as_text=True)
    assert "SR***" in page
    assert KEY not in page


def test_radering_and_gallring_empty_the_citizen_key(session):
    erased = _imported(session, "ck-5", KEY, resolved=datetime(2025, 1, 9, tzinfo=UTC))
    rights.erase(session, erased.ticket, _user(session, "dataskydd"), "Begäran om radering", now=NOW)
    session.commit()
    session.expire_all()
    assert session.get(Contact, erased.id).citizen_key is None
    due = _imported(session, "ck-6", KEY, resolved=datetime(2025, 1, 10, tzinfo=UTC))
    gallring.run(session, NOW)
    session.commit()
    session.expire_all()
    assert session.get(Contact, due.id).citizen_key is None
    assert extract(session, person(citizen_key=KEY))["contacts"] == []
