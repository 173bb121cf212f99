"""JSON API v1: create a contact, read a ticket's public status, list services."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import String, bindparam, cast, literal, select
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ...auth.decorators import public
from ...contacts.models import Contact
from ...database import db
from ...directory.models import Service
from ...errors import DomainError
from ...errors_http import answer_under
from ...extensions import csrf
from ...input_guard import register_refusal
from ...intake.incoming import IncomingContact, minimised_for, personnummer_dropped
from ...intake.receive import accept, accept_at_once, receive, receive_at_once
from ...tickets.access import log_access
from ...tickets.models import Ticket
from ...tickets.service import format_receipt_code, receipt_code_matches
from ..ratelimit import over_limit
from ..tokens.models import ApiToken
from ..tokens.service import bearer_token, check_token, hash_token, record_use
from .openapi import openapi_document
from .schema import parse_contact_request

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Systems authenticate with Bearer tokens, not cookies, so CSRF does not apply.
csrf.exempt(bp)

PROBLEM = "application/problem+json"
# The answer's notice when intake dropped a personnummer (intake.incoming.minimised).
PERSONNUMMER_NOT_STORED = "not stored: service {service} does not need a personnummer (data minimisation)"


# RFC 9110's name (werkzeug still says Unprocessable Entity).
TITLES = {422: "Unprocessable Content"}


class Problem(DomainError):
    """A refusal in the API's own terms: problem+json's title, detail and any members of its own."""

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status, self.title, self.headers, self.extra = status, title, headers or {}, extra


def problem_response(status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kontaktcenter"'
    response.headers.update(headers or {})
    return response


def _problem_for(status: int, message: str, field: str | None = None, **extra: Any):
    """A refusal as problem+json; input that is well-formed but wrong (422) names its field."""
    if status == 422 and field and "errors" not in extra:
        extra["errors"] = [{"field": field, "message": message}]
    return problem_response(status, TITLES.get(status) or HTTP_STATUS_CODES.get(status, "Error"), message, **extra)


def _refused(error: DomainError):
    """Any DomainError under /api/ (errors_http calls it, with English messages)."""
    if isinstance(error, Problem):
        return problem_response(error.status, error.title, error.translated(), error.headers, **error.extra)
    errors = getattr(error, "errors", None)  # a schema's several problems, each with its field
    return _problem_for(error.status, error.translated(), error.field, **({"errors": errors} if errors else {}))


answer_under("/api/", _refused)
# The input guard's refusal, alike (a bad value in valid JSON names its member).
register_refusal("/api/", lambda problem, message: _problem_for(problem.status, message, problem.name))


@bp.errorhandler(HTTPException)
def _http_problem(exc: HTTPException):
    return problem_response(exc.code or 500, exc.name, exc.description or exc.name)


# The application's HTML pages for these codes are found before a blueprint's class
# handler, so the API names them explicitly to keep every error problem+json.
for _code in (403, 404, 405, 413, 429):
    bp.register_error_handler(_code, _http_problem)


def _bearer() -> str | None:
    return bearer_token(request.headers.get("Authorization", ""))


def _authorise(scope: str):
    return check_token(db.session, _bearer(), scope)  # a TokenError is a 401 or 403 problem (_refused)


@bp.before_request
def _within_limit() -> None:
    retry = over_limit()
    if retry is not None:
        raise Problem(
            429,
            "Too Many Requests",
            f"too many requests from this client; retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )


def ticket_status(ticket: Ticket, *, with_receipt_code: bool = False) -> dict[str, Any]:
    """The public face of a ticket: no personal data, no text. The receipt code only to
    the client that created the ticket (to hand to the citizen), never on a lookup."""
    receipt = {"receipt_code": format_receipt_code(ticket.receipt_code)} if with_receipt_code else {}
    return {
        "reference": ticket.reference,
        **receipt,
        "status": ticket.status,
        "service_code": ticket.service.code if ticket.service else None,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
        "links": {"self": f"/api/v1/tickets/{ticket.reference}"},
    }


def contact_status(key: str, received_at: datetime, ticket: Ticket | None) -> dict[str, Any]:
    """A contact sent through the API: received (awaiting routing) or routed, with its ticket."""
    return {
        "id": key,
        "status": "routed" if ticket is not None else "received",
        "received_at": received_at.isoformat(),
        "ticket": ticket_status(ticket, with_receipt_code=True) if ticket is not None else None,
        "links": {"self": f"/api/v1/contacts/{key}"},
    }


def _provider_sid(token_id: int, key: str) -> str:
    # Keys are the client's own: scoped by token, so one client cannot read or replay another's.
    return f"api:{token_id}:{key}"


@bp.post("/contacts")
@public
def create_contact():
    queued = current_app.config["API_INTAKE"] == "queued"
    if queued:
        acknowledged = _acknowledge_at_once()
        if acknowledged is not None:
            return acknowledged
        # The full path: its reads and its one INSERT each stand alone, so without a
        # transaction BEGIN and COMMIT are not sent.
        db.autocommit()
    else:
        routed = _route_at_once()
        if routed is not None:
            return routed
    token = _authorise("contacts:write")
    given, key = _incoming(queued, token.id)
    incoming = minimised_for(db.session, given)
    received = (accept if queued else receive)(db.session, incoming)  # a ContactError is a 422 naming its field
    if received.ticket is None:
        body, status, location = contact_status(key, received.contact.arrived_at, None), 202, f"/api/v1/contacts/{key}"
    else:
        body = ticket_status(received.ticket, with_receipt_code=True)
        status, location = (201 if received.created else 200), body["links"]["self"]
    if personnummer_dropped(given, incoming):
        body["notices"] = [
            {"field": "personnummer", "message": PERSONNUMMER_NOT_STORED.format(service=incoming.service_code)}
        ]
    db.session.commit()
    record_use(db.session, token.token_hash)
    return _created(body, status, location)


def _incoming(queued: bool, token_id: int | None) -> tuple[IncomingContact, str]:
    """The request's contact and its Idempotency-Key (made up for queued intake when the
    client sent none: the handle it reads its contact's progress by); raises Problem."""
    if not request.is_json:
        raise Problem(415, "Unsupported Media Type", "send the contact as application/json")
    payload = request.get_json(silent=True)
    if payload is None:
        raise Problem(400, "Bad Request", "the body is not valid JSON")
    data = parse_contact_request(payload)  # a RequestError is a 422 listing every field
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 100:
        raise Problem(
            422,
            "Unprocessable Content",
            "Idempotency-Key may be at most 100 characters",
            errors=[{"field": "Idempotency-Key", "message": "at most 100 characters"}],
        )
    if queued and not key:
        # One per request, so the full path after the one-statement try stores under the same
        # key: a try whose commit a broken connection hid is then found, not stored twice.
        key = g.setdefault("kc_contact_key", str(uuid.uuid4()))
    sid = _provider_sid(token_id, key) if key and token_id is not None else None
    return IncomingContact(channel="web", provider_sid=sid, **data.as_incoming()), key


def _acknowledge_at_once():
    """Queued intake's usual case in one statement (intake's accept_at_once): the 202, or
    None when anything is unusual (no, unknown or revoked token; bad input; unknown
    service; a retry), and the full path then answers with what is wrong or what is stored."""
    raw = _bearer()
    if raw is None:
        return None
    try:
        incoming, key = _incoming(True, None)
        if incoming.personnummer:
            return None  # whether it is kept depends on the service: the full path decides (minimised_for)
        digest = hash_token(raw)
        stored = accept_at_once(incoming, _token_sid(), {"token_hash": digest, "key": key})
    except DomainError:  # not refused here: the full path says what is wrong
        return None
    if stored is None:
        return None
    record_use(db.session, digest)
    return _created(contact_status(key, stored[1]["arrived_at"], None), 202, f"/api/v1/contacts/{key}")


def _route_at_once():
    """Direct intake's usual case with the token's check in the contact's INSERT (intake's
    receive_at_once): the 201, or None when anything is unusual (no, unknown or revoked token;
    bad input; no Idempotency-Key; a retry; a personnummer), and the full path then answers."""
    raw = _bearer()
    if raw is None or not request.headers.get("Idempotency-Key", "").strip():
        return None
    digest = hash_token(raw)
    try:
        incoming, key = _incoming(False, None)
        received = receive_at_once(db.session, incoming, _token_sid(), {"token_hash": digest, "key": key})
    except DomainError:  # not refused here: the full path says what is wrong
        db.session.rollback()
        return None
    if received is None:
        return None
    body = ticket_status(received.ticket, with_receipt_code=True)
    db.session.commit()
    record_use(db.session, digest)
    return _created(body, 201, body["links"]["self"])


@cache
def _token_sid():
    """The provider_sid of a contact sent with a token that may create contacts (_provider_sid, in SQL)."""
    return select(literal("api:") + cast(ApiToken.id, String) + literal(":") + bindparam("key", type_=String)).where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.scope == "contacts:write",
        ApiToken.revoked_at.is_(None),
    )


def _created(body: dict[str, Any], status: int, location: str):
    response = jsonify(body)
    response.status_code = status
    response.headers["Location"] = location
    return response


@bp.get("/contacts/<key>")
@public
def get_contact(key: str):
    token = _authorise("contacts:write")
    contact = db.session.scalar(select(Contact).where(Contact.provider_sid == _provider_sid(token.id, key)))
    if contact is None:
        raise Problem(404, "Not Found", f"this token sent no contact with Idempotency-Key {key}")
    body = contact_status(key, contact.arrived_at, contact.ticket)
    record_use(db.session, token.token_hash)
    return jsonify(body)


@bp.get("/tickets/<reference>")
@public
def get_ticket(reference: str):
    """A ticket's status for its citizen: the reference and the receipt code from the
    receipt (query `receipt_code` or header `X-Receipt-Code`). Without the right code
    every reference is answered alike, so a guessed one tells nothing, not even that it exists."""
    token = _authorise("tickets:read")
    code = request.headers.get("X-Receipt-Code") or request.args.get("receipt_code")
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    if ticket is None or not receipt_code_matches(ticket, code):
        # A wrong pair is a denied attempt: logged (committed, the refusal rolls nothing back).
        log_access(db.session, None, ticket, "api_read", allowed=False, detail=reference[:200], api_token_id=token.id)
        db.session.commit()
        raise Problem(404, "Not Found", "no ticket with this reference and receipt code")
    log_access(db.session, None, ticket, "api_read", api_token_id=token.id)
    db.session.commit()
    body = ticket_status(ticket)
    record_use(db.session, token.token_hash)
    return jsonify(body)


@bp.get("/services")
@public
def list_services():
    token = _authorise("services:read")
    services = db.session.scalars(
        select(Service).where(Service.active.is_(True), Service.walk_in_topic.is_(False)).order_by(Service.code)
    ).all()
    body = [
        {
            "code": s.code,
            "name_sv": s.name_sv,
            "name_en": s.name_en,
            "group": s.group,
            "department": s.department.code,
            "requires_personnummer": s.requires_personnummer,
        }
        for s in services
    ]
    record_use(db.session, token.token_hash)
    return jsonify(body)


@bp.get("/openapi.json")
@public
def openapi():
    return jsonify(openapi_document())


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@public
def not_found(_rest: str):
    raise Problem(404, "Not Found", "no such API resource; see /api/v1/openapi.json")
