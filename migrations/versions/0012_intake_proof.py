"""Intake by proof: how each contact came to its ticket, the ticket's own reply address,
and the receipt code a citizen needs to look a ticket up.

Contacts already on a ticket: the first one opened it ("new"); later ones joined before
proof was required ("joined", never taken as the citizen's own address). A ticket's reply
address is its opening contact's. Existing tickets get no receipt code: their citizens
never received one, so a lookup of them answers 404 as for any unknown pair.

Revision ID: 0012_intake_proof
Revises: 0011_hold_loop_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_intake_proof"
down_revision = "0011_hold_loop_index"
branch_labels = None
depends_on = None

PLACEMENTS = ("new", "reference", "thread", "reopen", "linked", "joined")
REPLY_CHANNELS = ("email", "sms", "phone", "none")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("placement", sa.String(10), nullable=True))
        batch.add_column(sa.Column("mentions_ticket_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_contacts_mentions_ticket_id_tickets", "tickets", ["mentions_ticket_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_check_constraint("placement", f"placement IS NULL OR {_in('placement', PLACEMENTS)}")
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("reply_channel", sa.String(10), nullable=False, server_default="none"))
        batch.add_column(sa.Column("reply_to", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("receipt_code", sa.String(12), nullable=True))
        batch.create_check_constraint("reply_channel", _in("reply_channel", REPLY_CHANNELS))

    opener = "(SELECT MIN(o.id) FROM contacts o WHERE o.ticket_id = contacts.ticket_id)"
    op.execute(
        f"UPDATE contacts SET placement = CASE WHEN id = {opener} THEN 'new' ELSE 'joined' END WHERE ticket_id IS NOT NULL"
    )
    first = "(SELECT {col} FROM contacts c WHERE c.ticket_id = tickets.id AND c.placement = 'new')"
    address = (
        "CASE c.reply_channel WHEN 'email' THEN COALESCE(c.citizen_email, '') "
        "WHEN 'none' THEN '' ELSE COALESCE(c.citizen_phone, '') END"
    )
    op.execute(
        f"UPDATE tickets SET reply_channel = COALESCE({first.format(col='c.reply_channel')}, 'none'), "
        f"reply_to = COALESCE({first.format(col=address)}, '')"
    )


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("reply_channel", type_="check")
        batch.drop_column("receipt_code")
        batch.drop_column("reply_to")
        batch.drop_column("reply_channel")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("placement", type_="check")
        batch.drop_constraint("fk_contacts_mentions_ticket_id_tickets", type_="foreignkey")
        batch.drop_column("mentions_ticket_id")
        batch.drop_column("placement")
