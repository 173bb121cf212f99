"""An incoming contact as a channel hands it over, and its validation."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..contacts.citizen import IdentifierError, normalise_email, normalise_personnummer, normalise_phone
from ..database import utcnow
from ..directory import cache
from ..directory.models import Location, Service
from ..errors import DomainError
from ..vocabulary import CHANNELS, NEEDS, REPLY_CHANNELS

# The longest text a citizen may write in the form or send through the API, in characters.
TEXT_MAX = 5000


class ContactError(DomainError, ValueError):
    """Input that cannot become a contact. `field` names the offending field."""

    status = 422  # well-formed, but not a contact we can take

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)

    def __str__(self) -> str:
        return f"{self.field}: {self.translated()}"


@dataclass
class IncomingContact:
    channel: str
    service_code: str | None
    text: str = ""
    subject: str = ""
    language: str = "sv"
    needs: list[str] = field(default_factory=list)
    interpreter_language: str | None = None
    citizen_name: str = ""
    phone: str | None = None
    email: str | None = None
    personnummer: str | None = None
    reply_channel: str = "none"
    location_code: str | None = None
    arrived_at: datetime | None = None
    provider_sid: str | None = None
    external_id: str | None = None
    # A ticket reference the sender cites (an e-mail's subject): it joins that ticket only
    # when the channel proves the sender is its citizen (placement.py).
    reference: str | None = None


# IncomingContact fields reported under the names the channels' forms and APIs use.
FIELD_NAMES = {"service_code": "service", "location_code": "location", "citizen_name": "name"}


def refuse_nul(incoming: IncomingContact) -> None:
    """PostgreSQL text cannot hold NUL characters: bad input on every channel, before any query."""
    for item in fields(incoming):
        value = getattr(incoming, item.name)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise ContactError(FIELD_NAMES.get(item.name, item.name), "must not contain NUL characters")


def active_service(session: Session, code: str | None) -> Service | None:
    """The active service `code`, with its department; None without a code."""
    if not code:
        return None
    service = cache.active_service(session, code)
    if service is None:
        raise ContactError("service", f"unknown service {code!r}")
    return service


def keeps_personnummer(service: Service | None) -> bool:
    """Data minimisation: a personnummer is stored only for a service that needs one
    (Service.requires_personnummer)."""
    return service is not None and bool(service.requires_personnummer)


def minimised(incoming: IncomingContact, service: Service | None) -> IncomingContact:
    """`incoming` without a personnummer its service does not need: dropped unread and
    unvalidated, as if it had never been typed (the form hides the field for such services).

    The one rule for every channel where a citizen types a personnummer themselves: the web
    form (which has the service at hand), the JSON API and Open311 (minimised_for)."""
    if incoming.personnummer and not keeps_personnummer(service):
        return replace(incoming, personnummer=None)
    return incoming


def minimised_for(session: Session, incoming: IncomingContact) -> IncomingContact:
    """minimised() with the incoming service looked up (only when there is a personnummer to
    judge); an unknown service keeps nothing, and validation then refuses the service itself."""
    if not incoming.personnummer:
        return incoming
    code = incoming.service_code
    return minimised(incoming, cache.active_service(session, code) if code else None)


def personnummer_dropped(given: IncomingContact, kept: IncomingContact) -> bool:
    """Whether minimised() dropped a personnummer the sender gave: the answer says so."""
    return bool(given.personnummer) and not kept.personnummer


def validated(session: Session, incoming: IncomingContact, *, service: Service | None = None) -> dict[str, Any]:
    """The contact's attributes, validated and normalised, with its service and location as
    objects. `service` is the incoming service when the channel has loaded it already (the IVR menu)."""
    values = contact_values(incoming)
    if service is None or service.code != incoming.service_code or not service.active:
        service = active_service(session, incoming.service_code)
    location = None
    if incoming.location_code:
        location = session.scalar(select(Location).where(Location.code == incoming.location_code))
        if location is None:
            raise ContactError("location", f"unknown location {incoming.location_code!r}")
    values.update({"service": service, "location": location})
    return values


def contact_values(incoming: IncomingContact) -> dict[str, Any]:
    """The contact's own attributes, validated and normalised, without its service and
    location (which need the catalogue); raises ContactError naming the field."""
    refuse_nul(incoming)
    if incoming.channel not in CHANNELS:
        raise ContactError("channel", f"unknown channel {incoming.channel!r}")
    if incoming.reply_channel not in REPLY_CHANNELS:
        raise ContactError("reply_channel", f"unknown reply channel {incoming.reply_channel!r}")
    unknown = set(incoming.needs) - set(NEEDS)
    if unknown:
        raise ContactError("needs", f"unknown need(s) {', '.join(sorted(unknown))}")
    try:
        phone = normalise_phone(incoming.phone) if incoming.phone else None
    except IdentifierError as exc:
        raise ContactError("phone", str(exc)) from None
    try:
        email = normalise_email(incoming.email) if incoming.email else None
    except IdentifierError as exc:
        raise ContactError("email", str(exc)) from None
    try:
        pnr = normalise_personnummer(incoming.personnummer) if incoming.personnummer else None
    except IdentifierError as exc:
        raise ContactError("personnummer", str(exc)) from None
    if incoming.reply_channel == "email" and not email:
        raise ContactError("email", "an e-mail address is needed for an answer by e-mail")
    if incoming.reply_channel in ("sms", "phone") and not phone:
        raise ContactError("phone", "a phone number is needed for an answer by SMS or phone")
    return dict(
        channel=incoming.channel,
        language=incoming.language or "sv",
        interpreter_language=incoming.interpreter_language if "interpreter" in incoming.needs else None,
        citizen_name=incoming.citizen_name.strip()[:200],
        citizen_phone=phone,
        citizen_email=email,
        citizen_personnummer=pnr,
        reply_channel=incoming.reply_channel,
        subject=incoming.subject.strip()[:300],
        text=incoming.text.strip(),
        arrived_at=incoming.arrived_at or utcnow(),
        provider_sid=incoming.provider_sid,
        external_id=incoming.external_id,
        **{f"need_{need}": need in incoming.needs for need in NEEDS},
    )
