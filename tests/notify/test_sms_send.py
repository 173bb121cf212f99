"""send_sms: through the official twilio client to a transport that records what Twilio would get."""

from __future__ import annotations

import pytest
from twilio.http.http_client import TwilioHttpClient

from kontaktcenter.app import create_app
from kontaktcenter.notify import transport
from kontaktcenter.notify.sms import SmsError, send_sms


@pytest.fixture
def outbox(app):
    with app.app_context():
        transport.clear_recorded()
        yield transport


def test_send_sms_goes_through_the_twilio_client(app, outbox):
    with app.app_context():
        sid = send_sms("070-123 45 67", "  Ditt ärende KC-2026-000001 är klart.  ")
        (request,) = outbox.recorded()
    assert request.method == "POST"
    assert request.url == f"https://api.twilio.com/2010-04-01/Accounts/{app.config['TWILIO_ACCOUNT_SID']}/Messages.json"
    # The client's own serialisation: Twilio's parameter names, E.164, our status callback.
    assert request.data == {
        "To": "+46701234567",
        "From": transport.DEMO_FROM_NUMBER,
        "Body": "Ditt ärende KC-2026-000001 är klart.",
        "StatusCallback": "http://localhost/twilio/sms/status",
    }
    assert sid == request.response["sid"]
    assert sid.startswith("SM")
    assert len(sid) == 34


def test_an_explicit_status_callback_and_sender_are_used(app, outbox, monkeypatch):
    # setitem puts the setting back afterwards (the app is shared by the whole session).
    monkeypatch.setitem(app.config, "TWILIO_FROM_NUMBER", "+46406001234")
    with app.app_context():
        send_sms("+46701234567", "Hej", status_callback="https://example.se/cb")
        (request,) = outbox.recorded()
    assert request.data["StatusCallback"] == "https://example.se/cb"
    assert request.data["From"] == "+46406001234"


@pytest.mark.parametrize(
    ("to", "body", "message"),
    [
        ("inte ett nummer", "Hej", "cannot send an SMS to this number"),
        ("+4670", "Hej", "not a valid phone number"),
        ("0701234567", "   ", "an SMS needs a text"),
        ("0701234567", "x" * 1601, "at most 1600 characters"),
    ],
)
def test_bad_sms_is_refused_and_nothing_is_sent(app, outbox, to, body, message):
    with app.app_context():
        with pytest.raises(SmsError, match=message):
            send_sms(to, body)
        assert outbox.recorded() == []


def test_recorded_requests_belong_to_their_app(app, outbox, tmp_path):
    other = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'o.sqlite3'}", "SECRET_KEY": "x"})
    with other.app_context():
        send_sms("0701234567", "Till den andra appen")
        assert len(transport.recorded()) == 1
    with app.app_context():
        assert outbox.recorded() == []


def test_real_credentials_outside_tests_talk_to_twilio(tmp_path):
    real = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}",
            "SECRET_KEY": "x",
            "TWILIO_ACCOUNT_SID": "AC" + "a1" * 16,
            "TWILIO_AUTH_TOKEN": "b2" * 16,
        }
    )
    with real.app_context():
        client = transport.twilio_client()
        assert isinstance(client.http_client, TwilioHttpClient)
        assert not transport.is_recording()
        with pytest.raises(transport.TransportError):
            transport.recorded()


def test_real_credentials_in_tests_are_still_recorded(tmp_path):
    testing = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 't.sqlite3'}",
            "SECRET_KEY": "x",
            "TWILIO_ACCOUNT_SID": "AC" + "a1" * 16,
            "TWILIO_AUTH_TOKEN": "b2" * 16,
        }
    )
    with testing.app_context():
        assert isinstance(transport.twilio_client().http_client, transport.RecordingHttpClient)
