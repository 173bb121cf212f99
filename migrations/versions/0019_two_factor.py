"""Two-factor sign-in: TOTP authenticators (two_factor), one-time recovery codes
(recovery_codes) and the sign-in log's new kinds of event.

Revision ID: 0019_two_factor
Revises: 0018_user_admin
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontaktcenter.database

revision = "0019_two_factor"
down_revision = "0018_user_admin"
branch_labels = None
depends_on = None

OLD_KINDS = (
    "login",
    "login_failed",
    "login_throttled",
    "logout",
    "password_changed",
    "deactivated",
    "sessions_revoked",
)
NEW_KINDS = (
    *OLD_KINDS,
    "code_failed",
    "recovery_code_used",
    "two_factor_enrolled",
    "recovery_codes_new",
    "two_factor_off",
    "two_factor_reset",
)


def _kinds(values: tuple[str, ...]) -> str:
    return f"kind IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "two_factor",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_encrypted", sa.String(length=300), nullable=False),
        sa.Column("created_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_two_factor_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_two_factor")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("auth_events", schema=None) as batch_op:
        batch_op.drop_constraint("kind", type_="check")
        batch_op.create_check_constraint("kind", _kinds(NEW_KINDS))


def downgrade() -> None:
    op.execute(sa.text(f"DELETE FROM auth_events WHERE NOT ({_kinds(OLD_KINDS)})"))
    with op.batch_alter_table("auth_events", schema=None) as batch_op:
        batch_op.drop_constraint("kind", type_="check")
        batch_op.create_check_constraint("kind", _kinds(OLD_KINDS))
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    op.drop_table("two_factor")
