"""Every /twilio/... request must be signed by Twilio (X-Twilio-Signature), else 403."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from flask import Flask, abort, current_app, request
from twilio.request_validator import RequestValidator

from ..config import instance_secret
from ..input_guard import replace_in_twilio_request

log = logging.getLogger(__name__)

# `kontaktcenter demo` has no Twilio account: it makes a random token for this installation
# in the instance folder and checks against it (the simulator signs with it). Everywhere
# else, without TWILIO_AUTH_TOKEN every Twilio request is refused: there is no default.
DEMO_TOKEN_FILE = "twilio_demo_token"  # noqa: S105 - a file name
# Where the demo keeps its token: beside the settings, which no code changes after start.
DEMO_TOKEN_KEY = "kontaktcenter.twilio_demo_token"  # noqa: S105 - a key name


def auth_token(app: Flask) -> str:
    """The token requests are checked against ("" refuses them all)."""
    return app.config["TWILIO_AUTH_TOKEN"] or app.extensions.get(DEMO_TOKEN_KEY, "")


def use_demo_token(app: Flask) -> str:
    """For `kontaktcenter demo` only: check against this installation's demo token."""
    token = instance_secret(Path(app.instance_path), DEMO_TOKEN_FILE, prefix="demo-")
    app.extensions[DEMO_TOKEN_KEY] = token
    return token


def signing_token(app: Flask) -> str:
    """What the simulator signs with: the configured token, else the demo's (if a demo ran here)."""
    token = auth_token(app)
    demo = Path(app.instance_path) / DEMO_TOKEN_FILE
    if not token and demo.exists():
        token = instance_secret(Path(app.instance_path), DEMO_TOKEN_FILE)
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
            log.error(
                "TWILIO_AUTH_TOKEN is not set: refusing the Twilio request to %s (set the token of the "
                "Twilio account; only `kontaktcenter demo` has a token of its own)",
                request.path,
            )
            abort(403)
        if not signature or not RequestValidator(token).validate(url, request.form, signature):
            log.warning("refused a Twilio request to %s: missing or invalid X-Twilio-Signature", request.path)
            abort(403)
        # Signed over the original values; the view gets NUL, lone surrogates and invalid
        # UTF-8 replaced (U+FFFD), so such an SMS is stored rather than refused into retries.
        replace_in_twilio_request(request)
        return view(*args, **kwargs)

    return wrapped
