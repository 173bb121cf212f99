"""One error model: a DomainError raised in a view is answered by the app's handler in the
requester's own format, and whatever the refused action had written is rolled back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from kontaktcenter import errors_http
from kontaktcenter.directory.models import User
from kontaktcenter.errors import DomainError
from kontaktcenter.tickets.models import Message, TicketEvent
from kontaktcenter.tickets.service import TicketError


def _count(session, model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return session.scalar(stmt)


def test_the_domain_errors_share_one_base_and_keep_their_old_one():
    from kontaktcenter.accounts.service import AccountError
    from kontaktcenter.auth.passwords import WeakPassword
    from kontaktcenter.contacts.citizen import IdentifierError
    from kontaktcenter.intake.incoming import ContactError
    from kontaktcenter.privacy.rights import RightsError

    for cls in (TicketError, RightsError, AccountError, WeakPassword, IdentifierError, ContactError):
        assert issubclass(cls, DomainError)
        assert issubclass(cls, ValueError)  # callers that catch ValueError still do
    error = ContactError("service_code", "unknown service")
    assert (error.field, str(error)) == ("service_code", "service_code: unknown service")


def test_html_a_refused_reply_is_flashed_on_the_ticket_page_and_nothing_is_stored(
    client, auth, session, make_contact, monkeypatch
):
    session.execute(update(User).values(presence="away"))  # the ticket waits for the agent to take it
    ticket = make_contact(service="allmant", email="sven@example.se", reply_channel="email").ticket
    auth.login("agent")
    auth.post(f"/tickets/{ticket.reference}/take")
    messages, events = _count(session, Message, ticket_id=ticket.id), _count(session, TicketEvent, ticket_id=ticket.id)

    def refused(*_args, **_kw):
        raise OSError("the SMTP server is away")

    # The reply is stored (flushed) before it is sent: the failed send must take it with it.
    monkeypatch.setattr("kontaktcenter.notify.email.send_email", refused)
    response = auth.post(f"/tickets/{ticket.reference}/reply", {"kind": "reply", "body": "Hej!"})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/tickets/{ticket.reference}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Svaret kunde inte skickas. Försök igen om en stund." in page
    assert _count(session, Message, ticket_id=ticket.id) == messages
    assert _count(session, TicketEvent, ticket_id=ticket.id) == events


def test_html_in_english_the_flashed_message_is_translated(client, auth, session):
    auth.login("agent2")
    client.get("/console?lang=en")
    response = auth.post("/console/presence", {"presence": "sleeping"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Unknown presence status." in page


@pytest.fixture(scope="module")
def own_app():
    """An app of its own with one more page action, one that names nowhere to go back to
    (the handler's fallbacks); the shared app's routes stay those every route test walks."""
    from kontaktcenter.app import create_app
    from kontaktcenter.auth.decorators import public

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False})

    @app.post("/test/refuse")
    @public
    def refuse():
        raise TicketError("Ärendet är redan löst.")

    return app


def test_html_without_a_named_page_the_refusal_goes_back_to_the_same_origin_referrer(own_app):
    client = own_app.test_client()
    back = client.post("/test/refuse", headers={"Referer": "http://localhost/kontakt"})
    away = client.post("/test/refuse", headers={"Referer": "https://elsewhere.example/form"})
    assert (back.status_code, back.headers["Location"]) == (302, "http://localhost/kontakt")
    # Never back to another site: the message on the error page instead.
    assert away.status_code == 400
    assert "Ärendet är redan löst." in away.get_data(as_text=True)


def test_a_surface_registered_for_a_prefix_answers_in_its_own_format(own_app, monkeypatch):
    seen = []  # machine clients read English

    def answer(error: DomainError):
        seen.append(error)
        return {"said": str(error)}, error.status

    monkeypatch.setitem(errors_http.SURFACES, "/test/", errors_http.Surface(answer, "en"))
    response = own_app.test_client().post("/test/refuse")
    assert (response.status_code, response.get_json()) == (400, {"said": "The ticket is already resolved."})
    assert isinstance(seen[0], TicketError)
