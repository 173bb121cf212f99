"""Routing: targets and overrides on each decision; one refusal row per refused version.

Revision ID: 0003_routing
Revises: 0007_metrics
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_routing"
down_revision = "0007_metrics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("targets", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("skills", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("sla", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        # The server defaults only fill existing rows; the model supplies values from now on.
        batch_op.alter_column("targets", server_default=None)
        batch_op.alter_column("skills", server_default=None)
        batch_op.alter_column("sla", server_default=None)
    with op.batch_alter_table("ruleset_refusals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("directory", sa.String(length=500), nullable=False, server_default=""))
        batch_op.create_unique_constraint("uq_ruleset_refusals_version", ["version"])
    with op.batch_alter_table("ruleset_refusals", schema=None) as batch_op:
        batch_op.alter_column("directory", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("ruleset_refusals", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ruleset_refusals_version", type_="unique")
        batch_op.drop_column("directory")
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.drop_column("sla")
        batch_op.drop_column("skills")
        batch_op.drop_column("priority")
        batch_op.drop_column("targets")
