"""Server-side sessions (user_sessions) and the sign-in audit log (auth_events).

A signed cookie alone can no longer sign anyone in: its token must name a live row of
user_sessions, so signing out, a new password and deactivation end every session of the
user at once. auth_events keeps every sign-in, failed or throttled sign-in, sign-out and
ending of sessions.

Revision ID: 0013_sessions
Revises: 0012_intake_proof
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontaktcenter.database

revision = "0013_sessions"
down_revision = "0012_intake_proof"
branch_labels = None
depends_on = None

END_REASONS = "revoked_reason IN ('logout', 'password', 'deactivated', 'revoked')"
EVENT_KINDS = "kind IN ('login', 'login_failed', 'login_throttled', 'logout', 'password_changed', 'deactivated', 'sessions_revoked')"


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_stamp", sa.String(length=32), nullable=False),
        sa.Column("created_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=20), nullable=True),
        sa.CheckConstraint(END_REASONS, name=op.f("ck_user_sessions_revoked_reason")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "auth_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.CheckConstraint(EVENT_KINDS, name=op.f("ck_auth_events_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_events")),
    )
    with op.batch_alter_table("auth_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_events_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_events_username"), ["username"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auth_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_events_username"))
        batch_op.drop_index(batch_op.f("ix_auth_events_user_id"))
        batch_op.drop_index(batch_op.f("ix_auth_events_at"))
    op.drop_table("auth_events")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")
