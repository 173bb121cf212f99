"""Casework: a partial index of the waiting tickets in "take next" order.

Revision ID: 0009_casework
Revises: 0003_routing
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_casework"
down_revision = "0003_routing"
branch_labels = None
depends_on = None

CLAIMABLE = sa.text("assignee_id IS NULL AND status IN ('new', 'open', 'escalated')")


def upgrade() -> None:
    # Without it every claim sorts the whole backlog: FOR UPDATE … LIMIT 1 cannot use a top-N sort.
    op.create_index(
        "ix_tickets_claimable",
        "tickets",
        [sa.text("priority DESC"), "first_arrived_at", "id"],
        postgresql_where=CLAIMABLE,
        sqlite_where=CLAIMABLE,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_claimable", table_name="tickets")
