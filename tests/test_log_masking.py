"""No personnummer, e-mail address or phone number in an application log line: the filter
the app factory installs masks them in every record, werkzeug's request lines included."""

from __future__ import annotations

import logging
import urllib.request

from flask import current_app

from kontaktcenter.app import create_app
from kontaktcenter.log_masking import mask_text
from tests.conftest import csrf_token

PNR, EMAIL, PHONE = "19900101-0017", "anna.svensson@example.se", "070-123 45 67"
RAW = (
    "19900101-0017",
    "199001010017",
    "900101-0017",
    "anna.svensson@example.se",
    "070-123 45 67",
    "0701234567",
    "+46701234567",
)


def _lines(caplog) -> str:
    return "\n".join(caplog.handler.format(r) for r in caplog.records)


def _leaks(text: str) -> list[str]:
    return [raw for raw in RAW if raw in text]


def test_a_record_emitted_by_a_view_is_masked_message_and_arguments(tmp_path, caplog):
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x" * 40, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"},
        instance_path=str(tmp_path),
    )

    @app.get("/logs-a-citizen")
    def logs_a_citizen():
        current_app.logger.warning("citizen %s wrote from %s, call back on %s", PNR, EMAIL, PHONE)
        logging.getLogger("kontaktcenter.test").info(f"inline: {PNR} {EMAIL} {PHONE}")  # noqa: G004 - what careless code does
        return "ok"

    with caplog.at_level(logging.INFO):
        assert app.test_client().get("/logs-a-citizen").status_code == 200
    text = _lines(caplog)
    assert "citizen 19900101-XXXX wrote from a***@example.se, call back on +4670123XXXX" in text
    assert "inline: 19900101-XXXX a***@example.se +4670123XXXX" in text
    assert _leaks(text) == []


def test_a_traceback_is_masked_too(app, caplog):
    with caplog.at_level(logging.WARNING):
        try:
            raise RuntimeError(f"could not reach {EMAIL} about {PNR}")
        except RuntimeError:
            logging.getLogger("kontaktcenter.test").warning("failed", exc_info=True)
    text = _lines(caplog)
    assert "could not reach a***@example.se about 19900101-XXXX" in text
    assert _leaks(text) == []


def test_werkzeugs_request_line_has_the_query_masked(live_server, caplog):
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        for q in ("19900101-0017", "anna.svensson%40example.se", "070-123+45+67", "%2B46701234567"):
            with urllib.request.urlopen(f"{live_server.url}/kontakt?q={q}") as response:  # noqa: S310 - our own test server
                assert response.status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug" and "/kontakt?q=" in r.getMessage()]
    assert len(lines) == 4
    text = "\n".join(lines)
    assert "GET /kontakt?q=19900101-XXXX HTTP/1.1" in text
    assert "GET /kontakt?q=a***@example.se HTTP/1.1" in text
    assert text.count("GET /kontakt?q=%2B4670123XXXX HTTP/1.1") == 2
    assert _leaks(text) == []
    assert "anna.svensson%40" not in text
    assert "%2B46701234567" not in text


def test_a_failing_receipt_logs_the_reference_not_the_address(app, client, session, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:1")  # nothing listens: the receipt fails
    data = {
        "service": "hemtjanst",
        "text": "Hjälp",
        "reply_channel": "email",
        "email": EMAIL,
        "phone": PHONE,
        "personnummer": PNR,
        "send_receipt": "y",
        "csrf_token": csrf_token(client, "/kontakt"),
    }
    with caplog.at_level(logging.INFO):
        assert client.post("/kontakt", data=data).status_code == 302
    text = _lines(caplog)
    assert "receipt for KC-" in text
    assert _leaks(text) == []


def test_what_is_not_personal_data_is_left_alone():
    for text in (
        "GET /kontakt?lang=ar&q=skola HTTP/1.1",
        "ticket KC-2026-000123 routed",
        "contact 12345678 at 2026-12-03T18:18:45+01:00",
        "127.0.0.1 - - [03/Dec/2026 18:18:45]",
        "call CA0123456789abcdef0123456789abcdef",
    ):
        assert mask_text(text) == text
