"""E-mail round trip: a citizen writes in, the agent's reply leaves through a real SMTP server, the answer threads back."""

from sqlalchemy import select

from kontaktcenter.tickets.models import Message, Ticket
from tests.notify.test_email_smtp import smtp_server  # noqa: F401 - the real local SMTP server fixture

SECRET = "rundtur"


def _inbound(client, subject, text, message_id):
    data = {
        "from": "Omar Ali <omar@example.se>",
        "subject": subject,
        "text": text,
        "headers": f"Message-ID: <{message_id}>\nSubject: {subject}\n",
        "envelope": "{}",
    }
    return client.post(f"/email/inbound/{SECRET}", data=data, content_type="multipart/form-data").get_json()


def test_round_trip_through_smtp_threads_the_answer(app, client, auth, session, smtp_server, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "INBOUND_EMAIL_SECRET", SECRET)
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://kc:hemligt@127.0.0.1:{smtp_server.port}")
    reference = _inbound(client, "Sophämtning", "Soporna hämtades inte i tisdags.", "q1@example.se")["reference"]

    # The agent answers on the ticket page, as at work: the reply goes out through SMTP.
    auth.login("agent")
    response = auth.post(
        f"/tickets/{reference}/reply",
        {"body": "Vi hämtar på torsdag.", "kind": "reply"},
        csrf_page=f"/tickets/{reference}",
    )
    assert response.status_code == 302
    ((_sender, recipients, sent),) = smtp_server.messages
    assert recipients == ["omar@example.se"]
    assert f"[{reference}]" in sent["Subject"]
    assert "Vi hämtar på torsdag." in sent.get_content()
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    reply = session.scalar(select(Message).where(Message.ticket_id == ticket.id, Message.kind == "reply"))
    assert reply.provider_sid == sent["Message-ID"]
    assert not reply.automatic
    assert ticket.contacts[0].first_response_at is not None

    # The citizen answers the message as it arrived: their client keeps our subject.
    answer = _inbound(client, f"Re: {sent['Subject']}", "Tack, det blev bra.", "q2@example.se")
    assert answer == {"reference": reference, "created": True}
    session.refresh(ticket)
    assert [c.text for c in ticket.contacts] == ["Soporna hämtades inte i tisdags.", "Tack, det blev bra."]


def test_reply_is_not_stored_as_sent_when_the_smtp_server_refuses(app, client, auth, session, smtp_server, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "INBOUND_EMAIL_SECRET", SECRET)
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://kc:fel-losenord@127.0.0.1:{smtp_server.port}")
    reference = _inbound(client, "Bygglov", "Behöver jag bygglov?", "q3@example.se")["reference"]
    auth.login("agent")
    auth.post(f"/tickets/{reference}/reply", {"body": "Ja.", "kind": "reply"}, csrf_page=f"/tickets/{reference}")
    assert smtp_server.messages == []
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert session.scalar(select(Message).where(Message.ticket_id == ticket.id, Message.kind == "reply")) is None
