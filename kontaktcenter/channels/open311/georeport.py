"""Open311 GeoReport v2 as domain functions: services, definitions, requests (field names per the spec)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from ...contacts.models import Contact
from ...database import utcnow
from ...directory.models import Service
from ...errors import DomainError
from ...intake.incoming import ContactError, IncomingContact, minimised_for, personnummer_dropped
from ...intake.receive import receive
from ...tickets.models import Ticket, unrestricted
from ...worktime.calendar import STOCKHOLM
from ..tokens.models import ApiToken
from ..tokens.service import TokenError, check_token
from .models import Open311Details

JURISDICTION = "malmo.se"
DEFAULT_DAYS = 90  # the spec: without dates, the last 90 days
MAX_RESULTS = 1000  # the spec allows the server to cap the list
MAX_MEDIA_URL = 500


class Open311Error(DomainError, ValueError):
    """An Open311 request the spec says to refuse: `status` is one the spec names (400, 403, 404)."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str  # string, number, datetime, text, singlevaluelist, multivaluelist
    required: bool
    description_sv: str
    description_en: str
    values: tuple[tuple[str, str, str], ...] = ()  # (key, name_sv, name_en)


HAZARD = Attribute(
    "fara",
    "singlevaluelist",
    True,
    "Är det farligt för någon just nu?",
    "Is it dangerous to anyone right now?",
    (("ja", "Ja", "Yes"), ("nej", "Nej", "No")),
)
PLACE = Attribute(
    "plats",
    "string",
    False,
    "Beskriv platsen närmare (till exempel vid vilken lyktstolpe)",
    "Describe the place more precisely (e.g. which lamp post)",
)
# The service definitions Open311 clients fetch; services not listed have no attributes.
ATTRIBUTES: dict[str, tuple[Attribute, ...]] = {
    "felanmalan-gata": (HAZARD, PLACE),
    "gatubelysning": (HAZARD, PLACE),
    "klotter": (
        Attribute(
            "stotande",
            "singlevaluelist",
            False,
            "Är klottret kränkande eller stötande?",
            "Is the graffiti offensive?",
            (("ja", "Ja", "Yes"), ("nej", "Nej", "No")),
        ),
        PLACE,
    ),
    "avfall": (PLACE,),
    "buller-klagomal": (
        Attribute(
            "kalla",
            "singlevaluelist",
            True,
            "Varifrån kommer bullret?",
            "Where does the noise come from?",
            (
                ("trafik", "Trafik", "Traffic"),
                ("bygge", "Byggarbete", "Construction"),
                ("musik", "Musik", "Music"),
                ("industri", "Industri", "Industry"),
                ("annat", "Annat", "Other"),
            ),
        ),
        Attribute("nar", "datetime", False, "När hördes bullret?", "When was the noise heard?"),
    ),
}


def w3c(value: datetime | None) -> str | None:
    """W3C datetime with the local offset, as the spec's examples (2010-04-14T06:37:38-08:00)."""
    return value.astimezone(STOCKHOLM).isoformat(timespec="seconds") if value else None


def _parse_w3c(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a W3C datetime such as 2026-03-02T15:00:00+01:00") from None
    return value if value.tzinfo else value.replace(tzinfo=STOCKHOLM)


def _open311_services(session: Session) -> list[Service]:
    return list(
        session.scalars(
            select(Service).where(Service.open311.is_(True), Service.active.is_(True)).order_by(Service.code)
        )
    )


def client_token(session: Session, api_key: str) -> ApiToken:
    """The client's token for posting (scope open311); a missing or wrong api_key is a 403, as the spec says."""
    try:
        return check_token(session, api_key, "open311")
    except TokenError as exc:
        raise Open311Error(403, f"api_key: {exc.message}") from None


def check_jurisdiction(jurisdiction_id: str | None) -> None:
    if jurisdiction_id and jurisdiction_id != JURISDICTION:
        raise Open311Error(404, f"jurisdiction_id {jurisdiction_id!r} is not served here; use {JURISDICTION}")


def service_list(session: Session, locale: str) -> list[dict[str, Any]]:
    return [
        {
            "service_code": s.code,
            "service_name": s.name(locale),
            "description": s.description(locale),
            "metadata": bool(ATTRIBUTES.get(s.code)),
            "type": "realtime",
            "keywords": ",".join(k.strip() for k in s.keywords.split(",") if k.strip()),
            "group": s.group,
        }
        for s in _open311_services(session)
    ]


def _service(session: Session, code: str | None) -> Service:
    if not code:
        raise Open311Error(400, "service_code is required")
    service = session.scalar(
        select(Service).where(Service.code == code, Service.open311.is_(True), Service.active.is_(True))
    )
    if service is None:
        raise Open311Error(404, f"service_code {code!r} is not an Open311 service here; see services.json")
    return service


def service_definition(session: Session, code: str, locale: str) -> dict[str, Any]:
    service = _service(session, code)
    english = locale != "sv"
    return {
        "service_code": service.code,
        "attributes": [
            {
                "variable": True,
                "code": a.code,
                "datatype": a.datatype,
                "required": a.required,
                "datatype_description": "",
                "order": order,
                "description": a.description_en if english else a.description_sv,
                "values": [{"key": key, "name": en if english else sv} for key, sv, en in a.values],
            }
            for order, a in enumerate(ATTRIBUTES.get(service.code, ()), start=1)
        ],
    }


def _float(raw: str | None, name: str, low: float, high: float) -> float | None:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a decimal number in WGS84") from None
    if not low <= value <= high:
        raise Open311Error(400, f"{name} must lie between {low} and {high}")
    return value


def _attributes(service: Service, params: Mapping[str, list[str]]) -> dict[str, Any]:
    given = {
        key[len("attribute[") : -1]: values
        for key, values in params.items()
        if key.startswith("attribute[") and key.endswith("]")
    }
    known = {a.code: a for a in ATTRIBUTES.get(service.code, ())}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise Open311Error(400, f"unknown attribute(s) for {service.code}: {', '.join(unknown)}")
    result: dict[str, Any] = {}
    for code, attribute in known.items():
        values = [v for v in given.get(code, []) if v != ""]
        if not values:
            if attribute.required:
                raise Open311Error(400, f"attribute[{code}] is required for {service.code}")
            continue
        if attribute.datatype in ("singlevaluelist", "multivaluelist"):
            keys = {key for key, _sv, _en in attribute.values}
            bad = [v for v in values if v not in keys]
            if bad:
                raise Open311Error(400, f"attribute[{code}] must be one of {', '.join(sorted(keys))}")
            if attribute.datatype == "singlevaluelist" and len(values) > 1:
                raise Open311Error(400, f"attribute[{code}] takes one value")
        if attribute.datatype == "datetime":
            _parse_w3c(values[0], f"attribute[{code}]")
        if attribute.datatype == "number":
            _float(values[0], f"attribute[{code}]", float("-inf"), float("inf"))
        result[code] = values if attribute.datatype == "multivaluelist" else values[0][:500]
    return result


def is_web_url(raw: str) -> bool:
    """An absolute http(s) URL with a host: nothing a client could run (javascript:, data:)."""
    try:
        parts = urlsplit(raw)
    except ValueError:
        return False
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.hostname)
        and not any(c.isspace() or ord(c) < 32 for c in raw)
    )


def _media_url(raw: str) -> str:
    if len(raw) > MAX_MEDIA_URL:
        raise Open311Error(400, f"media_url may be at most {MAX_MEDIA_URL} characters")
    if raw and not is_web_url(raw):
        raise Open311Error(400, "media_url must be an http or https URL")
    return raw


def _one(params: Mapping[str, list[str]], name: str) -> str:
    values = params.get(name) or [""]
    return values[0].strip()


@dataclass(frozen=True)
class Created:
    ticket: Ticket
    details: Open311Details
    personnummer_dropped: bool  # the client gave one its service does not keep: the notice says so


def create_request(session: Session, token: Row, params: Mapping[str, list[str]], locale: str) -> Created:
    """POST Service Request: validate per the spec, then receive it as an open311 contact."""
    service = _service(session, _one(params, "service_code"))
    lat = _float(_one(params, "lat"), "lat", -90, 90)
    long = _float(_one(params, "long"), "long", -180, 180)
    address = _one(params, "address_string")[:300]
    address_id = _one(params, "address_id")[:100]
    if (lat is None) != (long is None):
        raise Open311Error(400, "lat and long must be given together")
    if lat is None and not address and not address_id:
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    attributes = _attributes(service, params)
    media_url = _media_url(_one(params, "media_url"))
    description = _one(params, "description")
    if len(description) > 4000:
        raise Open311Error(400, "description may be at most 4000 characters")
    email, phone = _one(params, "email"), _one(params, "phone")
    name = " ".join(p for p in (_one(params, "first_name"), _one(params, "last_name")) if p)
    incoming = IncomingContact(
        channel="open311",
        service_code=service.code,
        text=description,
        subject=(address or service.name("sv"))[:300],
        language=locale,
        citizen_name=name,
        email=email or None,
        phone=phone or None,
        # Not in the spec: accepted so that intake's one rule applies (incoming.minimised_for),
        # and the service_notice says when it was not stored.
        personnummer=_one(params, "personnummer") or None,
        reply_channel="email" if email else "none",
    )
    kept = minimised_for(session, incoming)
    try:
        received = receive(session, kept)
    except ContactError as exc:
        raise Open311Error(400, f"{exc.field}: {exc.message}") from None
    details = Open311Details(
        contact_id=received.contact.id,
        lat=lat,
        long=long,
        address_string=address,
        address_id=address_id,
        zipcode=_one(params, "zipcode")[:20],
        device_id=_one(params, "device_id")[:100],
        account_id=_one(params, "account_id")[:100],
        media_url=media_url,
        attributes=attributes,
        token_id=token.id,
    )
    session.add(details)
    session.flush()
    return Created(received.ticket, details, personnummer_dropped(incoming, kept))


def service_notice(locale: str, *, personnummer_dropped: bool = False) -> str:
    with force_locale(locale):
        notice = _("Vi har tagit emot din anmälan. Vi återkommer inom en arbetsdag om du har lämnat e-post.")
        if personnummer_dropped:
            notice += " " + _("Personnumret sparades inte: den här tjänsten behöver det inte.")
        return notice


def expected_datetime(ticket: Ticket) -> datetime | None:
    """The SLA due time: the ticket's resolve deadline, or the service's target in working days."""
    if ticket.resolve_due_at is not None:
        return ticket.resolve_due_at
    if ticket.service is None:
        return None
    from ...worktime.calendar import current_calendar, department_of

    return current_calendar().add_working_days(
        ticket.first_arrived_at, ticket.service.sla_resolve_days, department_of(ticket.service)
    )


def request_record(ticket: Ticket, contact: Contact, details: Open311Details | None, locale: str) -> dict[str, Any]:
    """A request as anyone may read it. Its text and place only when its service's requests are
    public (a broken street lamp, not a neighbour's noise or someone's bin); the citizen's name,
    e-mail and phone never, and the text with any contact details in it taken out."""
    service = ticket.service
    public = service is not None and service.public_requests
    place = details if public else None
    return {
        "service_request_id": ticket.reference,
        "status": "open" if ticket.is_open else "closed",
        "status_notes": ""
        if ticket.is_open
        else ("Ärendet är löst." if locale == "sv" else "The request is resolved."),
        "service_name": service.name(locale) if service else "",
        "service_code": service.code if service else "",
        "description": without_personal_details(contact.text, contact.citizen_name) if public else "",
        "agency_responsible": service.department.name(locale) if service else "",
        "service_notice": service_notice(locale),
        "requested_datetime": w3c(contact.arrived_at),
        "updated_datetime": w3c(ticket.updated_at),
        "expected_datetime": w3c(expected_datetime(ticket)),
        "address": place.address_string if place else "",
        "address_id": place.address_id if place else "",
        "zipcode": place.zipcode if place else "",
        "lat": place.lat if place else None,
        "long": place.long if place else None,
        # Checked again here: rows stored before POST refused other schemes.
        "media_url": place.media_url if place and is_web_url(place.media_url) else "",
    }


WITHHELD = "[…]"
_WORD = re.compile(r"\S+")
# A personnummer or samordningsnummer, a phone number (+46 70-123 45 67, 040-34 10 00): a run of
# at least six digits, separators allowed between them.
_NUMBER = re.compile(r"\+?\d(?:[\s\-./()]{0,2}\d){5,}")


def without_personal_details(text: str, name: str | None = None) -> str:
    """Free text fit to publish: e-mail addresses (any word with an @), phone and personal
    identity numbers, and the words of the sender's own name replaced with a mark. Other
    personal data a citizen writes cannot be found this way; that is why only public
    services' requests are shown at all. Linear in the text's length (it runs per request
    of a list of up to MAX_RESULTS)."""
    names = {w.casefold() for w in (name or "").split() if len(w) > 1}

    def word(match: re.Match[str]) -> str:
        found = match.group()
        if "@" in found or found.strip(".,;:!?()[]\"'").casefold() in names:
            return WITHHELD
        return found

    return _NUMBER.sub(WITHHELD, _WORD.sub(word, text or ""))


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def find_requests(session: Session, params: Mapping[str, list[str]], locale: str) -> list[dict[str, Any]]:
    """GET Service Requests: only requests that came in through Open311, never confidential ones."""
    query = (
        select(Ticket, Contact, Open311Details)
        .join(Contact, Contact.ticket_id == Ticket.id)
        .outerjoin(Open311Details, Open311Details.contact_id == Contact.id)
        .where(Contact.channel == "open311", Ticket.confidential.is_(False), unrestricted())
    )
    ids = _split(_one(params, "service_request_id"))
    if ids:
        # The spec: with service_request_id, the other filters are ignored.
        query = query.where(Ticket.reference.in_(ids))
    else:
        codes = _split(_one(params, "service_code"))
        if codes:
            query = query.join(Service, Service.id == Ticket.service_id).where(Service.code.in_(codes))
        end_raw, start_raw = _one(params, "end_date"), _one(params, "start_date")
        end = _parse_w3c(end_raw, "end_date") if end_raw else None
        start = _parse_w3c(start_raw, "start_date") if start_raw else None
        if start is None and end is None:
            start = utcnow() - timedelta(days=DEFAULT_DAYS)
        if start is not None and end is not None and end < start:
            raise Open311Error(400, "end_date lies before start_date")
        if start is not None:
            query = query.where(Contact.arrived_at >= start)
        if end is not None:
            query = query.where(Contact.arrived_at <= end)
        statuses = _split(_one(params, "status"))
        bad = set(statuses) - {"open", "closed"}
        if bad:
            raise Open311Error(400, "status must be open, closed or both separated by a comma")
        if statuses == ["open"]:
            query = query.where(Ticket.status != "resolved")
        elif statuses == ["closed"]:
            query = query.where(Ticket.status == "resolved")
    rows = session.execute(query.order_by(Contact.arrived_at.desc(), Contact.id.desc()).limit(MAX_RESULTS)).all()
    seen: set[int] = set()
    records = []
    for ticket, contact, details in rows:
        # A ticket threads several contacts; the request is the first one.
        if ticket.id in seen:
            continue
        seen.add(ticket.id)
        records.append(request_record(ticket, contact, details, locale))
    return records


def one_request(session: Session, reference: str, locale: str) -> list[dict[str, Any]]:
    records = find_requests(session, {"service_request_id": [reference]}, locale)
    if not records:
        raise Open311Error(404, f"no service request {reference}")
    return records
