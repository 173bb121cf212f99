"""Contact reasons (orsakskoder) per service, each contact's reason, and the import's
pseudonymous citizen_key on contacts (METRICS.md "Service development" and "Import
format"). Every service already in the database gets the two "other" reasons every
reason list holds.

Revision ID: 0022_contact_reasons
Revises: 0021_dataskydd
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_contact_reasons"
down_revision = "0021_dataskydd"
branch_labels = None
depends_on = None

# As directory.models.OTHER_REASONS at this revision (a migration never imports the models).
OTHER_REASONS = (
    ("annat-varde", "Annat ärende", "value"),
    ("annat-fel", "Annat som staden borde ha gjort eller gjort rätt", "failure"),
)


def upgrade() -> None:
    op.create_table(
        "contact_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("name_sv", sa.String(200), nullable=False),
        sa.Column("category", sa.String(10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("category IN ('value', 'failure')", name=op.f("ck_contact_reasons_category")),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_contact_reasons_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_reasons")),
        sa.UniqueConstraint("service_id", "code", name=op.f("uq_contact_reasons_service_id")),
    )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("citizen_key", sa.String(128), nullable=True))
        batch.add_column(sa.Column("reason_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_contacts_reason_id_contact_reasons", "contact_reasons", ["reason_id"], ["id"])
    services = sa.table("services", sa.column("id"))
    reasons = sa.table(
        "contact_reasons",
        sa.column("service_id"),
        sa.column("code"),
        sa.column("name_sv"),
        sa.column("category"),
        sa.column("active"),
    )
    for code, name, category in OTHER_REASONS:
        op.execute(
            reasons.insert().from_select(
                ["service_id", "code", "name_sv", "category", "active"],
                sa.select(
                    services.c.id,
                    sa.literal(code),
                    sa.literal(name),
                    sa.literal(category),
                    sa.true(),
                ),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("fk_contacts_reason_id_contact_reasons", type_="foreignkey")
        batch.drop_column("reason_id")
        batch.drop_column("citizen_key")
    op.drop_table("contact_reasons")
