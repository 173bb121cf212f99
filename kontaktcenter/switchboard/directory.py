"""Searching the switchboard directory by name, title or keyword (a simple LIKE search)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from .models import StaffMember

MAX_SEARCH_LENGTH = 200


def search(session: Session, text: str, limit: int = 10) -> list[StaffMember]:
    """Active employees whose name, title or keywords contain every word of `text` (any case)."""
    words = text.strip()[:MAX_SEARCH_LENGTH].lower().split()
    if not words:
        return []
    stmt = select(StaffMember).where(StaffMember.active.is_(True))
    for word in words:
        # The user's words are data, not a pattern: % and _ match themselves.
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                func.lower(StaffMember.name).like(pattern, escape="\\"),
                func.lower(StaffMember.title).like(pattern, escape="\\"),
                func.lower(StaffMember.keywords).like(pattern, escape="\\"),
            )
        )
    stmt = stmt.options(joinedload(StaffMember.alternative), joinedload(StaffMember.department))
    return list(session.scalars(stmt.order_by(StaffMember.name, StaffMember.id).limit(limit)))
