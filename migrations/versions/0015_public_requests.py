"""Services say whether their requests are public: Open311's GET shows the text and place
of a request only for such services (street and park faults), not for, say, a noise
complaint about a neighbour or a missed bin at someone's home.

Existing services are not public, but for the Malmö catalogue's street and park fault
reports, which Open311 already published, so they stay as they were.

Revision ID: 0015_public_requests
Revises: 0014_access_log
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_public_requests"
down_revision = "0014_access_log"
branch_labels = None
depends_on = None

PUBLIC = ("felanmalan-gata", "gatubelysning", "klotter")


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("public_requests", sa.Boolean(), nullable=False, server_default=sa.false()))
    services = sa.table("services", sa.column("code", sa.String), sa.column("public_requests", sa.Boolean))
    op.execute(services.update().where(services.c.code.in_(PUBLIC)).values(public_requests=True))


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("public_requests")
