"""Live-call transfers: where each transfer stands and the call legs it moves.

Revision ID: 0028_call_transfer_legs
Revises: 0027_call_distribution
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontaktcenter.database

revision = "0028_call_transfer_legs"
down_revision = "0027_call_distribution"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dt = kontaktcenter.database.UTCDateTime(timezone=True)
    with op.batch_alter_table("call_transfers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(12), server_default="connecting", nullable=False))
        batch_op.add_column(sa.Column("agent_call_sid", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("receiver_call_sid", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("ended_at", dt, nullable=True))
        batch_op.create_check_constraint(
            "status",
            "status IN ('connecting', 'answered', 'unanswered', 'completed', 'cancelled')",
        )
        batch_op.create_index(batch_op.f("ix_call_transfers_receiver_call_sid"), ["receiver_call_sid"])
    op.create_table(
        "call_agent_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("at", dt, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_call_agent_legs_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_call_agent_legs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_agent_legs")),
    )
    op.create_index(op.f("ix_call_agent_legs_contact_id"), "call_agent_legs", ["contact_id"])


def downgrade() -> None:
    op.drop_table("call_agent_legs")
    with op.batch_alter_table("call_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_transfers_receiver_call_sid"))
        batch_op.drop_constraint("status", type_="check")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("receiver_call_sid")
        batch_op.drop_column("agent_call_sid")
        batch_op.drop_column("status")
