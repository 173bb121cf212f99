"""Open311 GeoReport v2 endpoints under /open311/v2/, in JSON and XML, and the discovery document."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import select

from ...auth.decorators import public
from ...database import db
from ...errors_http import answer_under
from ...extensions import csrf, current_locale
from ...input_guard import register_refusal
from ...tickets.access import log_access
from ...tickets.models import Ticket
from ..ratelimit import over_limit
from ..tokens.service import TokenError, check_token, record_use
from .georeport import (
    check_jurisdiction,
    client_token,
    create_request,
    find_requests,
    one_request,
    service_definition,
    service_list,
    service_notice,
)

bp = Blueprint("open311", __name__, url_prefix="/open311")
# Clients post form-encoded with an api_key (the standard), not with a session cookie.
csrf.exempt(bp)

FORMATS = "<any(json, xml):fmt>"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-24T00:00:00+01:00"


def _xml_value(parent: ET.Element, key: str, value: Any, item_name: str = "") -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(child, k, v)
    elif isinstance(value, list):
        for item in value:
            _xml_value(child, item_name or key[:-1], item, _ITEM_NAMES.get(item_name or key[:-1], ""))
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


# XML list elements and the name of their items, as in the spec's examples.
_ITEM_NAMES = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


def _xml(root: str, item: str | None, data: Any) -> Response:
    element = ET.Element(root)
    if item is None:
        for key, value in data.items():
            _xml_value(element, key, value, _ITEM_NAMES.get(key, ""))
    else:
        for record in data:
            child = ET.SubElement(element, item)
            for key, value in record.items():
                _xml_value(child, key, value, _ITEM_NAMES.get(key, ""))
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8")
    return Response(body, mimetype="text/xml", content_type="text/xml; charset=utf-8")


def _render(fmt: str, root: str, item: str | None, data: Any, status: int = 200) -> Response:
    response = jsonify(data) if fmt == "json" else _xml(root, item, data)
    response.status_code = status
    return response


def _error(code: int, description: str) -> Response:
    """Open311's error list, in the format the URL asks for (.json or .xml)."""
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return _render(fmt, "errors", "error", [{"code": code, "description": description}], code)


# Refusals (errors_http calls it, with English messages) and the input guard's, in Open311's own error list.
answer_under("/open311/", lambda error: _error(error.status, error.translated()))
register_refusal("/open311/", lambda problem, message: _error(problem.status, message))


def _params() -> dict[str, list[str]]:
    source = request.form if request.method == "POST" else request.args
    return {key: source.getlist(key) for key in source}


@bp.get(f"/discovery.{FORMATS}")
@public
def discovery(fmt: str):
    data = {
        "changeset": CHANGESET,
        "contact": "Malmö stad kontaktcenter, 040-34 10 00, https://malmo.se/kontakt",
        "key_service": "Ask the kontaktcenter's administrators for an api_key (scope open311).",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url_for("open311.services", fmt="json", _external=True).rsplit("/services.json", 1)[0],
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return _render(fmt, "discovery", None, data)


@bp.get(f"/v2/services.{FORMATS}")
@public
def services(fmt: str):
    check_jurisdiction(request.args.get("jurisdiction_id"))
    return _render(fmt, "services", "service", service_list(db.session, current_locale()))


@bp.get(f"/v2/services/<code>.{FORMATS}")
@public
def service(code: str, fmt: str):
    check_jurisdiction(request.args.get("jurisdiction_id"))
    return _render(fmt, "service_definition", None, service_definition(db.session, code, current_locale()))


@bp.route(f"/v2/requests.{FORMATS}", methods=["GET", "POST"])
@public
def requests_(fmt: str):
    params = _params()
    check_jurisdiction((params.get("jurisdiction_id") or [None])[0])
    locale = current_locale()
    if request.method == "GET":
        return _render(fmt, "service_requests", "request", find_requests(db.session, params, locale))
    token = client_token(db.session, (params.get("api_key") or [""])[0])
    created = create_request(db.session, token, params, locale)
    record = {
        "service_request_id": created.ticket.reference,
        "service_notice": service_notice(locale, personnummer_dropped=created.personnummer_dropped),
        "account_id": created.details.account_id or None,
    }
    db.session.commit()
    record_use(db.session, token.token_hash)
    return _render(fmt, "service_requests", "request", [record], 201)


def note_read(session, reference: str, api_key: str | None) -> None:
    """Every read of one request is an API read of a ticket (access log): by the client's
    token when it sends its api_key, else by an anonymous client (GET needs no key)."""
    token_id = None
    if api_key:
        try:
            token_id = check_token(session, api_key, "open311").id
        except TokenError:  # a wrong key on a read: read anonymously (GET needs no key)
            pass
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    log_access(session, None, ticket, "open311_read", api_token_id=token_id)


@bp.get(f"/v2/requests/<reference>.{FORMATS}")
@public
def request_(reference: str, fmt: str):
    check_jurisdiction(request.args.get("jurisdiction_id"))
    records = one_request(db.session, reference, current_locale())
    note_read(db.session, reference, request.args.get("api_key"))
    db.session.commit()
    return _render(fmt, "service_requests", "request", records)


@bp.before_request
def _within_limit() -> Response | None:
    retry = over_limit()
    if retry is None:
        return None
    response = _error(429, f"too many requests from this client; retry in {retry} s")
    response.headers["Retry-After"] = str(retry)
    return response
