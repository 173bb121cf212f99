"""The hold loop's expected wait: recently answered calls of one queue found by index.

Without it every /wait (asked every 20 seconds per caller in a queue) scanned all
contacts, so its cost grew with the history instead of with the queue.

Revision ID: 0011_hold_loop_index
Revises: 0010_intake_queue
"""

from __future__ import annotations

from alembic import op

revision = "0011_hold_loop_index"
down_revision = "0010_intake_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_contacts_queue_answered", "contacts", ["queue_id", "answered_at"])


def downgrade() -> None:
    op.drop_index("ix_contacts_queue_answered", table_name="contacts")
