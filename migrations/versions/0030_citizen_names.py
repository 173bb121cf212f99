"""Arabic names for departments and the citizen form's service groups (services have one
already): the citizen pages show the directory's names in the reader's language.

Revision ID: 0030_citizen_names
Revises: 0029_switchboard_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_citizen_names"
down_revision = "0029_switchboard_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("departments", sa.Column("name_ar", sa.String(200), nullable=True))
    op.add_column("service_groups", sa.Column("name_ar", sa.String(200), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying departments, which other
    # tables reference, fails under SQLite's foreign keys.
    op.drop_column("service_groups", "name_ar")
    op.drop_column("departments", "name_ar")
