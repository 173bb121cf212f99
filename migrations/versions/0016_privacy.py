"""Gallring: each service's retention period and action, a staff hold and the gallring
mark on tickets, and the gallring record (codes and counts, never personal data).

Revision ID: 0016_privacy
Revises: 0015_public_requests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_privacy"
down_revision = "0015_public_requests"
branch_labels = None
depends_on = None

# The catalogue's defaults (directory/catalogue.py RETENTION) for existing Malmö services.
RETENTION = {
    "P2Y anonymise": (
        "forsorjningsstod",
        "budget-skuldradgivning",
        "lss-insatser",
        "hemtjanst",
        "trygghetslarm",
        "sarskilt-boende",
        "fardtjanst",
        "parkeringstillstand",
    ),
    "P6M delete": ("allmant", "utskrift-hjalp", "digital-hjalp", "bibliotekskort"),
    "P1Y delete": ("felanmalan-gata", "gatubelysning", "klotter", "avfall"),
}


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("retention_period", sa.String(20), nullable=False, server_default="P1Y"))
        batch.add_column(sa.Column("retention_action", sa.String(10), nullable=False, server_default="anonymise"))
        batch.create_check_constraint("retention_action", "retention_action IN ('delete', 'anonymise')")
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("retention_hold", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("gallrad_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "gallring_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_code", sa.String(60), nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gallring_records"),
    )
    services = sa.table("services", sa.column("code"), sa.column("retention_period"), sa.column("retention_action"))
    for rule, codes in RETENTION.items():
        period, action = rule.split()
        op.execute(
            services.update().where(services.c.code.in_(codes)).values(retention_period=period, retention_action=action)
        )


def downgrade() -> None:
    op.drop_table("gallring_records")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("gallrad_at")
        batch.drop_column("retention_hold")
    with op.batch_alter_table("services") as batch:
        batch.drop_constraint("ck_services_retention_action", type_="check")
        batch.drop_column("retention_action")
        batch.drop_column("retention_period")
