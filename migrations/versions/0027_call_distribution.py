"""Automatic call distribution: at most one open offer per call and per agent (partial unique
indexes), each waiting call's skill requirements, and the agents' "missed" presence.

Revision ID: 0027_call_distribution
Revises: 0026_staff_directory
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_call_distribution"
down_revision = "0026_staff_directory"
branch_labels = None
depends_on = None

OLD_PRESENCE = ("available", "busy", "away", "offline")
NEW_PRESENCE = (*OLD_PRESENCE, "missed")
OPEN = sa.text("result IS NULL")
OPEN_CALL = sa.text("channel = 'phone' AND outcome IS NULL AND ended_at IS NULL")


def _presence(values: tuple[str, ...]) -> str:
    return f"presence IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # Offers left open by hand or by an older version would break the unique indexes.
    op.execute(
        sa.text(
            "UPDATE call_offers SET result = 'withdrawn' WHERE result IS NULL AND id NOT IN "
            "(SELECT MIN(id) FROM call_offers WHERE result IS NULL GROUP BY contact_id)"
        )
    )
    op.execute(
        sa.text(
            "UPDATE call_offers SET result = 'withdrawn' WHERE result IS NULL AND id NOT IN "
            "(SELECT MIN(id) FROM call_offers WHERE result IS NULL GROUP BY user_id)"
        )
    )
    op.create_index(
        "uq_call_offers_open_call", "call_offers", ["contact_id"], unique=True, postgresql_where=OPEN, sqlite_where=OPEN
    )
    op.create_index(
        "uq_call_offers_open_agent", "call_offers", ["user_id"], unique=True, postgresql_where=OPEN, sqlite_where=OPEN
    )
    op.create_index(
        "ix_contacts_open_calls",
        "contacts",
        ["queue_id", "arrived_at", "id"],
        postgresql_where=OPEN_CALL,
        sqlite_where=OPEN_CALL,
    )
    op.create_index(
        "ix_contacts_live_calls", "contacts", ["answered_by_id"], postgresql_where=OPEN_CALL, sqlite_where=OPEN_CALL
    )
    op.create_table(
        "call_requirements",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_call_requirements_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_call_requirements_service_id_services"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_call_requirements")),
    )
    # SQLite cannot alter a check constraint: batch mode rewrites the table.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("presence", type_="check")
        batch_op.create_check_constraint("presence", _presence(NEW_PRESENCE))


def downgrade() -> None:
    op.execute(sa.text("UPDATE users SET presence = 'away' WHERE presence = 'missed'"))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("presence", type_="check")
        batch_op.create_check_constraint("presence", _presence(OLD_PRESENCE))
    op.drop_table("call_requirements")
    op.drop_index("ix_contacts_live_calls", table_name="contacts")
    op.drop_index("ix_contacts_open_calls", table_name="contacts")
    op.drop_index("uq_call_offers_open_agent", table_name="call_offers")
    op.drop_index("uq_call_offers_open_call", table_name="call_offers")
