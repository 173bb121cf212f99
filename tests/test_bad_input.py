"""Bad input never gives 500 (issue 15, part 6).

Every endpoint of app.url_map, with every method it accepts, is given NUL, a lone
surrogate, invalid UTF-8 and 1,000-deep JSON in each place a request can carry them, as
a client that may use it (signed in with a role the route allows, an API token of the
right scope, a valid Twilio signature), so the guard, not a login redirect or a refused
signature, is what answers. Everything but Twilio's form and query values is refused with
400 by the guard, in the endpoint's own format; Twilio's are repaired (U+FFFD) and
answered normally.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.test import EnvironBuilder

from kontaktcenter.channels.tokens.service import create_token
from kontaktcenter.channels.twilio_security import auth_token
from kontaktcenter.contacts.models import Contact
from kontaktcenter.extensions import limiter
from kontaktcenter.input_guard import MAX_JSON_DEPTH, json_depth_exceeds
from tests.fixtures.routes import client_as, staff_roles

DEEP_JSON = "[" * 1000 + "]" * 1000
NUL_TEXT = "a\x00b"
# What the guard's message names, per kind of bad input (Swedish and English share these).
KEYWORD = {"nul": "U+0000", "surrogate": "U+D800", "utf8": "UTF-8", "deep": str(MAX_JSON_DEPTH)}
# Fields the views read, so that without the guard the bad value would reach them.
FIELDS = ("text", "q", "username", "password", "description", "service_code", "name", "body", "from", "subject")
TWILIO_PARAMS = {
    "AccountSid": "AC" + "0" * 32,
    "MessageSid": "SM" + "1" * 32,
    "CallSid": "CA" + "1" * 32,
    "From": "+46709876543",
    "To": "+46406000000",
    "Body": "Hej",
    "Digits": "1",
    "CallStatus": "completed",
    "QueueResult": "hangup",
    "QueueTime": "12",
    "CallDuration": "30",
    "MessageStatus": "delivered",
}


def _variants():
    """(name, kind, how): how says where the bad value goes."""
    yield "nul-query", "nul", ("query", b"a%00b")
    yield "surrogate-query", "surrogate", ("query", b"%ED%A0%80")
    yield "invalid-utf8-query", "utf8", ("query", b"%FF")
    yield "raw-invalid-utf8-query", "utf8", ("query", b"\xff")  # as a server passes bytes it was sent unescaped
    yield "nul-form", "nul", ("form", b"a%00b")
    yield "surrogate-form", "surrogate", ("form", b"%ED%A0%80")
    yield "invalid-utf8-form", "utf8", ("form", b"caf%E9")
    yield "nul-multipart", "nul", ("multipart", NUL_TEXT)
    yield "nul-json", "nul", ("json", json.dumps({f: NUL_TEXT for f in FIELDS}))
    yield "surrogate-json", "surrogate", ("json", '{"text": "\\ud800", "service_code": "allmant"}')
    yield "deep-json", "deep", ("json", DEEP_JSON)
    yield "nul-path", "nul", ("path", NUL_TEXT)
    yield "raw-invalid-utf8-path", "utf8", ("rawpath", b"\xff")
    yield "nul-header", "nul", ("header", NUL_TEXT)


def _request(app, world, rule, method: str, how: tuple[str, object]) -> dict:
    """The keyword arguments of client.open for one bad request to `rule`."""
    where, bad = how
    path = world.path(app, rule)
    roles = staff_roles(app, rule)
    # The form's CSRF token (public forms such as /login and /kontakt have one too), so
    # that without the guard the view itself, not the CSRF check, would meet the value.
    token = world.anonymous_csrf if not roles else client_as(app, world, world.role_for(rule.endpoint, roles))[1]
    csrf = {"csrf_token": token}
    headers = {"X-CSRFToken": token}
    if rule.endpoint.startswith("api."):
        scope = {"api.get_ticket": "tickets:read", "api.list_services": "services:read"}.get(
            rule.endpoint, "contacts:write"
        )
        headers["Authorization"] = f"Bearer {world.api_tokens[scope]}"
    query = b""
    kwargs: dict = {"method": method, "headers": headers}
    if where == "path":
        text_params = [
            n for n, c in rule._converters.items() if type(c).__name__ in ("UnicodeConverter", "PathConverter")
        ]
        if text_params:
            path = world.path(app, rule, **{text_params[0]: bad})
        else:
            path += "%00"  # no text parameter: the NUL makes the path unknown, and still must not be a 500
    elif where == "rawpath":
        kwargs["environ_overrides"] = {"PATH_INFO": path + bad.decode("latin-1")}  # PEP 3333: bytes as latin-1
    elif where == "query":
        query = b"q=" + bad + b"&lang=sv"
    elif where == "form":
        body = (
            b"&".join(f"{k}=".encode() + bad for k in FIELDS)
            + b"&"
            + b"&".join(f"{k}={v}".encode() for k, v in csrf.items())
        )
        kwargs.update(data=body, content_type="application/x-www-form-urlencoded")
    elif where == "multipart":
        kwargs.update(data={**{f: bad for f in FIELDS}, **csrf}, content_type="multipart/form-data")
    elif where == "json":
        kwargs.update(data=bad, content_type="application/json")
    elif where == "header":
        headers["Idempotency-Key"] = bad
    if rule.rule.startswith("/open311/") and method == "POST" and where != "form":
        query = query + (b"&" if query else b"") + f"api_key={world.api_tokens['open311']}".encode()
    if rule.rule.startswith("/twilio/"):
        kwargs = _signed_for_twilio(app, path, query, where, bad, kwargs)
    kwargs["path"] = path
    kwargs.setdefault("environ_overrides", {})["QUERY_STRING"] = query.decode("latin-1")
    return kwargs


def _signed_for_twilio(app, path: str, query: bytes, where: str, bad, kwargs: dict) -> dict:
    """Twilio's parameters with the bad value in each of them, signed as Twilio would sign
    what the app parses (the signature covers the original values, before any repair)."""
    if where == "form":
        body = b"&".join(k.encode() + b"=" + bad for k in TWILIO_PARAMS)
        kwargs.update(data=body, content_type="application/x-www-form-urlencoded")
    elif where == "multipart":
        kwargs.update(data={k: bad for k in TWILIO_PARAMS}, content_type="multipart/form-data")
    elif where in ("query", "path", "rawpath", "header"):
        kwargs.update(data=TWILIO_PARAMS, content_type="application/x-www-form-urlencoded")
    url = "http://localhost" + path + ("?" + query.decode("latin-1") if query else "")
    builder = EnvironBuilder(path=path, method="POST", data=kwargs.get("data"), content_type=kwargs.get("content_type"))
    form = builder.get_request().form
    builder.close()
    kwargs["headers"]["X-Twilio-Signature"] = RequestValidator(auth_token(app)).compute_signature(url, form)
    return kwargs


def _refused_by_guard(response, rule_path: str, name: str, kind: str) -> str | None:
    """What is wrong with the answer, or None when it is the guard's 400 in the endpoint's format."""
    # A value in well-formed JSON is unprocessable (422); anything else a bad request.
    expected = 422 if name in ("nul-json", "surrogate-json") else 400
    if response.status_code != expected:
        return f"status {response.status_code}, expected {expected}"
    text = response.get_data(as_text=True)
    if KEYWORD[kind] not in text:
        return f"the message does not name the problem ({KEYWORD[kind]!r}): {text[:200]!r}"
    if rule_path.startswith("/api/"):
        return None if response.mimetype == "application/problem+json" else f"not problem+json: {response.mimetype}"
    if rule_path.startswith("/open311/"):
        errors = response.get_json(silent=True)
        return None if errors and errors[0]["code"] == expected else f"not Open311's error format: {text[:200]!r}"
    if rule_path.startswith("/email/"):
        return None if response.is_json and "error" in response.get_json() else "not the webhook's JSON error"
    if rule_path.startswith("/twilio/"):
        return None if response.mimetype == "text/plain" else f"not text/plain: {response.mimetype}"
    return None if response.mimetype == "text/html" and 'role="alert"' in text else "not the HTML error page"


def _walk_every_endpoint(app, world):
    limiter.enabled = False  # several hundred requests from one client: the limit is not what is tested
    wrong, count = [], 0
    try:
        for rule in app.url_map.iter_rules():
            roles = staff_roles(app, rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for name, kind, how in _variants():
                    kwargs = _request(app, world, rule, method, how)
                    client = client_as(app, world, world.role_for(rule.endpoint, roles) if roles else None)[0]
                    count += 1
                    try:
                        response = client.open(**kwargs)
                    except Exception as exc:  # noqa: BLE001 - TESTING propagates what would be a 500: a finding
                        wrong.append((method, rule.rule, name, f"raised {exc!r}"[:300]))
                        continue
                    if response.status_code >= 500:
                        wrong.append(
                            (
                                method,
                                rule.rule,
                                name,
                                f"{response.status_code}: {response.get_data(as_text=True)[:200]!r}",
                            )
                        )
                    elif rule.rule.startswith(("/twilio/", "/email/inbound")) and how[0] in (
                        "query",
                        "form",
                        "multipart",
                    ):
                        # Repaired, not refused: the view answers as usual. Voice callbacks may still
                        # refuse a call they do not know (400 from the view); an SMS is always taken.
                        if rule.endpoint == "twilio_sms.incoming" and response.status_code != 200:
                            wrong.append((method, rule.rule, name, f"the SMS was answered {response.status_code}"))
                        elif rule.endpoint == "email.inbound" and response.status_code not in (200, 400, 403):
                            # stored repaired (200), a post that is no e-mail (400: no sender) or without the
                            # webhook's secret (403): never refused for its characters
                            wrong.append((method, rule.rule, name, f"the e-mail was answered {response.status_code}"))
                    else:
                        problem = _refused_by_guard(response, rule.rule, name, kind)
                        if problem:
                            wrong.append((method, rule.rule, name, problem))
    finally:
        limiter.enabled = True
    assert count > 500, count  # every route × method × variant
    assert wrong == [], "\n".join(map(str, wrong))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_every_endpoint_refuses_bad_input_with_4xx_never_5xx(app, session, world, backend):
    if session.bind.dialect.name != backend:
        pytest.skip(f"this variant runs in the suite on {backend}")
    _walk_every_endpoint(app, world)


def test_sms_with_nul_is_stored_repaired_and_acknowledged_once(app, client, session):
    """Twilio retries what it cannot deliver: the SMS is stored with U+FFFD for the NUL
    (the citizen's message is not lost), acknowledged, and the retry adds nothing."""
    params = {
        **{k: TWILIO_PARAMS[k] for k in ("AccountSid", "From", "To")},
        "MessageSid": "SM" + "2" * 32,
        "Body": "Min e-post är anna\x00example.se, ring mig",
        "NumMedia": "0",
    }
    signature = RequestValidator(auth_token(app)).compute_signature("http://localhost/twilio/sms/incoming", params)
    before = session.scalar(select(func.count(Contact.id)))
    answers = [
        client.post("/twilio/sms/incoming", data=params, headers={"X-Twilio-Signature": signature}) for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert all(a.mimetype == "text/xml" and "KC-" in a.get_data(as_text=True) for a in answers)
    session.expire_all()
    assert session.scalar(select(func.count(Contact.id))) == before + 1
    contact = session.scalar(select(Contact).where(Contact.provider_sid.contains("2" * 32)))
    assert contact.text == "Min e-post är anna\ufffdexample.se, ring mig"


def test_sms_with_a_lone_surrogate_is_stored_repaired(app, client, session):
    body = (
        b"AccountSid=AC"
        + b"0" * 32
        + b"&MessageSid=SM"
        + b"3" * 32
        + b"&From=%2B46709876543&To=%2B46406000000&Body=Hej+%ED%A0%80+d%E5"
    )
    form = (
        EnvironBuilder(
            path="/twilio/sms/incoming", method="POST", data=body, content_type="application/x-www-form-urlencoded"
        )
        .get_request()
        .form
    )
    signature = RequestValidator(auth_token(app)).compute_signature("http://localhost/twilio/sms/incoming", form)
    response = client.post(
        "/twilio/sms/incoming",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    session.expire_all()
    contact = session.scalar(select(Contact).where(Contact.provider_sid.contains("3" * 32)))
    assert contact.text == "Hej \ufffd\ufffd\ufffd d\ufffd"


def test_email_with_nul_is_stored_repaired_and_acknowledged_once(app, client, session, monkeypatch):
    """SendGrid would retry a refusal and then drop the citizen's mail: it is kept, repaired."""
    from kontaktcenter.contacts.models import Contact
    from tests.fixtures.inbound_email import SECRET, parse_post

    monkeypatch.setitem(app.config, "INBOUND_EMAIL_SECRET", SECRET)
    post = parse_post(text="Hej\x00 där", message_id="<nul-1@example.se>")
    for _ in range(2):
        response = client.post(f"/email/inbound/{SECRET}", data=post, content_type="multipart/form-data")
        assert response.status_code == 200, response.get_data(as_text=True)
    (contact,) = session.scalars(select(Contact).where(Contact.provider_sid == "email:nul-1@example.se")).all()
    assert contact.text == "Hej\ufffd där"


def test_unsigned_sms_with_nul_is_still_refused(client, session):
    before = session.scalar(select(func.count(Contact.id)))
    response = client.post(
        "/twilio/sms/incoming", data={**TWILIO_PARAMS, "Body": NUL_TEXT}, headers={"X-Twilio-Signature": "forged"}
    )
    assert response.status_code == 403
    assert session.scalar(select(func.count(Contact.id))) == before


@pytest.mark.parametrize(
    ("path", "lang", "expected"),
    [
        ("/login?username=a%00b", "sv", "Parametern ”username” i adressen innehåller ett NUL-tecken (U+0000)"),
        ("/login?username=a%00b", "en", "The parameter “username” in the address contains a NUL character (U+0000)"),
        ("/kontakt?q=%ED%A0%80", "sv", "ensamt surrogattecken"),
    ],
)
def test_the_html_message_says_what_is_wrong_in_the_users_language(client, path, lang, expected):
    response = client.get(path + f"&lang={lang}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert expected in page
    assert ("Inget har sparats." if lang == "sv" else "Nothing has been saved.") in page


@pytest.fixture
def contacts_token(session):
    raw = create_token(session, "bad-input test", "contacts:write")[1]
    session.commit()
    return raw


def test_api_and_open311_answer_in_their_own_formats(client, contacts_token):
    token = contacts_token
    api = client.post(
        "/api/v1/contacts",
        data='{"text": "\\u0000"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 422  # as the API answers other unacceptable values, naming the member
    assert api.mimetype == "application/problem+json"
    problem = api.get_json()
    assert (
        problem["detail"]
        == "The member “text” of the JSON body contains a NUL character (U+0000), which is not allowed."
    )
    assert problem["errors"] == [{"field": "text", "message": problem["detail"]}]
    deep = client.post(
        "/api/v1/contacts",
        data="[" * 1000 + "]" * 1000,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert deep.status_code == 400
    assert deep.get_json()["detail"] == "The JSON body is nested more than 64 levels deep."
    xml = client.get("/open311/v2/requests.xml?service_code=%00")
    assert xml.status_code == 400
    assert xml.mimetype == "text/xml"
    assert b"<code>400</code>" in xml.data
    assert b"U+0000" in xml.data


def test_the_api_names_the_member_and_the_header(client, contacts_token):
    headers = {"Authorization": f"Bearer {contacts_token}"}
    nested = client.post(
        "/api/v1/contacts",
        data='{"service_code": "allmant", "text": "Hej", "needs": ["\\ud800"]}',
        content_type="application/json",
        headers=headers,
    )
    assert nested.status_code == 422
    assert nested.get_json()["errors"][0]["field"] == "needs[0]"
    # Latin-1 "å" is not UTF-8: the key would be stored as something the client never sent.
    latin1 = client.post(
        "/api/v1/contacts",
        json={"service_code": "allmant", "text": "Hej"},
        headers={**headers, "Idempotency-Key": "nyckel-\xe5"},
    )
    assert latin1.status_code == 400
    assert latin1.get_json()["detail"] == "The header “Idempotency-Key” is not valid UTF-8."


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ("[]", False),
        ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, False),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), True),
        ('{"a": "' + "[" * 5000 + '"}', False),  # brackets inside a string do not nest
        ('{"a": "\\"' + "[" * 5000 + '"}', False),  # nor after an escaped quote
        ("[" * 1000, True),  # unclosed: json.loads would still recurse through them
        ("[{}]" * 100000, False),  # many, but shallow
        ('[{"a": [' * 40 + "1" + "]}]" * 40, True),
    ],
)
def test_json_depth_is_found_without_parsing(text, deep):
    assert json_depth_exceeds(text.encode()) is deep


def test_valid_text_passes_untouched(client, contacts_token):
    """Swedish, Arabic and emoji (a valid surrogate pair in JSON) are not bad input."""
    token = contacts_token
    response = client.post(
        "/api/v1/contacts",
        json={
            "service_code": "allmant",
            "text": "Hej åäö مرحبا \U0001f600",
            "citizen_name": "Åsa",
            "email": "asa@example.se",
            "reply_channel": "email",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (201, 202), response.get_data(as_text=True)
    assert client.get("/kontakt?q=sk%C3%B6ld&lang=ar").status_code == 200
