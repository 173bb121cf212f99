"""The citizen pages: how personal data is handled (retention generated from the services'
settings) and the accessibility statement, in sv/en/ar, linked from the form, the receipt
and the confirmation messages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kontaktcenter.directory.models import Service
from kontaktcenter.notify.email import OUTBOX_KEY
from kontaktcenter.notify.transport import clear_recorded, recorded
from tests.conftest import csrf_token

LANGS = [
    ("sv", "ltr", "Så behandlar vi dina personuppgifter", "Tillgänglighetsredogörelse"),
    ("en", "ltr", "How we handle your personal data", "Accessibility statement"),
    ("ar", "rtl", "كيف نعالج بياناتك الشخصية", "بيان إمكانية الوصول"),
]


def _retention_section(page: str) -> str:
    return page.split('id="hur-lange"', 1)[1].split('id="rattigheter"', 1)[0]


def _group_of(section: str, service_name: str) -> str:
    """The heading of the retention group listing `service_name`."""
    for group in section.split('<section class="retention"')[1:]:
        if f">{service_name}</li>" in group:
            return re.search(r"<h3[^>]*>([^<]+)</h3>", group).group(1)
    raise AssertionError(f"{service_name} is in no retention group")


@pytest.mark.parametrize(("lang", "direction", "privacy_title", "accessibility_title"), LANGS)
def test_both_pages_in_each_language_with_lang_and_direction(
    client, lang, direction, privacy_title, accessibility_title
):
    for path, title in (("/personuppgifter", privacy_title), ("/tillganglighet", accessibility_title)):
        response = client.get(path, query_string={"lang": lang})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert f'<html lang="{lang}" dir="{direction}">' in page
        assert f"<h1>{title}</h1>" in page


def test_the_privacy_page_lists_each_active_service_under_its_retention_in_words(client, session):
    section = _retention_section(client.get("/personuppgifter").get_data(as_text=True))
    services = session.scalars(select(Service).where(Service.active.is_(True))).all()
    for service in services:
        assert f">{service.name_sv}</li>" in section, service.code
    assert _group_of(section, "Försörjningsstöd (ekonomiskt bistånd)") == "2 år efter att ärendet avslutats"
    assert _group_of(section, "Allmän fråga") == "6 månader efter att ärendet avslutats"
    assert _group_of(section, "Skolval") == "1 år efter att ärendet avslutats"
    assert "Då raderas ärendets text" in section  # the delete rule
    assert "Ärendet finns kvar utan personuppgifter" in section  # the anonymise rule
    assert "telefonnumret sparas i 1 år" in section


def test_the_privacy_page_follows_a_changed_retention_setting(client, session):
    skolval = session.scalar(select(Service).where(Service.code == "skolval"))
    skolval.retention_period, skolval.retention_action = "P1Y6M", "delete"
    session.commit()
    section = _retention_section(client.get("/personuppgifter").get_data(as_text=True))
    assert _group_of(section, "Skolval") == "1 år och 6 månader efter att ärendet avslutats"
    english = _retention_section(client.get("/personuppgifter?lang=en").get_data(as_text=True))
    assert _group_of(english, "School choice") == "1 year and 6 months after the case was closed"


def test_the_privacy_page_names_the_controller_the_dpo_and_the_personnummer_services(app, client, monkeypatch):
    monkeypatch.setitem(
        app.config,
        "citizen_pages",
        {**app.config["citizen_pages"], "controller": "Kommunstyrelsen", "dpo_email": "dso@lund.example"},
    )
    page = client.get("/personuppgifter").get_data(as_text=True)
    assert "Kommunstyrelsen i Malmö stad är personuppgiftsansvarig" in page
    assert 'href="mailto:dso@lund.example"' in page
    what = page.split('id="vad"', 1)[1].split('id="varfor"', 1)[0]
    assert ">Hemtjänst</li>" in what
    assert ">Skolval</li>" not in what
    assert "imy.se" in page


def test_the_accessibility_statement_follows_digg_s_model(client):
    page = client.get("/tillganglighet").get_data(as_text=True)
    for part in (
        "lagen (2018:1937) om tillgänglighet till digital offentlig service",
        "delvis förenliga",
        "Innehåll som inte är tillgängligt",
        "WCAG 3.1.2",
        "https://www.digg.se/tdosanmalan",
        "axe-core",
        "enbart tangentbord",
        "uppdaterades senast den 2026-12-03",
        'href="mailto:malmo.stad@malmo.se"',
    ):
        assert part in page, part


def test_arabic_pages_show_the_directory_s_arabic_service_names(client):
    page = client.get("/personuppgifter?lang=ar").get_data(as_text=True)
    assert "<li>خدمة المساعدة المنزلية</li>" in page
    assert "Home help services" not in page


def test_a_service_without_an_arabic_name_falls_back_to_swedish_marked_as_swedish(client, session):
    hemtjanst = session.scalar(select(Service).where(Service.code == "hemtjanst"))
    hemtjanst.name_ar = None
    session.commit()
    page = client.get("/personuppgifter?lang=ar").get_data(as_text=True)
    assert '<li lang="sv" dir="ltr">Hemtjänst</li>' in page


def test_the_form_and_the_receipt_link_to_both_pages(client):
    form = client.get("/kontakt").get_data(as_text=True)
    sent = client.post(
        "/kontakt",
        data={
            "service": "skolval",
            "text": "Hej",
            "reply_channel": "none",
            "csrf_token": csrf_token(client, "/kontakt"),
        },
    )
    receipt = client.get(sent.headers["Location"]).get_data(as_text=True)
    for page in (form, receipt):
        main = page.split('<main id="main"', 1)[1].split("</main>", 1)[0]
        assert 'href="/personuppgifter"' in main
        assert 'href="/tillganglighet"' in page  # the receipt in its text, the form in the footer
    assert 'href="/tillganglighet"' in receipt.split("</main>", 1)[0]


def test_the_confirmation_messages_link_the_pages(app, client, session):
    app.extensions.pop(OUTBOX_KEY, None)
    client.post(
        "/kontakt?lang=en",
        data={
            "service": "skolval",
            "text": "Hej",
            "reply_channel": "email",
            "email": "anna@example.se",
            "send_receipt": "y",
            "csrf_token": csrf_token(client, "/kontakt?lang=en"),
        },
    )
    (mail,) = app.extensions[OUTBOX_KEY]
    body = mail.get_content()
    assert "How we handle your personal data: http://localhost/personuppgifter?lang=en" in body
    assert "Accessibility statement: http://localhost/tillganglighet?lang=en" in body
    app.extensions.pop(OUTBOX_KEY, None)

    with app.app_context():
        clear_recorded()
    client.post(
        "/kontakt?lang=sv",
        data={
            "service": "skolval",
            "text": "Hej",
            "reply_channel": "sms",
            "phone": "0701234567",
            "send_receipt": "y",
            "csrf_token": csrf_token(client, "/kontakt?lang=sv"),
        },
    )
    with app.app_context():
        (sms,) = [r for r in recorded() if r.kind == "message"]
    assert sms.data["Body"].endswith("Personuppgifter: http://localhost/personuppgifter")
    assert "tillganglighet" not in sms.data["Body"]  # an SMS stays short: one link
