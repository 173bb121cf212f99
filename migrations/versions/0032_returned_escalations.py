"""The workspace: the desk a walk-in visitor is called to (the waiting-room display), and an
index for the console's list (a queue's open tickets, most urgent and oldest first).

Revision ID: 0032_returned_escalations
Revises: 0030_citizen_names
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032_returned_escalations"
down_revision = "0030_citizen_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("desk", sa.String(20), nullable=True))
    op.create_index("ix_tickets_queue_priority_arrived", "tickets", ["queue_id", "priority", "first_arrived_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_queue_priority_arrived", table_name="tickets")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("desk")
