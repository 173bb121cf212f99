"""The API's contact request: one field table that both validates input and writes the OpenAPI schema."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...errors import DomainError
from ...intake.incoming import TEXT_MAX
from ...vocabulary import NEEDS, REPLY_CHANNELS

LANGUAGE_PATTERN = r"^[a-z]{2}$"


@dataclass(frozen=True)
class Field:
    name: str
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


FIELDS = [
    Field(
        "service_code",
        {"type": "string", "minLength": 1, "maxLength": 60},
        True,
        "a service code from GET /api/v1/services",
    ),
    Field(
        "text",
        {"type": "string", "minLength": 1, "maxLength": TEXT_MAX},
        True,
        "the citizen's errand in their own words",
    ),
    Field("subject", {"type": "string", "maxLength": 300}),
    Field("language", {"type": "string", "pattern": LANGUAGE_PATTERN}, description="ISO 639-1; default sv"),
    Field("needs", {"type": "array", "items": {"type": "string", "enum": list(NEEDS)}, "uniqueItems": True}),
    Field(
        "interpreter_language",
        {"type": "string", "pattern": LANGUAGE_PATTERN},
        description="ISO 639-1, with the need interpreter",
    ),
    Field("citizen_name", {"type": "string", "maxLength": 200}),
    Field(
        "phone", {"type": "string", "maxLength": 30}, description="any format; Swedish numbers without a country code"
    ),
    Field("email", {"type": "string", "maxLength": 200}),
    Field(
        "personnummer",
        {"type": "string", "maxLength": 13},
        description="stored only for services that require it (requires_personnummer); for others it is dropped unread and the answer says so in notices; samordningsnummer accepted",
    ),
    Field("reply_channel", {"type": "string", "enum": list(REPLY_CHANNELS)}, description="default none"),
]


def contact_request_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in FIELDS if f.required],
        "properties": {
            f.name: dict(f.schema, **({"description": f.description} if f.description else {})) for f in FIELDS
        },
    }


class RequestError(DomainError, ValueError):
    """The body breaks the schema; `errors` lists field and message."""

    status = 422

    def __init__(self, errors: list[dict[str, str]]):
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__("the contact does not match the schema: " + problems)
        self.errors = errors


def _check(value: Any, schema: dict[str, Any]) -> str | None:
    kind = schema["type"]
    if kind == "string":
        if not isinstance(value, str):
            return "must be a string"
        if len(value) < schema.get("minLength", 0):
            return "must not be empty"
        if len(value) > schema.get("maxLength", 10**9):
            return f"must be at most {schema['maxLength']} characters"
        if "pattern" in schema and not re.fullmatch(schema["pattern"].strip("^$"), value):
            return "must be a two-letter ISO 639-1 code such as sv"
        if "enum" in schema and value not in schema["enum"]:
            return f"must be one of {', '.join(schema['enum'])}"
        return None
    if not isinstance(value, list):
        return "must be an array"
    for item in value:
        problem = _check(item, schema["items"])
        if problem:
            return f"each item {problem}"
    if len(set(value)) != len(value):
        return "must not repeat an item"
    return None


@dataclass
class ContactRequest:
    values: dict[str, Any]

    def as_incoming(self) -> dict[str, Any]:
        v = self.values
        return {
            "service_code": v["service_code"],
            "text": v["text"],
            "subject": v.get("subject", ""),
            "language": v.get("language", "sv"),
            "needs": list(v.get("needs", [])),
            "interpreter_language": v.get("interpreter_language"),
            "citizen_name": v.get("citizen_name", ""),
            "phone": v.get("phone") or None,
            "email": v.get("email") or None,
            "personnummer": v.get("personnummer") or None,
            "reply_channel": v.get("reply_channel", "none"),
        }


def parse_contact_request(payload: Any) -> ContactRequest:
    if not isinstance(payload, dict):
        raise RequestError([{"field": "", "message": "the body must be a JSON object"}])
    known = {f.name: f for f in FIELDS}
    errors = [{"field": k, "message": "is not a known field"} for k in payload if k not in known]
    for f in FIELDS:
        if f.name not in payload:
            if f.required:
                errors.append({"field": f.name, "message": "is required"})
            continue
        problem = _check(payload[f.name], f.schema)
        if problem:
            errors.append({"field": f.name, "message": problem})
    if (
        isinstance(payload.get("text"), str)
        and not payload["text"].strip()
        and not any(e["field"] == "text" for e in errors)
    ):
        errors.append({"field": "text", "message": "must not be blank"})
    if errors:
        raise RequestError(errors)
    return ContactRequest(payload)
