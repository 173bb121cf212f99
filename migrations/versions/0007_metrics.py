"""metrics: daily rollups of the additive metric counts

Revision ID: 0007_metrics
Revises: 0005_channels
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontaktcenter.database

revision = "0007_metrics"
down_revision = "0005_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service", sa.String(length=60), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("location", sa.String(length=60), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("phone_queued", sa.Integer(), nullable=False),
        sa.Column("phone_short_abandoned", sa.Integer(), nullable=False),
        sa.Column("phone_answered", sa.Integer(), nullable=False),
        sa.Column("callbacks_requested", sa.Integer(), nullable=False),
        sa.Column("callbacks_completed", sa.Integer(), nullable=False),
        sa.Column("answered_within_target", sa.Integer(), nullable=False),
        sa.Column("answered_wait_sum", sa.Float(), nullable=False),
        sa.Column("aht_sum", sa.Float(), nullable=False),
        sa.Column("aht_n", sa.Integer(), nullable=False),
        sa.Column("written_received", sa.Integer(), nullable=False),
        sa.Column("written_due", sa.Integer(), nullable=False),
        sa.Column("responded_within_1wd", sa.Integer(), nullable=False),
        sa.Column("walkin_visits", sa.Integer(), nullable=False),
        sa.Column("walkin_wait_sum", sa.Float(), nullable=False),
        sa.Column("walkin_served_n", sa.Integer(), nullable=False),
        sa.Column("walkin_left_unserved", sa.Integer(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("resolved_first_contact", sa.Integer(), nullable=False),
        sa.Column("resolved_kontaktcenter", sa.Integer(), nullable=False),
        sa.Column("escalated", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_rollups")),
        sa.UniqueConstraint(
            "day", "service", "department", "channel", "location", "language", name="uq_metric_rollups_group"
        ),
    )
    op.create_index("ix_metric_rollups_day", "metric_rollups", ["day"], unique=False)
    op.create_table(
        "metric_rollup_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("computed_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_metric_rollup_days")),
    )


def downgrade() -> None:
    op.drop_table("metric_rollup_days")
    op.drop_index("ix_metric_rollups_day", table_name="metric_rollups")
    op.drop_table("metric_rollups")
