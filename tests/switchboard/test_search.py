"""Searching the switchboard directory: typos forgiven, keywords, only active staff, absences flagged.

The same tests run on SQLite (rapidfuzz) and on PostgreSQL (pg_trgm): set KC_TEST_DATABASE_URL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from kontaktcenter.database import utcnow
from kontaktcenter.switchboard.directory import search, search_scored


@pytest.fixture
def staff(make_staff):
    return {
        "anna": make_staff(
            "Anna Svensson", title="Bygglovshandläggare", unit="Bygglov väster", keywords="bygglov, marklov"
        ),
        "johan": make_staff("Johan Lindqvist", title="Miljöinspektör", dept="miljo", keywords="buller, avlopp"),
        "sara": make_staff("Sara Nilsson", title="Bibliotekarie", dept="kultur", unit="Stadsbiblioteket"),
        "anders": make_staff("Anders Svensson", title="Skolvalshandläggare", dept="grundskola", keywords="skolval"),
        "gone": make_staff("Olle Svensk", title="Vaktmästare", active=False),
    }


def test_a_misspelt_name_finds_the_person(session, staff):
    results = search(session, "Ana Svenson")
    assert results[0] is staff["anna"]


def test_a_keyword_finds_the_person_who_answers_on_it(session, staff):
    assert search(session, "bygglov")[0] is staff["anna"]
    assert search(session, "avlopp")[0] is staff["johan"]


def test_a_misspelt_keyword_still_finds(session, staff):
    assert search(session, "skolvall")[0] is staff["anders"]


def test_title_and_unit_are_searched(session, staff):
    assert search(session, "bibliotekarie")[0] is staff["sara"]
    assert search(session, "stadsbiblioteket")[0] is staff["sara"]


def test_inactive_staff_are_never_found(session, staff):
    assert staff["gone"] not in search(session, "Olle Svensk")


def test_unrelated_text_finds_nobody(session, staff):
    assert search(session, "xqzw plmk") == []


def test_empty_nul_and_over_long_text_find_nobody_without_error(session, staff):
    assert search(session, "") == []
    assert search(session, "   ") == []
    assert search(session, "\x00") == []
    assert isinstance(search(session, "Anna " * 5000), list)


def test_department_and_limit_narrow_the_results(session, staff):
    in_kultur = search(session, "Svensson", department_id=staff["sara"].department_id)
    assert staff["anna"] not in in_kultur
    assert staff["anders"] not in in_kultur
    assert len(search(session, "Svensson", limit=1)) == 1
    assert search(session, "Svensson", limit=0) == []


def test_absent_staff_are_found_and_flagged(session, staff, make_staff):
    away = make_staff(
        "Karin Berg",
        title="Enhetschef",
        absent_until=utcnow() + timedelta(days=3),
        absence_message="Föräldraledig",
        alternative=staff["anna"],
    )
    found = search(session, "Karin Berg")
    assert found[0] is away
    assert found[0].absent
    assert found[0].alternative is staff["anna"]
    assert not staff["anna"].absent


def test_an_exact_name_leads_clearly_over_a_similar_one(session, staff):
    matches = search_scored(session, "Anna Svensson")
    assert matches[0].staff is staff["anna"]
    assert matches[0].score >= 0.9
    assert len(matches) == 1 or matches[0].score - matches[1].score >= 0.1


@pytest.mark.postgres
def test_postgresql_finds_the_nearest_entries_through_the_trigram_indexes(session, staff):
    names = set(session.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'staff_members'")))
    assert {"ix_staff_members_search_trgm", "ix_staff_members_name_trgm"} <= names
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        session.scalars(
            text(
                "EXPLAIN SELECT id FROM staff_members "
                "ORDER BY 'bygglov' <<-> lower(title || ' ' || unit || ' ' || keywords) LIMIT 10"
            )
        )
    )
    assert "ix_staff_members_search_trgm" in plan
    plan = "\n".join(
        session.scalars(text("EXPLAIN SELECT id FROM staff_members ORDER BY lower(name) <-> 'anna' LIMIT 10"))
    )
    assert "ix_staff_members_name_trgm" in plan
