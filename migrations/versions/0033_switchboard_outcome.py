"""A call that name dialling connects straight to a person ends with outcome "switchboard"
(until now it kept the IVR's "ivr_dropped" and was counted as a drop).

Revision ID: 0033_switchboard_outcome
Revises: 0032_returned_escalations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_switchboard_outcome"
down_revision = "0032_returned_escalations"
branch_labels = None
depends_on = None

OLD = ("answered", "abandoned", "callback_requested", "ivr_dropped", "served", "left")
NEW = (*OLD[:4], "switchboard", *OLD[4:])


def _outcome(values: tuple[str, ...]) -> str:
    return f"outcome IS NULL OR outcome IN ({', '.join(repr(v) for v in values)})"


def _replace(values: tuple[str, ...]) -> None:
    # SQLite cannot alter a check constraint: batch mode rewrites the table.
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint("outcome", type_="check")
        batch_op.create_check_constraint("outcome", _outcome(values))


def upgrade() -> None:
    _replace(NEW)
    # Calls already connected by name dialling: their IVR record named the person reached.
    op.execute(
        sa.text(
            "UPDATE contacts SET outcome = 'switchboard' WHERE outcome = 'ivr_dropped' AND ticket_id IS NULL "
            "AND id IN (SELECT contact_id FROM switchboard_requests WHERE connected_at IS NOT NULL)"
        )
    )


def downgrade() -> None:
    op.execute(sa.text("UPDATE contacts SET outcome = 'ivr_dropped' WHERE outcome = 'switchboard'"))
    _replace(OLD)
