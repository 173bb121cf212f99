"""Ticket references KC-<year>-<6 digits>: unique, consecutive per year."""

import re

from kontaktcenter.tickets.service import format_reference, next_reference_numbers
from tests.fixtures.factories import at


def test_reference_format(make_contact):
    received = make_contact(arrived_at=at("2026-03-02 10:00"))
    assert re.fullmatch(r"KC-2026-\d{6}", received.ticket.reference)


def test_references_are_consecutive_within_a_year(session):
    first = next_reference_numbers(session, 2031)
    block = next_reference_numbers(session, 2031, 3)
    assert first == [1]
    assert block == [2, 3, 4]
    assert format_reference(2031, 4) == "KC-2031-000004"


def test_new_year_starts_again(session):
    next_reference_numbers(session, 2032, 5)
    assert next_reference_numbers(session, 2033) == [1]
