"""Dataskydd: the `dataskydd` role, begränsning (a restriction of processing on tickets),
API tokens as actors in the access log, and the access log made append-only: on
PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE of its rows, except the log's own
retention job (which says so with the transaction-local setting
`kontaktcenter.access_log_retention`) and a change of the ticket a row names (a ticket
merged into another, or deleted: ON DELETE SET NULL).

Revision ID: 0021_dataskydd
Revises: 0020_sso
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_dataskydd"
down_revision = "0020_sso"
branch_labels = None
depends_on = None

OLD_ROLES = ("agent", "caseworker", "coordinator", "manager", "admin", "location_staff")
NEW_ROLES = (*OLD_ROLES, "dataskydd")

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('kontaktcenter.access_log_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF (to_jsonb(NEW) - 'ticket_id') = (to_jsonb(OLD) - 'ticket_id') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'access_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
"""


def _roles(values: tuple[str, ...]) -> str:
    return f"role IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint("role", _roles(NEW_ROLES))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("restriction", sa.String(300), nullable=False, server_default=""))
    with op.batch_alter_table("access_log") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("api_token_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_access_log_api_token_id_api_tokens", "api_tokens", ["api_token_id"], ["id"])
        batch.create_index("ix_access_log_api_token_id", ["api_token_id"], unique=False)
        batch.create_index("ix_access_log_at", ["at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_log_no_truncate ON access_log")
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")
        op.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    op.execute("DELETE FROM access_log WHERE user_id IS NULL")
    with op.batch_alter_table("access_log") as batch:
        batch.drop_index("ix_access_log_at")
        batch.drop_index("ix_access_log_api_token_id")
        batch.drop_constraint("fk_access_log_api_token_id_api_tokens", type_="foreignkey")
        batch.drop_column("api_token_id")
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("restriction")
    op.execute("UPDATE users SET active = false, role = 'location_staff' WHERE role = 'dataskydd'")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint("role", _roles(OLD_ROLES))
