"""Security headers on every response.

One after_request hook rather than flask-talisman: talisman's defaults (an HTTPS redirect,
its own session-cookie flags, which app.py already sets) would have to be switched off,
and it knows nothing about which answers hold personal data, so the Cache-Control rule
below would be a hook of our own anyway.

- Content-Security-Policy without 'unsafe-inline': every script and style is a file in
  static/ (per-page data travels in data- attributes), so an injected <script> or style=
  does nothing.
- No framing (frame-ancestors, X-Frame-Options), no MIME sniffing, the referrer only to
  ourselves (ticket references and search terms are in our URLs).
- HSTS only with ENV=production: development runs over plain http on 127.0.0.1.
- Cache-Control: no-store on everything but the public static files. Staff pages, the
  citizen's receipt, report exports and API answers all carry personal data, and a rule
  per route would be one more thing a new page could forget.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000"  # a year; includeSubDomains is the city's call, not this application's
PUBLIC_ENDPOINTS_CACHEABLE = frozenset({"static"})


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers.setdefault("Referrer-Policy", "same-origin")  # a view may ask for a stricter one
    if current_app.config["ENV"] == "production":
        headers["Strict-Transport-Security"] = HSTS
    if request.endpoint not in PUBLIC_ENDPOINTS_CACHEABLE:
        # Replaces what a view or send_file set (e.g. "no-cache", which still stores).
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(security_headers)
