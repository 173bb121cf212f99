"""Outbound e-mail through a real local SMTP server (aiosmtpd), and the demo's recorded outbox."""

import logging
import socket
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from kontaktcenter.notify.email import OUTBOX_KEY, EmailError, parse_smtp_url, send_email


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.mail_from, envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default))
        )
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free local port; requires login kc / hemligt."""
    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.login == b"kc" and auth_data.password == b"hemligt", handled=False)

    inbox.port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=inbox.port,
        server_hostname="localhost",
        authenticator=authenticate,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    yield inbox
    controller.stop()


def test_message_goes_through_smtp_with_the_reference_in_the_subject(app, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://kc:hemligt@127.0.0.1:{smtp_server.port}")
    monkeypatch.setitem(app.config, "MAIL_FROM", "kontaktcenter@malmo.example")
    with app.app_context():
        message_id = send_email(
            "anna@example.se", "Svar om skolval", "Skolvalet öppnar 15 januari.", reference="KC-2026-000123"
        )
    ((sender, recipients, message),) = smtp_server.messages
    assert sender == "kontaktcenter@malmo.example"
    assert recipients == ["anna@example.se"]
    assert message["Subject"] == "[KC-2026-000123] Svar om skolval"
    assert message["Message-ID"] == message_id
    assert message.get_content().strip() == "Skolvalet öppnar 15 januari."


def test_reference_is_not_repeated_in_a_threaded_subject(app, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://kc:hemligt@127.0.0.1:{smtp_server.port}")
    with app.app_context():
        send_email("anna@example.se", "Re: [KC-2026-000123] Svar", "Tack!", reference="KC-2026-000123")
    assert smtp_server.messages[0][2]["Subject"] == "Re: [KC-2026-000123] Svar"


def test_wrong_smtp_password_raises_a_clear_error(app, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://kc:fel@127.0.0.1:{smtp_server.port}")
    with app.app_context(), pytest.raises(EmailError, match=r"could not send e-mail to a\*\*\*@example.se"):
        send_email("anna@example.se", "Hej", "Text")
    assert smtp_server.messages == []


def test_without_smtp_url_the_message_is_recorded_not_sent(app, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="kontaktcenter.notify.email")
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    app.extensions.pop(OUTBOX_KEY, None)
    with app.app_context():
        message_id = send_email("anna@example.se", "Hej", "Text", reference="KC-2026-000001")
    (recorded,) = app.extensions[OUTBOX_KEY]
    assert recorded["Message-ID"] == message_id
    assert recorded["Subject"] == "[KC-2026-000001] Hej"
    assert "recorded, not sent" in caplog.text
    app.extensions.pop(OUTBOX_KEY, None)


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "starttls", "user"),
    [
        ("smtp://mail.malmo.se", "mail.malmo.se", 25, False, False, None),
        ("smtp://u%40x:p@mail:587?starttls=1", "mail", 587, False, True, "u@x"),
        ("smtps://u:p@mail", "mail", 465, True, False, "u"),
    ],
)
def test_smtp_url_forms(url, host, port, tls, starttls, user):
    target = parse_smtp_url(url)
    assert (target.host, target.port, target.implicit_tls, target.starttls, target.username) == (
        host,
        port,
        tls,
        starttls,
        user,
    )


def test_smtp_url_with_another_scheme_is_refused():
    with pytest.raises(EmailError, match="SMTP_URL must look like"):
        parse_smtp_url("http://mail")
