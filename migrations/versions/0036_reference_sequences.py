"""On PostgreSQL, reference numbers come from one sequence per year (tickets/references.py):
the years already counted in reference_counters get theirs, starting after the last number
handed out. SQLite keeps counting in reference_counters; nothing changes there.

Revision ID: 0036_reference_sequences
Revises: 0035_transfer_agent_left
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036_reference_sequences"
down_revision = "0035_transfer_agent_left"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for year, value in bind.execute(sa.text("SELECT year, value FROM reference_counters")).all():
        op.execute(f"CREATE SEQUENCE IF NOT EXISTS ticket_reference_{int(year):d} START WITH {int(value) + 1:d}")


def downgrade() -> None:
    """Back to the counters: each year's last number taken, then the sequences dropped."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    names = bind.execute(
        sa.text("SELECT sequencename FROM pg_sequences WHERE sequencename ~ '^ticket_reference_[0-9]+$'")
    ).scalars()
    for name in list(names):
        year = int(name.removeprefix("ticket_reference_"))
        last = bind.execute(sa.text(f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {name}"))
        bind.execute(
            sa.text(
                "INSERT INTO reference_counters (year, value) VALUES (:year, :value) "
                "ON CONFLICT (year) DO UPDATE SET value = GREATEST(reference_counters.value, EXCLUDED.value)"
            ),
            {"year": year, "value": last.scalar_one()},
        )
        op.execute(f"DROP SEQUENCE {name}")
