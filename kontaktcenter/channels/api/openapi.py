"""The OpenAPI 3 document of the JSON API v1, built from the same tables the API validates with."""

from __future__ import annotations

from typing import Any

from ...tickets.models import REFERENCE_PATTERN
from ...vocabulary import STATUSES
from .schema import contact_request_schema


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _json(description: str, ref: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        **extra,
    }


COMMON_ERRORS = {
    "400": _problem(
        "Characters that are not allowed anywhere in the request (NUL, lone surrogates, invalid UTF-8), or JSON nested too deep"
    ),
    "401": _problem("No token, or an unknown or revoked token"),
    "403": _problem("The token lacks the scope this call needs"),
    "429": _problem("Too many requests from this client; retry later"),
}


# Only in the answer that stored the contact, and only when there is something to say.
NOTICES = {
    "type": "array",
    "description": "what was done with the contact beyond the request: a personnummer given for a service "
    "that does not need one (requires_personnummer false) is not stored (data minimisation)",
    "items": {
        "type": "object",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    },
}


def openapi_document() -> dict[str, Any]:
    timestamp = {"type": "string", "format": "date-time"}
    links = {"type": "object", "required": ["self"], "properties": {"self": {"type": "string"}}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Kontaktcenter API",
            "version": "1.0.0",
            "description": (
                "Malmö stad's contact center. Every call needs `Authorization: Bearer <token>`; administrators "
                "create tokens (`kontaktcenter api-token create`), each with one scope. Errors are "
                "`application/problem+json` (RFC 9457)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/api/v1/contacts": {
                "post": {
                    "operationId": "createContact",
                    "summary": "Create a contact; it becomes a routed ticket (scope contacts:write)",
                    "description": (
                        "With direct intake (the default) the answer is the routed ticket (201). With queued intake "
                        '(`API_INTAKE = "queued"`) the contact is stored and acknowledged at once (202) and the '
                        "intake worker routes it moments later: follow the `Location` to read its ticket."
                    ),
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": (
                                "Retrying with the same key returns the first contact (200, or 202 while it awaits routing) "
                                "instead of a new one; also the id to read the contact by"
                            ),
                            "schema": {"type": "string", "maxLength": 100},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ContactRequest"}}},
                    },
                    "responses": {
                        "201": _json(
                            "Created: the new ticket's public status",
                            "TicketStatus",
                            headers={"Location": {"schema": {"type": "string"}}},
                        ),
                        "200": _json(
                            "A retry with the same Idempotency-Key: the ticket made the first time", "TicketStatus"
                        ),
                        "202": _json(
                            "Accepted (queued intake): the contact is stored and awaits routing",
                            "ContactStatus",
                            headers={"Location": {"schema": {"type": "string"}}},
                        ),
                        "400": _problem(
                            "The body is not valid JSON, holds characters that are not allowed, or is nested too deep"
                        ),
                        "415": _problem("The body is not application/json"),
                        "422": _problem("The contact breaks the schema or the catalogue (the field is named)"),
                        **COMMON_ERRORS,
                    },
                }
            },
            "/api/v1/contacts/{key}": {
                "get": {
                    "operationId": "getContact",
                    "summary": "A contact this token sent, by its Idempotency-Key: received or routed, with its ticket (scope contacts:write)",
                    "parameters": [
                        {"name": "key", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 100}}
                    ],
                    "responses": {
                        "200": _json("The contact's progress", "ContactStatus"),
                        "404": _problem("This token sent no contact with this key"),
                        **COMMON_ERRORS,
                    },
                }
            },
            "/api/v1/tickets/{reference}": {
                "get": {
                    "operationId": "getTicket",
                    "summary": "A ticket's public status by reference and receipt code (scope tickets:read)",
                    "description": "For the citizen: the reference and the receipt code printed on the receipt "
                    "(query receipt_code or header X-Receipt-Code; any case, dashes and spaces ignored). "
                    "Without the right code every reference gets the same 404, so a guessed one tells nothing.",
                    "parameters": [
                        {
                            "name": "reference",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": REFERENCE_PATTERN},
                        },
                        {
                            "name": "receipt_code",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 20},
                        },
                        {
                            "name": "X-Receipt-Code",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 20},
                        },
                    ],
                    "responses": {
                        "200": _json("The ticket's public status", "TicketStatus"),
                        "404": _problem("No ticket with this reference and receipt code"),
                        **COMMON_ERRORS,
                    },
                }
            },
            "/api/v1/services": {
                "get": {
                    "operationId": "listServices",
                    "summary": "The service catalogue offered to written contacts (scope services:read)",
                    "responses": {
                        "200": {
                            "description": "Active services",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Service"}}
                                }
                            },
                        },
                        **COMMON_ERRORS,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ContactRequest": contact_request_schema(),
                "TicketStatus": {
                    "type": "object",
                    "required": [
                        "reference",
                        "status",
                        "service_code",
                        "created_at",
                        "updated_at",
                        "resolved_at",
                        "links",
                    ],
                    "properties": {
                        "reference": {"type": "string", "pattern": REFERENCE_PATTERN},
                        "receipt_code": {
                            "type": "string",
                            "description": "only in the answer that created the ticket: give it to the citizen",
                        },
                        "status": {"type": "string", "enum": list(STATUSES)},
                        "service_code": {"type": "string", "nullable": True},
                        "created_at": timestamp,
                        "updated_at": timestamp,
                        "resolved_at": dict(timestamp, nullable=True),
                        "links": links,
                        "notices": NOTICES,
                    },
                },
                "ContactStatus": {
                    "type": "object",
                    "required": ["id", "status", "received_at", "ticket", "links"],
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"type": "string", "enum": ["received", "routed"]},
                        "received_at": timestamp,
                        "ticket": {"allOf": [{"$ref": "#/components/schemas/TicketStatus"}], "nullable": True},
                        "links": links,
                        "notices": NOTICES,
                    },
                },
                "Service": {
                    "type": "object",
                    "required": ["code", "name_sv", "name_en", "group", "department", "requires_personnummer"],
                    "properties": {
                        "code": {"type": "string"},
                        "name_sv": {"type": "string"},
                        "name_en": {"type": "string"},
                        "group": {"type": "string"},
                        "department": {"type": "string"},
                        "requires_personnummer": {"type": "boolean"},
                    },
                },
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["field", "message"],
                                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    }
