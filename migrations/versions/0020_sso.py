"""Single sign-on (OpenID Connect): the identity a user signs in as at the provider
(issuer, subject), and the sign-in log's events for single sign-on.

Revision ID: 0020_sso
Revises: 0019_two_factor
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_sso"
down_revision = "0019_two_factor"
branch_labels = None
depends_on = None

KINDS_BEFORE = (
    "login",
    "login_failed",
    "login_throttled",
    "logout",
    "password_changed",
    "deactivated",
    "sessions_revoked",
    # 0019_two_factor's
    "code_failed",
    "recovery_code_used",
    "two_factor_enrolled",
    "recovery_codes_new",
    "two_factor_off",
    "two_factor_reset",
)
KINDS = (*KINDS_BEFORE, "sso_refused", "sso_account")


def _in(values: tuple[str, ...]) -> str:
    return f"kind IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("oidc_issuer", sa.String(300), nullable=True))
        batch.add_column(sa.Column("oidc_subject", sa.String(255), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_oidc_issuer"), ["oidc_issuer", "oidc_subject"])
    with op.batch_alter_table("auth_events") as batch:
        batch.drop_constraint(op.f("ck_auth_events_kind"), type_="check")
        batch.create_check_constraint("kind", _in(KINDS))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM auth_events WHERE kind IN ('sso_refused', 'sso_account')"))
    with op.batch_alter_table("auth_events") as batch:
        batch.drop_constraint(op.f("ck_auth_events_kind"), type_="check")
        batch.create_check_constraint("kind", _in(KINDS_BEFORE))
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_oidc_issuer"), type_="unique")
        batch.drop_column("oidc_subject")
        batch.drop_column("oidc_issuer")
