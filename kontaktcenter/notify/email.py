"""Outbound e-mail through SMTP_URL; without one (the demo) messages are recorded, not sent."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from ..contacts.citizen import mask_email

log = logging.getLogger(__name__)

OUTBOX_KEY = "kontaktcenter.outbox"


class EmailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """smtp://[user:pass@]host[:port][?starttls=1] or smtps://… (TLS from the first byte)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise EmailError(f"SMTP_URL must look like smtp://host:port or smtps://user:pass@host, not {url!r}")
    implicit = parts.scheme == "smtps"
    query = parse_qs(parts.query)
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        implicit_tls=implicit,
        starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def threaded_subject(subject: str, reference: str | None) -> str:
    """Put the reference first in brackets, once, so replies thread back to the ticket."""
    if not reference or f"[{reference}]" in subject:
        return subject
    return f"[{reference}] {subject}".strip()


def send_email(to: str, subject: str, body: str, *, reference: str | None = None) -> str:
    """Send a plain-text message; returns its Message-ID."""
    config = current_app.config
    sender = config["MAIL_FROM"]
    message = EmailMessage()
    message["From"] = formataddr(("Malmö stad Kontaktcenter", sender))
    message["To"] = to
    message["Subject"] = threaded_subject(subject, reference)
    domain = sender.rsplit("@", 1)[-1]
    message["Message-ID"] = make_msgid(domain=domain)
    if reference:
        message["X-Kontaktcenter-Reference"] = reference
    message.set_content(body)
    url = config["SMTP_URL"]
    if not url:
        current_app.extensions.setdefault(OUTBOX_KEY, []).append(message)
        # The ticket's reference only: an address beside a reference says who wrote about what.
        log.info("SMTP_URL is not set: e-mail on %s recorded, not sent", reference or "no ticket")
        return message["Message-ID"]
    target = parse_smtp_url(url)
    # EHLO with our mail domain: smtplib's default looks up this host's FQDN, which can stall on DNS.
    helo = config["SMTP_HELO_NAME"] or domain
    try:
        if target.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                target.host, target.port, local_hostname=helo, timeout=30, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(target.host, target.port, local_hostname=helo, timeout=30)
        with smtp:
            if target.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if target.username:
                smtp.login(target.username, target.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise EmailError(
            f"could not send e-mail to {mask_email(to)} through {target.host}:{target.port}: {exc}"
        ) from exc
    return message["Message-ID"]
