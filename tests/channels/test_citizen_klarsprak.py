"""The citizen form and receipt in klarspråk, in Swedish, English and Arabic (issue 21):
a valid personnummer example, every error in one round, honest answer times, a receipt
that says what was sent, who answers and by when; the language switch keeps the input."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from personnummer import personnummer
from sqlalchemy import func, select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import Ticket
from tests.conftest import csrf_token

TRANSLATIONS = Path(__file__).resolve().parents[2] / "kontaktcenter" / "translations"


def _counts(session):
    return session.scalar(select(func.count(Contact.id))), session.scalar(select(func.count(Ticket.id)))


def _send(client, lang="sv", **fields):
    data = {"service": "skolval", "text": "När öppnar skolvalet?", "reply_channel": "email", "email": "anna@example.se"}
    data.update(fields)
    data["csrf_token"] = csrf_token(client, f"/kontakt?lang={lang}")
    return client.post(f"/kontakt?lang={lang}", data=data)


def _receipt(client, lang="sv", **fields) -> str:
    sent = _send(client, lang, **fields)
    assert sent.status_code == 302, sent.get_data(as_text=True)
    return html.unescape(client.get(sent.headers["Location"]).get_data(as_text=True))


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
def test_the_personnummer_example_passes_the_form_s_own_check(client, lang):
    page = html.unescape(client.get(f"/kontakt?lang={lang}").get_data(as_text=True))
    help_text = re.search(r'id="personnummer-help">([^<]+)<', page).group(1)
    examples = re.findall(r"\d{8}-\d{4}", help_text)
    assert examples, help_text
    for example in examples:
        assert personnummer.valid(example), example


def test_the_example_is_accepted_when_sent(client, session):
    _send(client, service="forskoleplats", personnummer="19121212-1212")
    assert session.scalar(select(Contact).order_by(Contact.id.desc())).citizen_personnummer == "191212121212"


def test_every_error_comes_back_in_one_round(client, session):
    before = _counts(session)
    response = _send(
        client,
        service="",
        text="",
        reply_channel="sms",
        email="inte-en-adress",
        phone="12",
        personnummer="19900101-1234",  # the old example: fails Luhn
        name="n" * 201,
    )
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    for field in ("service", "text", "email", "phone", "personnummer", "name"):
        assert f'id="{field}-error"' in page, f"no error for {field} in the first round"
    summary = re.search(r'id="error-summary".*?</div>', page, re.S).group(0)
    assert summary.count("<li>") == 6
    assert _counts(session) == before


def test_an_unknown_service_is_named_with_the_other_errors(client, session):
    response = _send(client, service="finns-inte", email="fel")
    page = response.get_data(as_text=True)
    assert 'id="service-error"' in page
    assert 'id="email-error"' in page


def test_the_reply_address_it_needs_is_asked_for_with_the_other_errors(client):
    page = _send(client, text="", reply_channel="phone", email="").get_data(as_text=True)
    assert 'id="text-error"' in page
    assert "Skriv ditt telefonnummer, så att vi kan svara dig med SMS eller telefon." in page


def test_the_form_says_what_is_required_without_double_negatives_and_how_to_send_documents(client):
    page = html.unescape(client.get("/kontakt").get_data(as_text=True))
    for bad in ("göra ett ärende", "inte är märkta", "Du kan inte skicka bilagor här.", "Vi svarar inom en arbetsdag."):
        assert bad not in page, bad
    assert "Du måste välja vad frågan gäller, beskriva den och välja hur du vill få svar." in page
    # No attachments here, and the alternative: by post to the city's address (a setting), or in person.
    assert "Skicka sedan dokumenten med post till Malmö stad, 205 80 Malmö" in page
    # The answer time is honest: most within a day, longer when a department must answer.
    assert "svaret kan ta längre tid" in page
    assert "040-34 10 00" in page


@pytest.mark.parametrize("path", ["/kontakt?lang=en", "/personuppgifter?lang=en", "/tillganglighet?lang=en"])
def test_english_citizen_pages_never_say_errand(client, path):
    assert "errand" not in client.get(path).get_data(as_text=True).lower()


def test_the_english_receipt_says_request_not_errand(client):
    page = _receipt(client, "en")
    assert "errand" not in page.lower()
    assert "Thank you for your request" in page


def test_no_english_translation_says_errand():
    po = (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    msgstrs = re.findall(r'^msgstr "(.*)"$', po, re.M)
    assert [m for m in msgstrs if "errand" in m.lower()] == []


def test_the_receipt_summarises_what_was_sent_with_the_personnummer_masked(client):
    page = _receipt(
        client,
        service="forskoleplats",
        text="Vi behöver en förskoleplats i augusti.",
        name="Anna Andersson",
        personnummer="19121212-1212",
        needs=["interpreter"],
        interpreter_language="so",
    )
    summary = re.search(r'<dl class="facts summary">.*?</dl>', page, re.S).group(0)
    assert "Förskoleplats" in summary
    assert "Vi behöver en förskoleplats i augusti." in summary
    assert "Anna Andersson" in summary
    assert "anna@example.se" in summary
    assert "19121212-XXXX" in summary
    assert "1212121212" not in page
    assert "19121212-1212" not in page
    assert "Jag behöver tolk: somaliska" in summary
    assert 'lang="sv" dir="auto"' in summary  # the citizen's own text keeps its direction


def test_the_receipt_says_who_answers_how_and_by_when_for_the_contact_center(client, session):
    page = _receipt(client)
    ticket = session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    assert ticket.queue.kind == "first_line"
    assert "Kontaktcenter tar hand om din fråga." in page
    assert re.search(r"Vi svarar med e-post till .*anna@example\.se.* senast \d{1,2} \w+ 20\d\d\.", page)
    # What happens if it goes on to a department, and the phone number to call.
    assert "Om din fråga behöver en handläggare på en förvaltning skickar vi den dit." in page
    assert "Ring kontaktcenter på" in page
    assert "040-34 10 00" in page
    assert "data-print" in page
    assert "js/print.js" in page
    assert 'href="/personuppgifter"' in page
    assert 'href="/tillganglighet"' in page


def test_the_receipt_names_the_department_when_routing_sent_it_there(client, session):
    page = _receipt(client, service="forsorjningsstod", reply_channel="sms", phone="0701234567", email="")
    ticket = session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    assert ticket.queue.kind == "department"
    assert "Din fråga har skickats till Arbetsmarknads- och socialförvaltningen." in page
    assert "Kontaktcenter tar hand om" not in page
    assert re.search(r"Vi svarar med SMS till .*\+46701234567.* senast", page)


def test_the_arabic_receipt_names_the_department_in_arabic_and_isolates_numbers(client):
    page = _receipt(client, "ar", service="forsorjningsstod", reply_channel="sms", phone="0701234567", email="")
    assert "إدارة سوق العمل والخدمات الاجتماعية" in page
    assert '<bdi dir="ltr">+46701234567</bdi>' in page
    assert '<html lang="ar" dir="rtl">' in page


def test_the_receipt_without_an_answer_says_so_honestly(client):
    page = _receipt(client, reply_channel="none", email="")
    assert "Du har skrivit att du inte behöver något svar." in page
    assert "Vi svarar med" not in page


# -- switching language ------------------------------------------------------------


def _switch(client, to, **fields):
    data = {
        "service": "forskoleplats",
        "text": "Hej, jag undrar över platsen.",
        "email": "anna@example.se",
        "personnummer": "19121212-1212",
        "reply_channel": "email",
        "switch_lang": to,
        "csrf_token": csrf_token(client, "/kontakt"),
    }
    data.update(fields)
    return client.post(f"/kontakt?lang={to}", data=data)


def test_switching_language_keeps_every_typed_field_and_sends_nothing(client, session):
    before = _counts(session)
    response = _switch(client, "ar")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert '<html lang="ar" dir="rtl">' in page
    assert "Hej, jag undrar över platsen." in page
    assert 'value="anna@example.se"' in page
    assert 'value="19121212-1212"' in page  # in the page's body, never in a URL
    assert re.search(r'<option[^>]*\bselected\b[^>]*value="forskoleplats"', page)
    assert 'id="error-summary"' not in page
    assert _counts(session) == before


def test_the_language_buttons_never_put_the_input_in_a_url(client):
    page = html.unescape(client.get("/kontakt?q=skola").get_data(as_text=True))
    actions = re.findall(r'formaction="([^"]+)"', page)
    assert sorted(actions) == ["/kontakt?lang=ar&q=skola", "/kontakt?lang=en&q=skola", "/kontakt?lang=sv&q=skola"]
    assert re.search(r'<button type="submit" form="contact-form"[^>]*value="ar"', page)


def test_switching_does_not_use_up_the_form_s_rate_limit(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_CONTACT_FORM", "2 per hour")
    for _ in range(4):
        assert _switch(client, "en").status_code == 200
    assert _send(client).status_code == 302


def test_switching_without_a_csrf_token_is_refused(client, session):
    before = _counts(session)
    response = client.post("/kontakt?lang=en", data={"switch_lang": "en", "text": "hej"})
    assert response.status_code == 400
    assert _counts(session) == before


def test_an_unknown_language_in_the_switch_is_a_plain_send(client, session):
    # Not a switch: validated like any sending (here: the text is missing), nothing stored.
    before = _counts(session)
    response = _switch(client, "xx", text="")
    assert response.status_code == 400
    assert _counts(session) == before


def test_switching_with_a_nul_byte_is_refused_and_stores_nothing(client, session):
    before = _counts(session)
    response = _switch(client, "en", text="hej\x00då")
    assert response.status_code == 400
    assert _counts(session) == before


def test_switching_with_over_long_text_keeps_it_without_an_error_until_sent(client, session):
    before = _counts(session)
    response = _switch(client, "en", text="x" * 6000)
    assert response.status_code == 200
    assert _counts(session) == before
    sent = _send(client, "en", text="x" * 6000)
    assert sent.status_code == 400
    assert "The description may be at most 5000 characters." in sent.get_data(as_text=True)


# -- the look: wordmark, hidden things without offsets ----------------------------------


def test_the_header_shows_the_city_s_name_and_logo_from_the_settings(app, client, monkeypatch):
    brand = app.jinja_env.globals["brand"]
    monkeypatch.setitem(brand, "organisation", "Lunds kommun")
    monkeypatch.setitem(brand, "logo", "logo.svg")
    page = client.get("/kontakt").get_data(as_text=True)
    assert '<span class="brand-name">Lunds kommun</span>' in page
    assert 'src="/static/logo.svg"' in page
    assert "– Lunds kommun</title>" in page


def test_no_stylesheet_rule_moves_anything_off_the_page():
    css = (Path(__file__).resolve().parents[2] / "kontaktcenter" / "static" / "style.css").read_text()
    assert not re.search(r"(left|right|inset-inline-start|inset-inline-end)\s*:\s*-\d{3,}", css)
    assert not re.search(r'class="hp"', (TRANSLATIONS.parent / "templates" / "channels" / "kontakt.html").read_text())
