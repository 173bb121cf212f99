"""Callbacks on the phone page show the number, or say it is withheld (issue 21: never `tel:None`)."""

from __future__ import annotations

from tests.channels.test_twilio_phone_page import _callback, _page, agent  # noqa: F401 - fixtures


def test_a_callback_without_a_number_says_it_is_withheld(twilio, session, agent, auth):  # noqa: F811
    contact = _callback(twilio, session, "+46731112299")
    contact.citizen_phone = None  # a caller with a hidden number
    session.commit()
    page = _page(auth)
    assert contact.ticket.reference in page
    assert "tel:None" not in page
    assert "Dolt nummer" in page
