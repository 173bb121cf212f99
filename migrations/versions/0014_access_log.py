"""The access log covers all access to personal data: reads outside one's own work with
their reason, identifier searches and denied attempts (allowed, reason, detail), and it
outlives the tickets it names (gallring): ticket_id becomes NULL instead of the row going.

Revision ID: 0014_access_log
Revises: 0013_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_access_log"
down_revision = "0013_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_log") as batch:
        batch.add_column(sa.Column("allowed", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("reason", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("detail", sa.String(200), nullable=False, server_default=""))
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
        batch.drop_constraint("fk_access_log_ticket_id_tickets", type_="foreignkey")
        batch.create_foreign_key(
            "fk_access_log_ticket_id_tickets", "tickets", ["ticket_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    op.execute("DELETE FROM access_log WHERE ticket_id IS NULL")
    with op.batch_alter_table("access_log") as batch:
        batch.drop_constraint("fk_access_log_ticket_id_tickets", type_="foreignkey")
        batch.create_foreign_key(
            "fk_access_log_ticket_id_tickets", "tickets", ["ticket_id"], ["id"], ondelete="CASCADE"
        )
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("detail")
        batch.drop_column("reason")
        batch.drop_column("allowed")
