"""The switchboard directory: the city's employees with their absence notices.

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


def downgrade() -> None:
    op.drop_table("staff_members")
