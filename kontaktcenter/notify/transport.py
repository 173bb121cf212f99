"""The Twilio REST client for the current app: Twilio itself, or a transport that records requests."""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import Flask, current_app
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

log = logging.getLogger(__name__)

CLIENT_KEY = "kontaktcenter.twilio_client"
RECORDED_KEY = "kontaktcenter.twilio_recorded"
# The demo and the tests need a sender even without a Twilio number (a Malmö-like number).
DEMO_FROM_NUMBER = "+46406000000"
# A long-running demo keeps only the latest requests; tests clear between cases.
RECORD_LIMIT = 2000

_ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")
_AUTH_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_CALL_PATH = re.compile(r"/Accounts/(?P<account>AC\w+)/Calls(?:/(?P<sid>CA\w+))?\.json$")
_MESSAGE_PATH = re.compile(r"/Accounts/(?P<account>AC\w+)/Messages(?:/(?P<sid>SM\w+))?\.json$")


class TransportError(RuntimeError):
    """Twilio cannot be used as configured; the message says what to set."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the twilio client made, as it would have gone over the wire."""

    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """'message', 'call' or 'call_update' (redirecting a live call), else 'other'."""
        if _MESSAGE_PATH.search(self.url):
            return "message"
        match = _CALL_PATH.search(self.url)
        if match:
            return "call_update" if match["sid"] else "call"
        return "other"


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _twilio_date(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC), usegmt=True)


class RecordingHttpClient(HttpClient):
    """Answers like Twilio's REST API and keeps each request, so the real client code runs.

    Used in tests and the demo (no credentials, no network): the twilio Client still
    builds, serialises and parses every request and response exactly as it would
    against api.twilio.com.
    """

    def __init__(self, store: deque[RecordedRequest], lock: threading.Lock):
        super().__init__(log, is_async=False, timeout=None)
        self._store = store
        self._lock = lock

    def request(
        self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ):
        method = method.upper()
        data = dict(data or {})
        status, body = self._answer(method, uri, data)
        recorded = RecordedRequest(method, uri, dict(params or {}), data, body)
        with self._lock:
            self._store.append(recorded)
        return Response(status, json.dumps(body), {"Content-Type": "application/json"})

    def _answer(self, method: str, uri: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        now = _twilio_date(datetime.now(UTC))
        if method == "POST" and (match := _MESSAGE_PATH.search(uri)) and not match["sid"]:
            sid = _sid("SM")
            return 201, {
                "sid": sid,
                "account_sid": match["account"],
                "to": data.get("To"),
                "from": data.get("From"),
                "body": data.get("Body"),
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "price": None,
                "error_code": None,
                "error_message": None,
                "uri": f"/2010-04-01/Accounts/{match['account']}/Messages/{sid}.json",
            }
        if method == "POST" and (match := _CALL_PATH.search(uri)):
            sid = match["sid"] or _sid("CA")
            return (200 if match["sid"] else 201), {
                "sid": sid,
                "account_sid": match["account"],
                "to": data.get("To"),
                "from": data.get("From"),
                "status": "in-progress" if match["sid"] else "queued",
                "direction": "outbound-api",
                "date_created": now,
                "date_updated": now,
                "start_time": None,
                "end_time": None,
                "duration": None,
                "uri": f"/2010-04-01/Accounts/{match['account']}/Calls/{sid}.json",
            }
        return 404, {"code": 20404, "message": f"The requested resource {uri} was not found", "status": 404}


def _is_real(app: Flask) -> bool:
    """Talk to Twilio only with credentials that look like Twilio's, outside tests and the demo."""
    if app.config["TESTING"]:
        return False
    sid = app.config["TWILIO_ACCOUNT_SID"]
    token = app.config["TWILIO_AUTH_TOKEN"]
    return bool(_ACCOUNT_SID.match(sid) and _AUTH_TOKEN.match(token))


def _build(app: Flask) -> Client:
    if _is_real(app):
        return Client(app.config["TWILIO_ACCOUNT_SID"], app.config["TWILIO_AUTH_TOKEN"], environment={})
    store: deque[RecordedRequest] = deque(maxlen=RECORD_LIMIT)
    app.extensions[RECORDED_KEY] = (store, threading.Lock())
    account = app.config["TWILIO_ACCOUNT_SID"] or "AC" + "0" * 32
    token = app.config["TWILIO_AUTH_TOKEN"] or "recorded"
    return Client(account, token, http_client=RecordingHttpClient(*app.extensions[RECORDED_KEY]), environment={})


def twilio_client() -> Client:
    """The twilio REST client of the current app (built once per app)."""
    app = current_app._get_current_object()
    client = app.extensions.get(CLIENT_KEY)
    if client is None:
        client = app.extensions[CLIENT_KEY] = _build(app)
    return client


def is_recording() -> bool:
    twilio_client()
    return RECORDED_KEY in current_app.extensions


def from_number() -> str:
    number = current_app.config["TWILIO_FROM_NUMBER"]
    if number:
        return number
    if is_recording():
        return DEMO_FROM_NUMBER
    raise TransportError("TWILIO_FROM_NUMBER is not set: set it to the Twilio number calls and SMS come from.")


def recorded() -> list[RecordedRequest]:
    """The requests the current app's recording transport has made (oldest first)."""
    if not is_recording():
        raise TransportError("the Twilio client talks to Twilio; nothing is recorded")
    store, lock = current_app.extensions[RECORDED_KEY]
    with lock:
        return list(store)


def clear_recorded() -> None:
    if is_recording():
        store, lock = current_app.extensions[RECORDED_KEY]
        with lock:
            store.clear()
