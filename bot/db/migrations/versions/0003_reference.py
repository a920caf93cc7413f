"""A reference code for every conversation (issue 13: the printed result connects to the staff record).

`conversations.reference` (unique): the short code printed on the patient's result
and searchable on the staff screens. Conversations stored before this revision get
one now, so staff can give any patient a reference.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from bot.reference import new_reference

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "reference" not in {c["name"] for c in inspector.get_columns("conversations")}:
        op.add_column("conversations", sa.Column("reference", sa.String(16)))
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM conversations WHERE reference IS NULL"))]
    taken: set[str] = set()
    for cid in ids:
        code = new_reference()
        while code in taken:
            code = new_reference()
        taken.add(code)
        bind.execute(sa.text("UPDATE conversations SET reference = :code WHERE id = :cid"), {"code": code, "cid": cid})
    if "ux_conversations_reference" not in {i["name"] for i in inspector.get_indexes("conversations")}:
        op.create_index("ux_conversations_reference", "conversations", ["reference"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_conversations_reference", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("reference")
