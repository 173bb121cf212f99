"""The web-form receipt is shown once: not again on a reload or the back button, and not kept in the session cookie."""

from __future__ import annotations

import re

from tests.conftest import csrf_token


def _session_cookie(app, client) -> dict:
    cookie = client.get_cookie("session")
    if cookie is None:
        return {}
    return dict(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def test_the_receipt_is_shown_once_and_the_cookie_keeps_nothing_of_it(app, client, session):
    data = {
        "service": "skolval",
        "text": "När öppnar skolvalet?",
        "reply_channel": "none",
        "csrf_token": csrf_token(client, "/kontakt"),
    }
    sent = client.post("/kontakt", data=data)
    assert sent.status_code == 302
    first = client.get(sent.headers["Location"])
    page = first.get_data(as_text=True)
    reference = re.search(r"KC-\d{4}-\d{6}", page).group(0)
    code = re.search(r'class="receipt-code">([^<]+)<', page).group(1)
    assert first.headers["Cache-Control"] == "no-store"

    cookie = _session_cookie(app, client)
    assert "receipt" not in cookie
    assert "receipt_sent" not in cookie
    assert reference not in repr(cookie)

    # A reload, or the back button (the page is not cached, so the browser asks again).
    again = client.get(sent.headers["Location"])
    assert again.status_code == 302
    assert again.headers["Location"].startswith("/kontakt")
    form = client.get(again.headers["Location"]).get_data(as_text=True)
    assert reference not in form
    assert code not in form
    assert reference not in repr(_session_cookie(app, client))


def test_the_receipt_page_without_a_receipt_goes_to_the_form_in_its_language(client):
    response = client.get("/kontakt/kvitto?lang=ar")
    assert response.status_code == 302
    assert response.headers["Location"] == "/kontakt?lang=ar"
