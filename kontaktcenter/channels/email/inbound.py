"""Inbound e-mail as a contact: SendGrid's post parsed, the webhook's secret checked; a citizen's reply
joins their ticket by the reference in its subject."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from email.utils import parseaddr
from html.parser import HTMLParser

from sqlalchemy.orm import Session

from ...errors import DomainError
from ...intake.incoming import IncomingContact
from ...intake.receive import Received, receive

REFERENCE_IN_SUBJECT = re.compile(r"\bKC-\d{4}-\d{6,}\b")
TEXT_MAX = 20000


class InboundError(DomainError, ValueError):
    """A webhook post that is not an e-mail we can take; the message says what is missing."""


@dataclass
class InboundEmail:
    sender: str
    sender_name: str
    subject: str
    text: str
    message_id: str


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def parse_inbound(form: Mapping[str, str]) -> InboundEmail:
    """SendGrid Inbound Parse's fields (from, subject, text, html, headers, envelope) → an e-mail."""
    name, address = parseaddr(form.get("from", ""))
    if not address and form.get("envelope"):
        try:
            address = json.loads(form["envelope"]).get("from", "")
        except (ValueError, AttributeError):
            address = ""
    if not address:
        raise InboundError("the post has no sender address (field 'from')")
    headers = HeaderParser().parsestr(form.get("headers", ""), headersonly=True)
    text = form.get("text", "").strip() or _html_to_text(form.get("html", ""))
    subject = form.get("subject", "").strip() or (headers.get("Subject") or "").strip()
    message_id = (headers.get("Message-ID") or "").strip().strip("<>")
    if not message_id:
        # Without a Message-ID a retry of the same post is recognised by its content.
        message_id = "sha256:" + hashlib.sha256(f"{address}\n{subject}\n{text}".encode()).hexdigest()
    return InboundEmail(
        sender=address, sender_name=name, subject=subject[:300], text=text[:TEXT_MAX], message_id=message_id[:180]
    )


def receive_email(session: Session, email: InboundEmail) -> Received:
    """A new ticket, or, when the subject cites a ticket and the sender is its citizen, a
    contact on that ticket (intake/placement.py decides; a stranger's mail never joins)."""
    match = REFERENCE_IN_SUBJECT.search(email.subject)
    return receive(
        session,
        IncomingContact(
            channel="email",
            service_code=None,
            subject=email.subject,
            text=email.text or email.subject,
            citizen_name=email.sender_name,
            email=email.sender,
            reply_channel="email",
            provider_sid=f"email:{email.message_id}",
            reference=match.group(0) if match else None,
        ),
    )


def credentials_ok(secret: str | None, url_secret: str | None, basic_password: str | None) -> bool:
    """The webhook's shared secret, given in the URL path or as the basic-auth password."""
    if not secret:
        return False
    return any(
        given is not None and hmac.compare_digest(given.encode(), secret.encode())
        for given in (url_secret, basic_password)
    )
