"""A warm transfer remembers when the agent left it (the receiver then gets the caller, or the
caller goes back to the queue) and the caller's new queue entry when it was requeued.

Revision ID: 0035_transfer_agent_left
Revises: 0033_switchboard_outcome
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035_transfer_agent_left"
down_revision = "0033_switchboard_outcome"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_transfers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_left_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("requeued_contact_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_call_transfers_requeued_contact_id_contacts",
            "contacts",
            ["requeued_contact_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("call_transfers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_call_transfers_requeued_contact_id_contacts", type_="foreignkey")
        batch_op.drop_column("requeued_contact_id")
        batch_op.drop_column("agent_left_at")
