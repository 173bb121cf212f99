"""Schemathesis over /api/v1/openapi.json: generated requests get no server error and no answer outside the document.

Driven through Hypothesis directly (operation.as_strategy()) because schemathesis'
lazy pytest fixture loader does not work with pytest 9.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SCOPES = {
    "POST /api/v1/contacts": "contacts:write",
    "GET /api/v1/contacts/{key}": "contacts:write",
    "GET /api/v1/tickets/{reference}": "tickets:read",
    "GET /api/v1/services": "services:read",
}
# Every operation with the default direct intake, and creating contacts with queued intake (202).
RUNS = [(label, "direct") for label in SCOPES] + [("POST /api/v1/contacts", "queued")]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    # Invalid input must be refused with a 4xx, and a call without the token must not succeed.
    negative_data_rejection,
    ignored_auth,
]
EXAMPLES = 60


@pytest.fixture
def api_schema(app, session):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def test_document_lists_the_four_operations(api_schema):
    operations = {f"{op.ok().method.upper()} {op.ok().path}" for op in api_schema.get_all_operations()}
    assert operations == set(SCOPES)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize(("label", "intake"), RUNS)
def test_generated_requests_keep_to_the_document(
    app, monkeypatch, api_schema, make_token, make_contact, label, intake, mode
):
    monkeypatch.setitem(app.config, "API_INTAKE", intake)
    make_contact(service="skolval")  # a ticket for the status endpoint to find now and then
    token = make_token(SCOPES[label])
    operation = api_schema.find_operation_by_label(label)
    calls = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        calls.append(response.status_code)

    run()
    assert calls, "schemathesis generated no requests"
    if mode is GenerationMode.POSITIVE and label == "GET /api/v1/services":
        assert set(calls) == {200}
