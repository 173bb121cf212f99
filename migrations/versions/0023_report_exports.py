"""Dashboard exports kept in the database (issue 19 part 5): progress and file in one
row per export, so any web process serves any export and no host needs a shared folder.
The link's token is stored only as its SHA-256 hash.

Revision ID: 0023_report_exports
Revises: 0022_contact_reasons
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_report_exports"
down_revision = "0022_contact_reasons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_report_exports_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_exports")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_report_exports_token_hash")),
    )
    op.create_index("ix_report_exports_expires_at", "report_exports", ["expires_at"])
    op.create_index(op.f("ix_report_exports_user_id"), "report_exports", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_report_exports_user_id"), table_name="report_exports")
    op.drop_index("ix_report_exports_expires_at", table_name="report_exports")
    op.drop_table("report_exports")
