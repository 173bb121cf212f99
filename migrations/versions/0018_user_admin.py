"""User administration: one-time set-password links (password_links) and the admin audit
log of changes to users (user_changes).

Revision ID: 0018_user_admin
Revises: 0017_directory
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontaktcenter.database

revision = "0018_user_admin"
down_revision = "0017_directory"
branch_labels = None
depends_on = None

PURPOSES = "purpose IN ('welcome', 'reset')"
END_REASONS = "ended_reason IN ('used', 'replaced')"
ACTIONS = (
    "action IN ('created', 'updated', 'deactivated', 'reactivated', 'link_issued', 'password_set', 'two_factor_reset')"
)


def upgrade() -> None:
    op.create_table(
        "password_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("password_stamp", sa.String(length=32), nullable=False),
        sa.Column("created_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=10), nullable=True),
        sa.CheckConstraint(PURPOSES, name=op.f("ck_password_links_purpose")),
        sa.CheckConstraint(END_REASONS, name=op.f("ck_password_links_ended_reason")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_links_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_links_token_hash")),
    )
    with op.batch_alter_table("password_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_links_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.CheckConstraint(ACTIONS, name=op.f("ck_user_changes_action")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_changes_user_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_user_changes_actor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_changes")),
    )
    with op.batch_alter_table("user_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_changes_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_changes_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_changes_user_id"))
        batch_op.drop_index(batch_op.f("ix_user_changes_at"))
    op.drop_table("user_changes")
    with op.batch_alter_table("password_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_links_user_id"))
    op.drop_table("password_links")
