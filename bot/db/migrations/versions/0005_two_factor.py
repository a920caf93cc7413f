"""Two-factor sign-in for staff (issue 14): `staff_users.totp_secret` (encrypted) and
`totp_last_step`, and `staff_recovery_codes` (hashes only).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("staff_users")}
    with op.batch_alter_table("staff_users") as batch:
        if "totp_secret" not in columns:
            batch.add_column(sa.Column("totp_secret", sa.Text))
        if "totp_last_step" not in columns:
            batch.add_column(sa.Column("totp_last_step", sa.Integer))
    if "staff_recovery_codes" not in inspector.get_table_names():
        op.create_table(
            "staff_recovery_codes",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("user_id", sa.Integer, sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
            sa.Column("code_hash", sa.String(256), nullable=False),
            sa.Column("used_at", sa.DateTime(timezone=True)),
        )
        op.create_index("ix_staff_recovery_codes_user_id", "staff_recovery_codes", ["user_id"])


def downgrade() -> None:
    op.drop_table("staff_recovery_codes")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
