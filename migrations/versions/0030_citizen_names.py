"""Arabic names for departments and the citizen form's service groups (services have one
already): the citizen pages show the directory's names in the reader's language.

Revision ID: 0030_citizen_names
Revises: 0026_staff_directory
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_citizen_names"
down_revision = "0026_staff_directory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("departments", sa.Column("name_ar", sa.String(200), nullable=True))
    op.add_column("service_groups", sa.Column("name_ar", sa.String(200), nullable=True))


def downgrade() -> None:
    # batch: SQLite drops a column by copying the table.
    with op.batch_alter_table("service_groups") as batch:
        batch.drop_column("name_ar")
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("name_ar")
