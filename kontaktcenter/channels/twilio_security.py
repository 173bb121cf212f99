"""Every /twilio/... request must be signed by Twilio (X-Twilio-Signature), else 403."""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, current_app, request
from twilio.request_validator import RequestValidator

from ..input_guard import replace_in_twilio_request

log = logging.getLogger(__name__)

# Development and the demo have no Twilio account; the simulator signs with this token.
# Production without TWILIO_AUTH_TOKEN refuses every Twilio request instead.
DEV_AUTH_TOKEN = "dev-only-twilio-token"  # noqa: S105


def auth_token(app: Flask) -> str:
    token = app.config.get("TWILIO_AUTH_TOKEN") or ""
    if not token and app.config.get("ENV") != "production":
        return DEV_AUTH_TOKEN
    return token


def public_url(app: Flask, path_and_query: str) -> str:
    """The URL Twilio called: PUBLIC_BASE_URL (we may sit behind a proxy) + path + query."""
    return app.config["PUBLIC_BASE_URL"].rstrip("/") + path_and_query


def _requested_path() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def validate_twilio_request(view: Callable) -> Callable:
    """Twilio's guide's decorator: RequestValidator over PUBLIC_BASE_URL + path and the form.

    Checked before the view runs, so a forged or unsigned request changes nothing.
    Never skipped, in tests neither: tests sign with RequestValidator.compute_signature.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        app = current_app._get_current_object()
        token = auth_token(app)
        signature = request.headers.get("X-Twilio-Signature", "")
        url = public_url(app, _requested_path())
        if not token:
            log.error("TWILIO_AUTH_TOKEN is not set: refusing the Twilio request to %s", request.path)
            abort(403)
        if not signature or not RequestValidator(token).validate(url, request.form, signature):
            log.warning("refused a Twilio request to %s: missing or invalid X-Twilio-Signature", request.path)
            abort(403)
        # Signed over the original values; the view gets NUL, lone surrogates and invalid
        # UTF-8 replaced (U+FFFD), so such an SMS is stored rather than refused into retries.
        replace_in_twilio_request(request)
        return view(*args, **kwargs)

    return wrapped


def sign(app: Flask, path_and_query: str, params: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send (the simulator and tests use it)."""
    return RequestValidator(auth_token(app)).compute_signature(public_url(app, path_and_query), params)
