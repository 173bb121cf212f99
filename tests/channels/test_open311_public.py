"""Open311 publishes only what is public: attacks by a stranger reading requests, and by a
client posting a media_url that is not a web address."""

import json
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select

from kontaktcenter.channels.open311.georeport import without_personal_details
from kontaktcenter.channels.open311.models import Open311Details
from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import Service
from kontaktcenter.tickets.models import Ticket

NAME, EMAIL, PHONE, PNR = ("Lena", "Ekström"), "lena.ekstrom@example.se", "070-123 45 67", "19850101-1234"
# A noise complaint about a neighbour: personal, and its place is a home.
PRIVATE = {
    "service_code": "buller-klagomal",
    "attribute[kalla]": "musik",
    "lat": "55.591234",
    "long": "13.019876",
    "address_string": "Bergsgatan 17, lgh 1102",
    "description": "Grannen Per Olsson i lgh 1103 spelar musik varje natt, han dricker. Jag heter Lena, 19850101-1234.",
    "email": EMAIL,
    "phone": PHONE,
    "first_name": NAME[0],
    "last_name": NAME[1],
}
# A broken street lamp: public, but the citizen wrote her contact details into the text.
PUBLIC = {
    "service_code": "gatubelysning",
    "attribute[fara]": "nej",
    "lat": "55.605432",
    "long": "13.003876",
    "address_string": "Stortorget 1",
    "description": f"Lampan är trasig. Ring mig på {PHONE} eller mejla {EMAIL}. Mvh Lena Ekström",
    "email": EMAIL,
    "phone": PHONE,
    "first_name": NAME[0],
    "last_name": NAME[1],
    "media_url": "https://bilder.example.se/lampa.jpg",
}
NEVER = [EMAIL, "ekstrom@", PHONE, "1234567", "Ekström", "Lena", PNR, "19850101"]


@pytest.fixture
def api_key(make_token):
    return make_token("open311", "Malmö-appen")


def _post(client, api_key, data, fmt="json"):
    response = client.post(f"/open311/v2/requests.{fmt}", data={**data, "api_key": api_key})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response


def _reference(client, api_key, data):
    return _post(client, api_key, data).get_json()[0]["service_request_id"]


def _every_answer(client, reference, service_code):
    """What a stranger reads about one request: the list, the one, in JSON and XML."""
    stranger = client.application.test_client()  # no session, no key
    pages = [
        (f"/open311/v2/requests/{reference}", ""),
        ("/open311/v2/requests", ""),
        ("/open311/v2/requests", f"?service_code={service_code}"),
    ]
    for path, query in pages:
        for fmt in ("json", "xml"):
            url = f"{path}.{fmt}{query}"
            response = stranger.get(url)
            assert response.status_code == 200, url
            # As a reader sees it: JSON's \u escapes of å, ä, ö undone.
            yield (
                url,
                json.dumps(response.get_json(), ensure_ascii=False)
                if fmt == "json"
                else response.get_data(as_text=True),
            )


def _record(client, reference):
    (record,) = client.application.test_client().get(f"/open311/v2/requests/{reference}.json").get_json()
    return record


def test_a_stranger_reads_no_text_place_or_contact_details_of_a_request_to_a_private_service(client, api_key):
    reference = _reference(client, api_key, PRIVATE)
    for url, body in _every_answer(client, reference, "buller-klagomal"):
        assert reference in body, url
        for secret in [
            *NEVER,
            "Olsson",
            "musik varje natt",
            "Bergsgatan",
            "1102",
            "55.591",
            "591234",
            "13.019",
            "019876",
        ]:
            assert secret not in body, (url, secret)
    record = _record(client, reference)
    assert record["description"] == ""
    assert (record["lat"], record["long"], record["address"], record["address_id"], record["zipcode"]) == (
        None,
        None,
        "",
        "",
        "",
    )
    assert record["status"] == "open"  # the request itself can still be followed


def test_a_public_service_shows_text_and_place_but_never_contact_details(client, api_key):
    reference = _reference(client, api_key, PUBLIC)
    record = _record(client, reference)
    assert record["description"].startswith("Lampan är trasig. Ring mig på […] eller mejla […]")
    assert (record["lat"], record["long"], record["address"]) == (55.605432, 13.003876, "Stortorget 1")
    assert record["media_url"] == "https://bilder.example.se/lampa.jpg"
    for url, body in _every_answer(client, reference, "gatubelysning"):
        assert "Lampan är trasig" in body, url
        for secret in NEVER:
            assert secret not in body, (url, secret)


def test_the_catalogue_marks_only_street_and_park_faults_public(session):
    public = set(session.scalars(select(Service.code).where(Service.public_requests.is_(True))))
    assert public == {"felanmalan-gata", "gatubelysning", "klotter"}
    open311 = set(session.scalars(select(Service.code).where(Service.open311.is_(True))))
    assert {"buller-klagomal", "avfall"} <= open311 - public


def test_a_request_whose_ticket_moves_to_a_private_service_is_no_longer_shown(client, session, api_key):
    reference = _reference(client, api_key, PUBLIC)
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    ticket.service = session.scalar(select(Service).where(Service.code == "avfall"))
    session.commit()
    record = _record(client, reference)
    assert record["description"] == ""
    assert record["lat"] is None
    assert record["media_url"] == ""


@pytest.mark.parametrize(
    "media_url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        "  javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ftp://bilder.example.se/lampa.jpg",
        "//evil.example/lampa.jpg",
        "http://",
        "https://bilder.example.se/lampa.jpg\njavascript:alert(1)",
        "https://bilder.example.se/" + "a" * 500,
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_media_url_that_is_not_a_web_address_is_refused_and_nothing_is_stored(
    client, session, api_key, media_url, fmt
):
    before = (session.scalar(select(func.count(Contact.id))), session.scalar(select(func.count(Open311Details.id))))
    response = client.post(f"/open311/v2/requests.{fmt}", data={**PUBLIC, "api_key": api_key, "media_url": media_url})
    assert response.status_code == 400
    if fmt == "json":
        (error,) = response.get_json()
        code, description = error["code"], error["description"]
    else:
        root = ET.fromstring(response.data)  # noqa: S314 - our own server's answer
        assert root.tag == "errors"
        code, description = int(root.find("error/code").text), root.find("error/description").text
    assert code == 400
    assert description.startswith("media_url")
    after = (session.scalar(select(func.count(Contact.id))), session.scalar(select(func.count(Open311Details.id))))
    assert after == before


def test_a_media_url_stored_before_the_check_is_not_published(client, session, api_key):
    reference = _reference(client, api_key, PUBLIC)
    details = session.scalar(
        select(Open311Details)
        .join(Contact, Contact.id == Open311Details.contact_id)
        .join(Ticket, Ticket.id == Contact.ticket_id)
        .where(Ticket.reference == reference)
    )
    details.media_url = "javascript:alert(1)"
    session.commit()
    assert _record(client, reference)["media_url"] == ""


@pytest.mark.parametrize(
    ("text", "name", "published"),
    [
        ("Ring 040-34 10 00 eller +46 70 123 45 67.", None, "Ring […] eller […]."),
        ("Mitt personnummer är 850101-1234.", None, "Mitt personnummer är […]."),
        ("Svara till kim@example.se, tack", None, "Svara till […] tack"),
        ("Hälsningar, Kim Ek.", "Kim Ek", "Hälsningar, […] […]"),
        ("Lampa nr 12 vid Storgatan 5 sedan kl 14.30.", "Kim", "Lampa nr 12 vid Storgatan 5 sedan kl 14.30."),
        ("", "Kim", ""),
    ],
)
def test_personal_details_are_taken_out_of_a_public_text(text, name, published):
    assert without_personal_details(text, name) == published
