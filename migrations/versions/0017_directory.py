"""The directory file (`kontaktcenter directory load`): service groups and opening hours
in the database, and the mark on the users the demo made.

Revision ID: 0017_directory
Revises: 0016_privacy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_directory"
down_revision = "0016_privacy"
branch_labels = None
depends_on = None

DEMO_USERNAMES = (
    "agent",
    "agent2",
    "filial",
    "handlaggare",
    "bygglov",
    "samordnare",
    "kultursamordnare",
    "chef",
    "admin",
    "bibliotek",
)


def upgrade() -> None:
    op.create_table(
        "service_groups",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name_sv", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_service_groups")),
    )
    op.create_table(
        "opening_hours",
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("open", sa.String(5), nullable=True),
        sa.Column("close", sa.String(5), nullable=True),
        sa.Column("eve_open", sa.String(5), nullable=True),
        sa.Column("eve_close", sa.String(5), nullable=True),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_opening_hours")),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("demo", sa.Boolean(), nullable=False, server_default=sa.false()))
    # A database the demo made before this revision keeps working with the demo: its
    # users are the demo's usernames with the demo's made-up e-mail addresses.
    users = sa.table("users", sa.column("username"), sa.column("email"), sa.column("demo"))
    op.execute(
        users.update()
        .where(users.c.username.in_(DEMO_USERNAMES), users.c.email == users.c.username.concat("@kontaktcenter.example"))
        .values(demo=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("demo")
    op.drop_table("opening_hours")
    op.drop_table("service_groups")
