"""Open311 GeoReport v2: services, definitions, requests in JSON and XML with the specification's field names."""

from datetime import datetime
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select

from kontaktcenter.channels.open311.models import Open311Details
from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import Ticket

# GeoReport v2's field names, exactly (http://wiki.open311.org/GeoReport_v2).
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
POST_RESPONSE_FIELDS = {"service_request_id", "service_notice", "account_id"}
REPORT = {
    "service_code": "gatubelysning",
    "lat": "55.6050",
    "long": "13.0038",
    "address_string": "Stortorget 1, Malmö",
    "attribute[fara]": "nej",
    "attribute[plats]": "Lyktstolpen vid busshållplatsen",
    "description": "Lampan är trasig sedan i måndags.",
    "email": "lena@example.se",
    "first_name": "Lena",
    "last_name": "Ek",
    "account_id": "app-user-7",
}


@pytest.fixture
def api_key(make_token):
    return make_token("open311", "Malmö-appen")


def _post(client, fmt="json", **data):
    return client.post(f"/open311/v2/requests.{fmt}", data=data)


def _xml(response):
    assert response.content_type.startswith("text/xml")
    return ET.fromstring(response.data)  # noqa: S314 - our own server's answer


def test_discovery_names_the_v2_endpoint(client):
    body = client.get("/open311/discovery.json").get_json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["formats"] == ["application/json", "text/xml"]
    root = _xml(client.get("/open311/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["application/json", "text/xml"]


def test_services_in_json_and_xml(client):
    services = client.get("/open311/v2/services.json").get_json()
    codes = {s["service_code"] for s in services}
    assert codes == {"buller-klagomal", "felanmalan-gata", "gatubelysning", "klotter", "avfall"}
    for s in services:
        assert set(s) == SERVICE_FIELDS
        assert s["type"] in ("realtime", "batch", "blackbox")
    root = _xml(client.get("/open311/v2/services.xml"))
    assert root.tag == "services"
    first = root.find("service")
    assert {child.tag for child in first} == SERVICE_FIELDS
    assert first.find("metadata").text in ("true", "false")


def test_service_definition_has_attributes_in_both_formats(client):
    definition = client.get("/open311/v2/services/gatubelysning.json").get_json()
    assert definition["service_code"] == "gatubelysning"
    hazard = definition["attributes"][0]
    assert set(hazard) == ATTRIBUTE_FIELDS
    assert hazard["datatype"] == "singlevaluelist"
    assert hazard["required"] is True
    assert {v["key"] for v in hazard["values"]} == {"ja", "nej"}
    root = _xml(client.get("/open311/v2/services/gatubelysning.xml"))
    assert root.tag == "service_definition"
    attribute = root.find("attributes/attribute")
    assert {child.tag for child in attribute} == ATTRIBUTE_FIELDS
    assert [v.find("key").text for v in attribute.findall("values/value")] == ["ja", "nej"]


def test_unknown_service_is_a_404_error_list(client):
    response = client.get("/open311/v2/services/finns-inte.json")
    assert response.status_code == 404
    (error,) = response.get_json()
    assert set(error) == {"code", "description"}
    assert error["code"] == 404
    root = _xml(client.get("/open311/v2/services/finns-inte.xml"))
    assert root.tag == "errors"
    assert root.find("error/code").text == "404"


def test_post_request_makes_a_ticket_and_answers_per_spec(client, session, api_key):
    response = _post(client, api_key=api_key, **REPORT)
    assert response.status_code == 201
    (answer,) = response.get_json()
    assert set(answer) == POST_RESPONSE_FIELDS
    assert answer["account_id"] == "app-user-7"
    ticket = session.scalar(select(Ticket).where(Ticket.reference == answer["service_request_id"]))
    (contact,) = ticket.contacts
    assert contact.channel == "open311"
    assert contact.citizen_email == "lena@example.se"
    assert contact.citizen_name == "Lena Ek"
    details = session.scalar(select(Open311Details).where(Open311Details.contact_id == contact.id))
    assert (details.lat, details.long) == (55.605, 13.0038)
    assert details.attributes == {"fara": "nej", "plats": "Lyktstolpen vid busshållplatsen"}


def test_post_request_in_xml(client, api_key):
    root = _xml(_post(client, "xml", api_key=api_key, **REPORT))
    assert root.tag == "service_requests"
    assert {child.tag for child in root.find("request")} == POST_RESPONSE_FIELDS


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"api_key": "fel"}, 403, "api_key"),
        ({"service_code": "skolval"}, 404, "not an Open311 service"),
        ({"lat": "", "long": "", "address_string": ""}, 400, "location is required"),
        ({"lat": "95"}, 400, "between -90"),
        ({"attribute[fara]": ""}, 400, "attribute[fara] is required"),
        ({"attribute[fara]": "kanske"}, 400, "must be one of"),
        ({"attribute[hemlig]": "x"}, 400, "unknown attribute"),
        ({"email": "inte-en-adress"}, 400, "email"),
    ],
)
def test_bad_requests_get_spec_errors_and_store_nothing(client, session, api_key, change, status, words):
    before = session.scalar(select(func.count(Contact.id)))
    response = _post(client, **{**REPORT, "api_key": api_key, **change})
    assert response.status_code == status
    (error,) = response.get_json()
    assert error["code"] == status
    assert words in error["description"]
    assert session.scalar(select(func.count(Contact.id))) == before


def test_a_token_without_the_open311_scope_cannot_post(client, make_token):
    assert _post(client, api_key=make_token("contacts:write"), **REPORT).status_code == 403


def test_get_request_by_id_has_every_field_and_department_and_due_time(client, api_key):
    reference = _post(client, api_key=api_key, **REPORT).get_json()[0]["service_request_id"]
    (record,) = client.get(f"/open311/v2/requests/{reference}.json").get_json()
    assert set(record) == REQUEST_FIELDS
    assert record["status"] == "open"
    assert record["agency_responsible"] == "Fastighets- och gatukontoret"
    assert record["address"] == "Stortorget 1, Malmö"
    assert (record["lat"], record["long"]) == (55.605, 13.0038)
    requested = datetime.fromisoformat(record["requested_datetime"])
    expected = datetime.fromisoformat(record["expected_datetime"])
    assert requested.utcoffset() is not None
    assert (expected - requested).days >= 10  # sla_resolve_days = 10 working days
    root = _xml(client.get(f"/open311/v2/requests/{reference}.xml"))
    assert {child.tag for child in root.find("request")} == REQUEST_FIELDS


def test_expected_datetime_is_the_tickets_due_time_when_set(client, session, api_key, app):
    reference = _post(client, api_key=api_key, **REPORT).get_json()[0]["service_request_id"]
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    ticket.resolve_due_at = datetime.fromisoformat("2026-12-01T12:00:00+00:00")
    session.commit()
    (record,) = client.get(f"/open311/v2/requests/{reference}.json").get_json()
    assert record["expected_datetime"] == "2026-12-01T13:00:00+01:00"


def test_get_requests_filters_by_code_status_and_dates(client, api_key):
    light = _post(client, api_key=api_key, **REPORT).get_json()[0]["service_request_id"]
    noise = _post(
        client,
        api_key=api_key,
        service_code="buller-klagomal",
        address_string="Möllevången",
        **{"attribute[kalla]": "musik"},
    ).get_json()[0]["service_request_id"]
    ids = lambda q: {r["service_request_id"] for r in client.get(f"/open311/v2/requests.json?{q}").get_json()}  # noqa: E731
    assert {light, noise} <= ids("")
    assert light in ids("service_code=gatubelysning")
    assert noise not in ids("service_code=gatubelysning")
    assert {light, noise} <= ids("service_code=gatubelysning,buller-klagomal")
    assert light in ids("status=open")
    assert light not in ids("status=closed")
    assert light not in ids("start_date=2000-01-01T00:00:00Z&end_date=2000-01-02T00:00:00Z")
    assert ids(f"service_request_id={light}&service_code=avfall") == {light}  # id wins over other filters
    root = _xml(client.get("/open311/v2/requests.xml?service_code=gatubelysning"))
    assert root.tag == "service_requests"
    assert all(r.tag == "request" for r in root)


def test_web_form_contacts_are_not_listed_through_open311(client, make_contact):
    received = make_contact(service="gatubelysning", text="Privat: mitt namn är Kim.")
    listed = client.get("/open311/v2/requests.json").get_json()
    assert received.ticket.reference not in {r["service_request_id"] for r in listed}
    assert client.get(f"/open311/v2/requests/{received.ticket.reference}.json").status_code == 404


def test_bad_filters_are_400(client):
    assert client.get("/open311/v2/requests.json?status=maybe").status_code == 400
    assert client.get("/open311/v2/requests.json?start_date=igår").status_code == 400
    assert client.get("/open311/v2/services.json?jurisdiction_id=lund.se").status_code == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_rate_limit_answers_in_the_open311_error_format(app, client, monkeypatch, fmt):
    monkeypatch.setitem(app.config, "RATELIMIT_API", "1 per minute")
    assert client.get(f"/open311/v2/services.{fmt}").status_code == 200
    refused = client.get(f"/open311/v2/services.{fmt}")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    if fmt == "json":
        assert refused.get_json()[0]["code"] == 429
    else:
        assert _xml(refused).find("error/code").text == "429"
