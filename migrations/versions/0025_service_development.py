"""Service development: contact reasons get an English label and a change log (who
changed a service's reason list, when and what). Repeat contacts find a citizen's
contacts by the indexes of 0024_dirty_days.

Revision ID: 0025_service_development
Revises: 0024_dirty_days
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontaktcenter.database

revision = "0025_service_development"
down_revision = "0024_dirty_days"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact_reasons") as batch:
        batch.add_column(sa.Column("name_en", sa.String(200), nullable=False, server_default=""))
    op.create_table(
        "contact_reason_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reason_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reason_id"],
            ["contact_reasons.id"],
            name=op.f("fk_contact_reason_changes_reason_id_contact_reasons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_contact_reason_changes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_reason_changes")),
    )
    op.create_index(op.f("ix_contact_reason_changes_reason_id"), "contact_reason_changes", ["reason_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_contact_reason_changes_reason_id"), table_name="contact_reason_changes")
    op.drop_table("contact_reason_changes")
    with op.batch_alter_table("contact_reasons") as batch:
        batch.drop_column("name_en")
