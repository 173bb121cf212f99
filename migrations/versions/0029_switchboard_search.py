"""The switchboard directory's search: pg_trgm and trigram GiST indexes on PostgreSQL.

GiST rather than GIN: the search asks for the entries nearest to what was said or typed
(`ORDER BY … <-> …  LIMIT k`), which only GiST answers from the index; with GIN every
entry sharing a common trigram (every "-sson") had to be scored, 10–20 times slower at 5,000 staff.

Where the extension cannot be created (no rights, not installed) the migration carries on
without it and the search ranks with rapidfuzz instead (switchboard/directory.py). On
SQLite, plain indexes for what the directory pages and the import look up.

Revision ID: 0029_switchboard_search
Revises: 0028_call_transfer_legs
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0029_switchboard_search"
down_revision = "0028_call_transfer_legs"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# The same expressions as kontaktcenter/switchboard/directory.py's NAME and DESCRIPTION.
NAME = "lower(name)"
DESCRIPTION = "lower(title || ' ' || unit || ' ' || keywords)"


def _trigrams_available(bind) -> bool:
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar():
        return True
    try:
        # In a savepoint: a refusal (no CREATE rights, extension not installed) must not
        # abort the migration's transaction.
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm could not be created (%s); the staff search falls back to rapidfuzz", exc.orig)
        return False
    return True


def upgrade() -> None:
    op.create_index("ix_staff_members_department_active", "staff_members", ["department_id", "active"])
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _trigrams_available(bind):
        return
    op.execute(f"CREATE INDEX ix_staff_members_search_trgm ON staff_members USING gist (({DESCRIPTION}) gist_trgm_ops)")
    op.execute(f"CREATE INDEX ix_staff_members_name_trgm ON staff_members USING gist (({NAME}) gist_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_staff_members_name_trgm")
        op.execute("DROP INDEX IF EXISTS ix_staff_members_search_trgm")
    # The extension stays: other databases' objects may use it, and it costs nothing idle.
    op.drop_index("ix_staff_members_department_active", table_name="staff_members")
