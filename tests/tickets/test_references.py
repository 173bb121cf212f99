"""Ticket references KC-<year>-<6 digits>: unique, numbered per year in the order taken.

On PostgreSQL from a sequence per year: taking a number waits for no other transaction, and
a number taken by a transaction that rolled back is never handed out again."""

import re

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from kontaktcenter.commands import alembic_config, upgrade_database
from kontaktcenter.database import ENGINE_KEY
from kontaktcenter.tickets.references import format_reference, next_reference_numbers
from tests.conftest import PG_URL, _drop_postgres, _fresh_postgres
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


@pytest.mark.postgres
def test_concurrent_intakes_take_numbers_without_waiting_for_each_other(app):
    engine = app.extensions[ENGINE_KEY]
    with engine.connect() as first, engine.connect() as second:
        first.begin()
        second.begin()
        (taken_first,) = next_reference_numbers(first, 2036)
        # With a counter row the second would wait for the first's commit; here it may not wait at all.
        second.exec_driver_sql("SET LOCAL lock_timeout = '100ms'")
        taken_second = next_reference_numbers(second, 2036, 2)
        assert taken_second == [taken_first + 1, taken_first + 2]
        second.commit()
        first.commit()


@pytest.mark.postgres
def test_a_number_taken_by_a_transaction_that_rolled_back_is_never_handed_out_again(app):
    engine = app.extensions[ENGINE_KEY]
    with engine.connect() as connection:
        with connection.begin() as transaction:
            (lost,) = next_reference_numbers(connection, 2037)
            transaction.rollback()
        with connection.begin():
            assert next_reference_numbers(connection, 2037) == [lost + 1]


@pytest.mark.postgres
def test_upgrading_continues_each_counted_year_after_its_last_number_and_downgrading_keeps_the_count():
    url = _fresh_postgres(PG_URL)
    engine = create_engine(url)
    try:
        upgrade_database(url, "0035_transfer_agent_left")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO reference_counters (year, value) VALUES (2025, 41), (2026, 7)"))
        upgrade_database(url)
        with engine.begin() as connection:
            assert next_reference_numbers(connection, 2025, 2) == [42, 43]
            assert next_reference_numbers(connection, 2026) == [8]
            assert next_reference_numbers(connection, 2027) == [1]  # a year not counted before
        command.downgrade(alembic_config(url), "0035_transfer_agent_left")
        with engine.begin() as connection:
            counted = dict(connection.execute(text("SELECT year, value FROM reference_counters")).all())
            sequences = connection.execute(
                text("SELECT count(*) FROM pg_sequences WHERE sequencename ~ '^ticket_reference_'")
            )
            assert counted == {2025: 43, 2026: 8, 2027: 1}
            assert sequences.scalar_one() == 0
    finally:
        engine.dispose()
        _drop_postgres(url)
