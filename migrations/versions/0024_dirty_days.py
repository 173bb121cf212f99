"""Dirty days (metric_dirty_days): past local days whose figures changed after their
rollup, marked in the same transaction as the change and recomputed by the rollup job
(METRICS.md "Output rules": never stale). The citizen identifiers' indexes become
(identifier, service_id, arrived_at), so the repeat-contact rule (METRICS.md
"Resolution") finds a citizen's later contacts on a service with one index probe; the
imported citizen_key gets one too.

Revision ID: 0024_dirty_days
Revises: 0023_report_exports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_dirty_days"
down_revision = "0023_report_exports"
branch_labels = None
depends_on = None

IDENTIFIERS = ("citizen_phone", "citizen_email", "citizen_personnummer", "citizen_key")
OLD_INDEXES = ("citizen_phone", "citizen_email", "citizen_personnummer")


def upgrade() -> None:
    op.create_table(
        "metric_dirty_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_dirty_days")),
    )
    op.create_index("ix_metric_dirty_days_day", "metric_dirty_days", ["day"], unique=False)
    with op.batch_alter_table("contacts") as batch:
        for column in OLD_INDEXES:
            batch.drop_index(f"ix_contacts_{column}")
        for column in IDENTIFIERS:
            batch.create_index(f"ix_contacts_repeat_{column}", [column, "service_id", "arrived_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        for column in IDENTIFIERS:
            batch.drop_index(f"ix_contacts_repeat_{column}")
        for column in OLD_INDEXES:
            batch.create_index(f"ix_contacts_{column}", [column], unique=False)
    op.drop_index("ix_metric_dirty_days_day", table_name="metric_dirty_days")
    op.drop_table("metric_dirty_days")
