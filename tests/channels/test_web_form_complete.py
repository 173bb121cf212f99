"""The complete citizen form: catalogue, personnummer, needs, languages, honeypot, rate limit, receipts."""

import re

import pytest
from sqlalchemy import func, select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.notify.email import OUTBOX_KEY
from kontaktcenter.tickets.models import Message, Ticket
from tests.conftest import csrf_token


def _post(client, lang="sv", **fields):
    data = {"service": "skolval", "text": "När öppnar skolvalet?", "reply_channel": "email", "email": "anna@example.se"}
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    data["csrf_token"] = csrf_token(client, f"/kontakt?lang={lang}")
    return client.post(f"/kontakt?lang={lang}", data=data)


def _counts(session):
    return session.scalar(select(func.count(Contact.id))), session.scalar(select(func.count(Ticket.id)))


def _last_contact(session):
    return session.scalar(select(Contact).order_by(Contact.id.desc()))


# Every field's validation, in the language the citizen chose.
CASES = [
    (
        "service",
        {"service": ""},
        {"sv": "Välj vad ditt ärende gäller.", "en": "Choose what your request is about.", "ar": "اختر موضوع طلبك."},
    ),
    (
        "service",
        {"service": "finns-inte"},
        {"sv": "Välj en tjänst i listan.", "en": "Choose a service from the list.", "ar": "اختر خدمة من القائمة."},
    ),
    ("text", {"text": ""}, {"sv": "Beskriv ditt ärende.", "en": "Describe your request.", "ar": "صف طلبك."}),
    (
        "text",
        {"text": "x" * 5001},
        {
            "sv": "Beskrivningen får vara högst 5000 tecken.",
            "en": "The description may be at most 5000 characters.",
            "ar": "يجب ألا يتجاوز الوصف 5000 حرفاً.",
        },
    ),
    (
        "reply_channel",
        {"reply_channel": "brevduva"},
        {"sv": "Välj ett av alternativen.", "en": "Choose one of the options.", "ar": "اختر أحد الخيارات."},
    ),
    (
        "name",
        {"name": "n" * 201},
        {
            "sv": "Namnet får vara högst 200 tecken.",
            "en": "The name may be at most 200 characters.",
            "ar": "يجب ألا يتجاوز الاسم 200 حرفاً.",
        },
    ),
    (
        "email",
        {"email": "inte-en-adress"},
        {
            "sv": "Skriv en giltig e-postadress",
            "en": "Enter a valid e-mail address",
            "ar": "اكتب عنوان بريد إلكتروني صحيحاً",
        },
    ),
    (
        "phone",
        {"reply_channel": "sms", "phone": "12"},
        {"sv": "Skriv ett giltigt telefonnummer", "en": "Enter a valid phone number", "ar": "اكتب رقم هاتف صحيحاً"},
    ),
    (
        "personnummer",
        {"service": "forskoleplats", "personnummer": "19900101-1234"},
        {
            "sv": "Skriv ett giltigt personnummer eller samordningsnummer",
            "en": "Enter a valid personal identity number or coordination number",
            "ar": "اكتب رقماً شخصياً أو رقم تنسيق صحيحاً",
        },
    ),
    (
        "needs",
        {"needs": "telepati"},
        {
            "sv": "Välj bland alternativen i listan.",
            "en": "Choose from the options in the list.",
            "ar": "اختر من الخيارات في القائمة.",
        },
    ),
    (
        "interpreter_language",
        {"needs": "interpreter"},
        {
            "sv": "Välj vilket språk du behöver tolk på.",
            "en": "Choose the language you need an interpreter for.",
            "ar": "اختر اللغة التي تحتاج مترجماً فورياً لها.",
        },
    ),
    (
        "send_receipt",
        {"send_receipt": "y", "email": "", "reply_channel": "none"},
        {
            "sv": "Skriv din e-postadress eller ditt mobilnummer för att få en bekräftelse.",
            "en": "Enter your e-mail address or mobile number to get a confirmation.",
            "ar": "اكتب بريدك الإلكتروني أو رقم جوالك لتصلك رسالة تأكيد.",
        },
    ),
]


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
@pytest.mark.parametrize(("field", "fields", "messages"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_field_is_validated_in_the_chosen_language(client, session, lang, field, fields, messages):
    before = _counts(session)
    response = _post(client, lang=lang, **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert messages[lang] in page
    # The message sits next to its field and the field points at it for screen readers.
    assert re.search(rf'id="{field}-error"', page), f"no inline error for {field}"
    assert 'role="alert"' in page
    assert _counts(session) == before


def test_arabic_form_is_right_to_left(client):
    page = client.get("/kontakt?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    assert "اتصل ببلدية مالمو" in page
    # The language switch is a button of the form itself, so the typed text comes along.
    assert 'name="switch_lang" value="ar"' in page


def test_services_are_grouped_and_walk_in_topics_left_out(client):
    page = client.get("/kontakt").get_data(as_text=True)
    assert '<optgroup label="Förskola och skola">' in page
    assert '<option value="skolval">Skolval</option>' in page
    assert "utskrift-hjalp" not in page


def test_search_narrows_the_service_list_without_javascript(client):
    page = client.get("/kontakt?q=bygglov").get_data(as_text=True)
    assert 'value="bygglov"' in page
    assert 'value="skolval"' not in page
    assert "Visar 1 av" in page


def test_samordningsnummer_is_accepted_where_the_service_needs_it(client, session):
    assert _post(client, service="forskoleplats", personnummer="19850769-9802").status_code == 302
    assert _last_contact(session).citizen_personnummer == "198507699802"


def test_personnummer_is_not_kept_for_a_service_that_does_not_need_it(client, session):
    assert _post(client, service="skolval", personnummer="19850709-9805").status_code == 302
    assert _last_contact(session).citizen_personnummer is None


def test_needs_and_interpreter_language_are_stored(client, session):
    response = _post(client, needs=["interpreter", "hearing"], interpreter_language="ti")
    assert response.status_code == 302
    contact = _last_contact(session)
    assert contact.needs == ["interpreter", "hearing"]
    assert contact.interpreter_language == "ti"


def test_sms_answer_needs_a_phone_number(client, session):
    before = _counts(session)
    response = _post(client, reply_channel="sms", email="")
    assert response.status_code == 400
    assert "Skriv ditt telefonnummer, så att vi kan svara dig med SMS eller telefon." in response.get_data(as_text=True)
    assert _counts(session) == before


def test_honeypot_keeps_nothing(client, session):
    before = _counts(session)
    response = _post(client, website="http://spam.example")
    assert response.status_code == 400
    assert "Inget har sparats." in response.get_data(as_text=True)
    assert _counts(session) == before


def test_posts_beyond_the_rate_limit_are_refused(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_CONTACT_FORM", "3 per hour")
    statuses = [_post(client).status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    # Reading the form is never limited.
    assert client.get("/kontakt").status_code == 200


def test_rate_limit_page_speaks_the_chosen_language(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_CONTACT_FORM", "1 per hour")
    _post(client, lang="en")
    response = _post(client, lang="en")
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_receipt_by_email_is_automatic_and_not_a_first_response(app, client, session):
    response = _post(client, send_receipt="y", lang="en")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    reference = re.search(r"KC-\d{4}-\d{6}", page).group(0)
    assert "We have sent a confirmation to your e-mail." in page
    (mail,) = app.extensions[OUTBOX_KEY]
    assert mail["To"] == "anna@example.se"
    assert mail["Subject"].startswith(f"[{reference}]")
    assert reference in mail.get_content()
    assert "automatic" in mail.get_content()
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
    (message,) = session.scalars(select(Message).where(Message.ticket_id == ticket.id)).all()
    assert message.automatic
    assert message.kind == "reply"
    assert message.channel == "email"
    assert ticket.contacts[0].first_response_at is None


def test_receipt_by_sms_goes_to_the_mobile(app, client, session):
    response = _post(client, send_receipt="y", reply_channel="sms", email="", phone="070-123 45 67")
    assert "Vi har skickat en bekräftelse med SMS." in client.get(response.headers["Location"]).get_data(as_text=True)
    message = session.scalar(select(Message).order_by(Message.id.desc()))
    assert message.channel == "sms"
    assert message.recipient == "+46701234567"
    assert message.automatic


def test_no_receipt_unless_asked(app, client, session):
    _post(client)
    assert not app.extensions.get(OUTBOX_KEY)


def test_personnummer_help_names_the_services_that_use_it(client, session):
    from kontaktcenter.directory.models import Service

    needing = session.scalars(
        select(Service).where(Service.requires_personnummer.is_(True), Service.active.is_(True))
    ).all()
    assert needing
    page = client.get("/kontakt?lang=en").get_data(as_text=True)
    for service in needing:
        assert service.name_en in page
        assert f'data-personnummer="1" value="{service.code}"' in page
    assert 'data-personnummer="1" value="skolval"' not in page


def test_behind_a_trusted_proxy_each_citizen_has_their_own_limit(app, database_url):
    from kontaktcenter.app import create_app
    from kontaktcenter.database import ENGINE_KEY

    proxied = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "t",
            "RATELIMIT_ENABLED": True,
            "TRUSTED_PROXIES": 1,
            "RATELIMIT_CONTACT_FORM": "1 per hour",
            "WTF_CSRF_ENABLED": False,
        }
    )
    client = proxied.test_client()

    def spam_from(address):  # the honeypot is filled: nothing is stored, the post still counts
        return client.post("/kontakt", data={"website": "x"}, headers={"X-Forwarded-For": address}).status_code

    try:
        assert [spam_from("198.51.100.7"), spam_from("198.51.100.7")] == [400, 429]
        # Another citizen behind the same load balancer is not blocked by the first one.
        assert spam_from("203.0.113.9") == 400
    finally:
        proxied.extensions[ENGINE_KEY].dispose()
