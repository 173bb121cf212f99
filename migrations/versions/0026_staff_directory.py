"""The switchboard directory (the city's employees with their absence notices), calls that
asked the switchboard for a person, the distribution's offers and agents' transfers.

Revision ID: 0026_staff_directory
Revises: 0025_service_development
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kontaktcenter.database

revision = "0026_staff_directory"
down_revision = "0025_service_development"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.String(60), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(100), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("absent_until", kontaktcenter.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("absence_message", sa.Text(), nullable=False),
        sa.Column("alternative_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", kontaktcenter.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_staff_members_department_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["alternative_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_members_alternative_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("employee_id", name=op.f("uq_staff_members_employee_id")),
    )

    dt = kontaktcenter.database.UTCDateTime(timezone=True)
    op.create_table(
        "switchboard_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("at", dt, nullable=False),
        sa.Column("via", sa.String(10), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=True),
        sa.Column("connected_to_id", sa.Integer(), nullable=True),
        sa.Column("connected_at", dt, nullable=True),
        sa.CheckConstraint("via IN ('speech', 'digit', 'agent')", name=op.f("ck_switchboard_requests_via")),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_switchboard_requests_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_switchboard_requests_staff_member_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["connected_to_id"],
            ["staff_members.id"],
            name=op.f("fk_switchboard_requests_connected_to_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_switchboard_requests")),
    )
    op.create_index(op.f("ix_switchboard_requests_contact_id"), "switchboard_requests", ["contact_id"])
    op.create_table(
        "call_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("offered_at", dt, nullable=False),
        sa.Column("expires_at", dt, nullable=False),
        sa.Column("agent_call_sid", sa.String(64), nullable=True),
        sa.Column("result", sa.String(10), nullable=True),
        sa.Column("ended_at", dt, nullable=True),
        sa.CheckConstraint("result IN ('answered', 'missed', 'withdrawn')", name=op.f("ck_call_offers_result")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_call_offers_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_call_offers_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_offers")),
    )
    op.create_index("ix_call_offers_open", "call_offers", ["contact_id", "result"])
    op.create_index(op.f("ix_call_offers_user_id"), "call_offers", ["user_id"])
    op.create_table(
        "call_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", dt, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("warm", sa.Boolean(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.Column("staff_member_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("answered_at", dt, nullable=True),
        sa.CheckConstraint("kind IN ('queue', 'person', 'external')", name=op.f("ck_call_transfers_kind")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_call_transfers_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_call_transfers_user_id_users")),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"], name=op.f("fk_call_transfers_queue_id_queues")),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_call_transfers_staff_member_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_transfers")),
    )
    op.create_index(op.f("ix_call_transfers_contact_id"), "call_transfers", ["contact_id"])


def downgrade() -> None:
    op.drop_table("call_transfers")
    op.drop_table("call_offers")
    op.drop_table("switchboard_requests")
    op.drop_table("staff_members")
