"""channels: Open311 request details

Revision ID: 0005_channels
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_channels"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open311_details",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("long", sa.Float(), nullable=True),
        sa.Column("address_string", sa.String(length=300), nullable=False),
        sa.Column("address_id", sa.String(length=100), nullable=False),
        sa.Column("zipcode", sa.String(length=20), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.String(length=100), nullable=False),
        sa.Column("media_url", sa.String(length=500), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_open311_details_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["token_id"], ["api_tokens.id"], name=op.f("fk_open311_details_token_id_api_tokens")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_details")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_open311_details_contact_id")),
    )


def downgrade() -> None:
    op.drop_table("open311_details")
