"""E-mail round trip: citizen writes in, the reply leaves through a real SMTP server, the citizen's answer threads back."""
from sqlalchemy import select

from kontaktcenter.notify.email import send_email
from kontaktcenter.tickets.models import Ticket
from tests.notify.test_email_smtp import smtp_server  # noqa: F401 - the real local SMTP server fixture

SECRET = "rundtur"


def _inbound(client, subject, text, message_id):
    data = {"from": "Omar Ali <omar@example.se>", "subject": subject, "text": text,
            "headers": f"Message-ID: <{message_id}>\nSubject: {subject}\n", "envelope": "{}"}
    return client.post(f"/email/inbound/{SECRET}", data=data, content_type="multipart/form-data").get_json()


def test_round_trip_through_smtp_threads_the_answer(app, client, session, smtp_server, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "INBOUND_EMAIL_SECRET", SECRET)
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://kc:hemligt@127.0.0.1:{smtp_server.port}")
    reference = _inbound(client, "Sophämtning", "Soporna hämtades inte i tisdags.", "q1@example.se")["reference"]

    with app.app_context():
        send_email("omar@example.se", "Sophämtning", "Vi hämtar på torsdag.", reference=reference)
    ((_sender, recipients, sent),) = smtp_server.messages
    assert recipients == ["omar@example.se"]

    # The citizen answers the message as it arrived: their client keeps our subject.
    answer = _inbound(client, f"Re: {sent['Subject']}", "Tack, det blev bra.", "q2@example.se")
    assert answer == {"reference": reference, "created": True}
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert [c.text for c in ticket.contacts] == ["Soporna hämtades inte i tisdags.", "Tack, det blev bra."]
