"""Queued intake: contacts acknowledged by the API and waiting for the intake worker.

Revision ID: 0010_intake_queue
Revises: 0009_casework
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_intake_queue"
down_revision = "0009_casework"
branch_labels = None
depends_on = None

WAITING = sa.text("awaiting_routing")


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("awaiting_routing", sa.Boolean(), nullable=False, server_default=sa.false()))
    # The worker's "next waiting contacts" reads only this small index, however many contacts there are.
    op.create_index("ix_contacts_awaiting_routing", "contacts", ["id"], postgresql_where=WAITING, sqlite_where=WAITING)


def downgrade() -> None:
    op.drop_index("ix_contacts_awaiting_routing", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("awaiting_routing")
