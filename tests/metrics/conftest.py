"""Helpers for the metrics tests: contacts with hand-set timestamps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.factories import at


@pytest.fixture
def phone_call(make_contact, session):
    """A call that reached the queue at `arrived` (local) with the given outcome and waits."""

    def make(
        arrived: str,
        outcome: str,
        *,
        wait: float = 0,
        talk: float = 0,
        callback_done: bool = False,
        service: str = "skolval",
    ):
        received = make_contact(channel="phone", service=service, arrived_at=at(arrived))
        contact = received.contact
        contact.outcome = outcome
        if outcome == "answered":
            contact.answered_at = contact.arrived_at + timedelta(seconds=wait)
            contact.ended_at = contact.answered_at + timedelta(seconds=talk)
        elif outcome != "ivr_dropped":
            contact.ended_at = contact.arrived_at + timedelta(seconds=wait)
        if callback_done:
            contact.callback_completed_at = contact.ended_at + timedelta(minutes=30)
        session.commit()
        return received

    return make


@pytest.fixture
def written(make_contact, session):
    def make(arrived: str, reply: str | None, *, channel: str = "web", service: str = "bygglov", **kw):
        received = make_contact(channel=channel, service=service, arrived_at=at(arrived), **kw)
        if reply:
            received.contact.first_response_at = at(reply)
        session.commit()
        return received

    return make


@pytest.fixture
def visit(make_contact, session):
    def make(
        arrived: str,
        outcome: str,
        *,
        wait: float = 0,
        location: str = "filial-rosengard",
        service: str = "utskrift-hjalp",
        **kw,
    ):
        received = make_contact(
            channel="walk_in", service=service, arrived_at=at(arrived), location_code=location, **kw
        )
        contact = received.contact
        contact.outcome = outcome
        if outcome == "served":
            contact.answered_at = contact.arrived_at + timedelta(seconds=wait)
            contact.ended_at = contact.answered_at + timedelta(minutes=10)
        else:
            contact.ended_at = contact.arrived_at + timedelta(seconds=wait or 600)
        session.commit()
        return received

    return make
