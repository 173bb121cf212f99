"""One guard against input no view can store: NUL characters, lone surrogates, invalid
UTF-8 and JSON nested deeper than any client needs.

PostgreSQL refuses NUL in text, no database driver can encode a lone surrogate, and
json.loads recurses once per level of nesting (a RecursionError at about a thousand).
Each of those used to surface as a 500 wherever such a value reached a query or a parser.
So this guard runs before every other before_request hook and answers 400, saying what
is wrong and where, in the endpoint's own format: problem+json for /api/v1, Open311's
error document for /open311, JSON for the e-mail webhook, plain text for Twilio, and the
HTML error page for everything else.

Twilio's webhooks are the exception for form and query values. Twilio retries a refused
SMS until it gives up, and the citizen's message would be lost; a gateway that turns
GSM's "@" (0x00) into NUL is enough. There the values are kept with each bad character
replaced by U+FFFD (replace_in_twilio_request), after the signature, which Twilio
computed over the original values, has been checked (see twilio_security).

Checked: the path, every header for NUL (RFC 9110 allows none) and the text headers we
store for UTF-8 (TEXT_HEADERS), the query string, url-encoded and multipart form fields
(names, values, file names), and a JSON body (depth before parsing; NUL and lone
surrogates written as \\u escapes after). Valid input costs a few byte scans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Request, Response, jsonify, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.datastructures import ImmutableMultiDict

MAX_JSON_DEPTH = 64
# Headers whose text we keep (Idempotency-Key becomes part of a stored key), so they must be UTF-8.
TEXT_HEADERS = ("Idempotency-Key",)
# Twilio's webhooks: their form and query values are repaired, not refused.
TWILIO_PREFIX = "/twilio/"
EMAIL_INBOUND = "/email/inbound"
# Webhooks whose senders would retry a refusal until they drop the citizen's message:
# their values are repaired (U+FFFD) and the message stored.
REPAIRED_PREFIXES = (TWILIO_PREFIX.encode(), EMAIL_INBOUND.encode())

NUL, SURROGATE, INVALID_UTF8, TOO_DEEP = "nul", "surrogate", "utf8", "deep"
_SURROGATES = re.compile("[\ud800-\udfff]")
# A JSON string (possessive, and its closing quote optional, so the scan stays linear).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
# \u0000 or a surrogate written as an escape: only then is the parsed body walked.
_JSON_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass(frozen=True)
class BadInput:
    kind: str  # NUL, SURROGATE, INVALID_UTF8 or TOO_DEEP
    where: str  # "path", "query", "form", "file", "header", "json" or "json member"
    name: str = ""  # the parameter, field, header or JSON member

    @property
    def status(self) -> int:
        # Well-formed JSON with a value no one can store is unprocessable (422, as the API
        # answers other unacceptable values); anything else is a bad request.
        return 422 if self.where == "json member" else 400

    def message(self) -> str:
        """In the request's language (the caller forces English for machine formats)."""
        place = {
            "path": _("Adressen"),
            "query": _("Parametern ”%(name)s” i adressen", name=self.name),
            "form": _("Fältet ”%(name)s”", name=self.name),
            "file": _("Filnamnet i fältet ”%(name)s”", name=self.name),
            "header": _("Rubriken ”%(name)s”", name=self.name),
            "json": _("JSON-innehållet"),
            "json member": _("Fältet ”%(name)s” i JSON-innehållet", name=self.name),
        }[self.where]
        if self.kind == TOO_DEEP:
            return _("JSON-innehållet är nästlat i fler än %(limit)d nivåer.", limit=MAX_JSON_DEPTH)
        if self.kind == NUL:
            return _("%(place)s innehåller ett NUL-tecken (U+0000), som inte är tillåtet.", place=place)
        if self.kind == SURROGATE:
            return _(
                "%(place)s innehåller ett ensamt surrogattecken (U+D800–U+DFFF), som inte är giltig text.", place=place
            )
        return _("%(place)s är inte giltig UTF-8.", place=place)


def _bytes_problem(raw: bytes) -> str | None:
    if b"\x00" in raw:
        return NUL
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return INVALID_UTF8
        return SURROGATE  # UTF-8's form of a surrogate, which strict UTF-8 refuses
    return None


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL
    if _SURROGATES.search(text):
        return SURROGATE
    return None


def _name(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")[:60]


def _pairs(raw: bytes):
    """(name, value) of a query string or url-encoded body, as bytes: split as Werkzeug does."""
    for pair in raw.split(b"&"):
        if pair:
            name, _sep, value = pair.partition(b"=")
            yield unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))


def _urlencoded_problem(raw: bytes, where: str) -> BadInput | None:
    # Decoded whole first (the usual, clean case); "&" and "=" cannot complete a broken
    # UTF-8 sequence, so the whole is clean exactly when every part is.
    if _bytes_problem(unquote_to_bytes(raw)) is None:
        return None
    for name, value in _pairs(raw):
        kind = _bytes_problem(name) or _bytes_problem(value)
        if kind:
            return BadInput(kind, where, _name(name))
    return None


def _multipart_problem(req: Request) -> BadInput | None:
    # Werkzeug decodes multipart text with errors="replace": only NUL and surrogates can remain.
    for name, value in req.form.items(multi=True):
        kind = _text_problem(name) or _text_problem(value)
        if kind:
            return BadInput(kind, "form", name.replace("\x00", "\ufffd")[:60])
    for name, upload in req.files.items(multi=True):
        kind = _text_problem(upload.filename or "")
        if kind:
            return BadInput(kind, "file", name.replace("\x00", "\ufffd")[:60])
    return None


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests deeper than `limit`, found without parsing it.

    Nothing to count when it has no more brackets than the limit (a usual body). Else
    strings are dropped (brackets in them do not count), then everything but brackets;
    a run of limit+1 openers is found at C speed, and the rest is counted one bracket at
    a time, stopping at the first level too deep. So the cost is bounded by the largest
    body MAX_CONTENT_LENGTH lets in, whatever its shape, and a usual body costs nothing.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", raw).translate(_BRACKETS_ONLY, _NOT_BRACKETS)
    if b"[" * (limit + 1) in brackets:
        return True
    depth = 0
    for byte in brackets:
        if byte == 0x5B:  # "["
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _walk(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first NUL or lone surrogate in a parsed JSON value: (kind, its path such as a.b[0])."""
    if isinstance(value, str):
        kind = _text_problem(value)
        return (kind, path) if kind else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else key
            kind = _text_problem(key)
            found = (kind, inner) if kind else _walk(item, inner)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _walk(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _json_problem(raw: bytes) -> BadInput | None:
    if json_depth_exceeds(raw):
        return BadInput(TOO_DEEP, "json")
    kind = _bytes_problem(raw)
    if kind:
        return BadInput(kind, "json")
    if _JSON_SUSPECT_ESCAPE.search(raw):
        try:
            found = _walk(json.loads(raw))
        except ValueError:
            return None  # not JSON at all: the view says so in its own words
        if found:
            return BadInput(found[0], "json member", _SURROGATES.sub("\ufffd", found[1].replace("\x00", "\ufffd"))[:60])
    return None


def _mimetype(environ: dict) -> str:
    return environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _header_name(key: str) -> str:
    return key.removeprefix("HTTP_").replace("_", "-").title()


def find_bad_input(req: Request) -> BadInput | None:
    """The first thing wrong with the request, or None.

    Read from the WSGI environ where it can be: the request object's parsed views of it
    cost more than the checks themselves, and this runs on every request.
    """
    environ = req.environ
    try:
        path = environ.get("PATH_INFO", "").encode("latin-1")  # PEP 3333: the raw bytes, as latin-1
    except UnicodeEncodeError:
        return BadInput(INVALID_UTF8, "path")
    kind = _bytes_problem(path)
    if kind:
        return BadInput(kind, "path")
    for key, value in environ.items():
        if type(value) is str and "\x00" in value and (key.startswith("HTTP_") or key.startswith("CONTENT_")):
            return BadInput(NUL, "header", _header_name(key))
    for name in TEXT_HEADERS:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if value:
            try:
                kind = _bytes_problem(value.encode("latin-1"))
            except UnicodeEncodeError:
                kind = INVALID_UTF8
            if kind:
                return BadInput(kind, "header", name)
    twilio = path.startswith(REPAIRED_PREFIXES)  # their values are repaired, not refused
    query = environ.get("QUERY_STRING")
    if query and not twilio:
        problem = _urlencoded_problem(query.encode("latin-1"), "query")
        if problem:
            return problem
    mimetype = _mimetype(environ)
    if not mimetype:
        return None
    if mimetype == "application/x-www-form-urlencoded":
        # Read (and kept) before anything parses the form, which would consume the stream.
        raw = req.get_data(cache=True)
        return None if twilio else _urlencoded_problem(raw, "form")
    if mimetype == "multipart/form-data" and not twilio:
        return _multipart_problem(req)
    if _is_json(mimetype):
        return _json_problem(req.get_data(cache=True))
    return None


# Machine clients' own error formats, by path prefix: each channel registers its own
# (register_refusal), so this module needs none of them.
MACHINE_REFUSALS: dict[str, Callable[[BadInput, str], Response]] = {}


def register_refusal(prefix: str, answer: Callable[[BadInput, str], Response]) -> None:
    """`answer(problem, message)` answers bad input under `prefix` in that client's format."""
    MACHINE_REFUSALS[prefix] = answer


def _refusal(problem: BadInput) -> Response:
    # Werkzeug's request.args raises on raw invalid UTF-8, and the error page reads ?lang=.
    request.args = _repaired_pairs(request.query_string)
    path = request.path
    machine = next((answer for prefix, answer in MACHINE_REFUSALS.items() if path.startswith(prefix)), None)
    if machine is not None or path.startswith(("/email/", TWILIO_PREFIX)):
        with force_locale("en"):  # machine clients read English, whatever ?lang= says
            message = problem.message()
        if machine is not None:
            return machine(problem, message)
        if path.startswith("/email/"):
            return jsonify(error=message), problem.status
        return Response(message, status=problem.status, mimetype="text/plain")
    return Response(
        render_template(
            "error.html",
            code=problem.status,
            title=_("Ogiltiga tecken i förfrågan"),
            message=problem.message() + " " + _("Inget har sparats."),
        ),
        status=problem.status,
    )


def guard() -> Response | None:
    req = request._get_current_object()  # type: ignore[attr-defined]
    problem = find_bad_input(req)
    if problem:
        return _refusal(problem)
    if req.path.startswith(EMAIL_INBOUND):
        # No signature over the values here (a shared secret): repaired at once.
        replace_in_twilio_request(req)
    return None


def _repaired_pairs(raw: bytes) -> ImmutableMultiDict:
    return ImmutableMultiDict(
        (
            name.decode("utf-8", "replace").replace("\x00", "\ufffd"),
            value.decode("utf-8", "replace").replace("\x00", "\ufffd"),
        )
        for name, value in _pairs(raw)
    )


def replace_in_twilio_request(req: Request) -> None:
    """After Twilio's signature is checked (and for inbound e-mail): the view reads the form
    and query with NUL, lone surrogates and invalid UTF-8 replaced by U+FFFD. Nothing
    changes for clean input."""
    if req.query_string and _urlencoded_problem(req.query_string, "query"):
        req.args = _repaired_pairs(req.query_string)
        req.__dict__.pop("values", None)
    if req.mimetype == "application/x-www-form-urlencoded":
        raw = req.get_data(cache=True)
        if _urlencoded_problem(raw, "form"):
            req.form = _repaired_pairs(raw)
            req.__dict__.pop("values", None)
    elif req.mimetype == "multipart/form-data" and _multipart_problem(req):
        req.form = ImmutableMultiDict(
            (
                _SURROGATES.sub("\ufffd", k.replace("\x00", "\ufffd")),
                _SURROGATES.sub("\ufffd", v.replace("\x00", "\ufffd")),
            )
            for k, v in req.form.items(multi=True)
        )
        req.__dict__.pop("values", None)


def init_app(app: Flask) -> None:
    # First of all before_request hooks: CSRF, the rate limiter and the locale read the
    # request too, and none of them should meet what the guard refuses.
    app.before_request_funcs.setdefault(None, []).insert(0, guard)
