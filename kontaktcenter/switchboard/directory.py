"""Searching the switchboard directory: by name, title, unit or keyword, forgiving typos.

PostgreSQL ranks with `pg_trgm` (trigram similarity; the GiST indexes of migration 0029
find the nearest entries without reading the whole directory); where the extension is missing (it could not be created) and on SQLite
the ranking is done with `rapidfuzz` over the active staff. Both give a score between
0 and 1 so the name dialling can tell a clear match from a doubtful one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz
from sqlalchemy import Integer, select, text
from sqlalchemy.orm import Session, joinedload

from .models import StaffMember

# Below this score a row is not a result at all (both engines' scores are 0..1).
MIN_SCORE = 0.45
# A search text longer than this is no name or keyword anybody says or types.
MAX_QUERY = 200
# A keyword or name word scores against the best-matching word of the entry; this is
# what a hit on the name is worth over a hit on a keyword, title or unit.
OTHER_FIELD_WEIGHT = 0.95

_WORD = re.compile(r"\w+", re.UNICODE)

# The same expressions as the indexes' in migration 0029 (the planner matches them literally).
NAME = "lower(name)"
DESCRIPTION = "lower(title || ' ' || unit || ' ' || keywords)"
# How many nearest entries each index gives (by name, by description) before they are scored.
CANDIDATES = 30

# Two nearest-neighbour scans of the GiST trigram indexes: only the few entries closest by
# name and by title, unit or keyword are read, however large the directory. They are then
# scored like SQLite's (fuzzy_score), so a score means the same on both databases and the
# name dialling's confidence does not depend on the engine. Built from this module's
# constants only; values are bound.
_PG_CANDIDATES = text(
    f"""
    (SELECT id FROM staff_members
      WHERE active AND (CAST(:department_id AS integer) IS NULL OR department_id = :department_id)
      ORDER BY {NAME} <-> :q LIMIT :k)
    UNION
    (SELECT id FROM staff_members
      WHERE active AND (CAST(:department_id AS integer) IS NULL OR department_id = :department_id)
      ORDER BY :q <<-> {DESCRIPTION} LIMIT :k)
    """  # noqa: S608
)


@dataclass(frozen=True)
class Match:
    """One result and how well it matched (0..1)."""

    staff: StaffMember
    score: float


def normalise(raw: str) -> str:
    """The words of a search, lower case, single spaces (speech results end in a full stop)."""
    return " ".join(_WORD.findall((raw or "").replace("\x00", " ")[:MAX_QUERY].lower()))


def search(session: Session, text: str, *, department_id: int | None = None, limit: int = 10) -> list[StaffMember]:
    """Active staff whose name, title, unit or keywords match `text`, best first.

    Each result's `absent` property says whether an absence notice is in force now; its
    department and alternative are loaded.
    """
    return [m.staff for m in search_scored(session, text, department_id=department_id, limit=limit)]


def search_scored(session: Session, text: str, *, department_id: int | None = None, limit: int = 10) -> list[Match]:
    """`search` with each result's score, for a caller that must judge how sure it is."""
    query = normalise(text)
    if not query or limit <= 0:
        return []
    if _has_trigrams(session):
        return _search_trigram(session, query, department_id, limit)
    return _search_fuzzy(session, query, department_id, limit)


def _has_trigrams(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return False
    # Asked once per database connection (kept with it in the pool), not on every search.
    info = session.connection().info
    if "pg_trgm" not in info:
        info["pg_trgm"] = bool(session.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")))
    return info["pg_trgm"]


def _search_trigram(session: Session, query: str, department_id: int | None, limit: int) -> list[Match]:
    params = {"q": query, "department_id": department_id, "k": max(CANDIDATES, 3 * limit)}
    candidates = _PG_CANDIDATES.columns(id=Integer).subquery("candidates")
    # Plain rows to score (no ORM objects for the candidates that will not be shown).
    stmt = select(StaffMember.id, StaffMember.name, StaffMember.title, StaffMember.unit, StaffMember.keywords).join(
        candidates, candidates.c.id == StaffMember.id
    )
    return _ranked(session, query, session.execute(stmt, params), limit)


def _search_fuzzy(session: Session, query: str, department_id: int | None, limit: int) -> list[Match]:
    stmt = select(StaffMember.id, StaffMember.name, StaffMember.title, StaffMember.unit, StaffMember.keywords).where(
        StaffMember.active.is_(True)
    )
    if department_id is not None:
        stmt = stmt.where(StaffMember.department_id == department_id)
    return _ranked(session, query, session.execute(stmt), limit)


def _ranked(session: Session, query: str, rows, limit: int) -> list[Match]:
    """The rows scored by `fuzzy_score`, the best `limit` of them loaded as staff."""
    scored = []
    for row in rows:
        score = fuzzy_score(query, row.name, " ".join((row.title, row.unit, row.keywords)))
        if score >= MIN_SCORE:
            scored.append((score, row.name, row.id))
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    return _with_staff(session, [(staff_id, score) for score, _name, staff_id in scored[:limit]])


def fuzzy_score(query: str, name: str, other: str) -> float:
    """How well `query` matches a person (0..1): the whole name, or each word of the query
    against the best word of the name, title, unit and keywords."""
    name = normalise(name)
    whole_name = fuzz.token_sort_ratio(query, name) / 100
    words = _WORD.findall(f"{name} {normalise(other)}")
    if not words:
        return whole_name
    per_word = [max(fuzz.ratio(word, candidate) for candidate in words) / 100 for word in query.split()]
    return max(whole_name, OTHER_FIELD_WEIGHT * sum(per_word) / len(per_word))


def _with_staff(session: Session, rows: list[tuple[int, float]]) -> list[Match]:
    if not rows:
        return []
    staff = {
        s.id: s
        for s in session.scalars(
            select(StaffMember)
            .where(StaffMember.id.in_([staff_id for staff_id, _score in rows]))
            .options(joinedload(StaffMember.department), joinedload(StaffMember.alternative))
        )
    }
    return [Match(staff[staff_id], round(score, 4)) for staff_id, score in rows if staff_id in staff]
