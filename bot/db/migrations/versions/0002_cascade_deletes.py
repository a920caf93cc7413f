"""Deleting a conversation deletes everything that holds its data (ON DELETE CASCADE).

- events, message_replies, followups and transcript_index reference
  conversations.id with ON DELETE CASCADE;
- a deletion's replies (kept so that a retried "delete" is not a second
  deletion) move from message_replies to the tombstone (`message_id`,
  `replies`), since their conversation row no longer exists;
- rows left behind by an earlier deletion (no conversation row: the old code
  deleted table by table) are removed: they are the data a deletion was
  meant to remove.

SQLite cannot add a foreign key to a table, so batch mode copies each table;
the copies keep their ids (the full-text index is keyed by them) and the
full-text triggers are created again.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from bot.db.search import SqliteSearch, for_dialect

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHILDREN = ("events", "message_replies", "followups", "transcript_index")
ORPHAN = "conversation_id NOT IN (SELECT id FROM conversations)"


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("tombstones") as batch:
        batch.add_column(sa.Column("message_id", sa.String(128)))
        batch.add_column(sa.Column("replies", sa.Text))
    # the replies to a deletion go to the conversation's latest tombstone
    bind.exec_driver_sql(
        "UPDATE tombstones SET message_id = (SELECT r.message_id FROM message_replies r"
        " WHERE r.conversation_id = tombstones.conversation_id ORDER BY r.message_id LIMIT 1),"
        " replies = (SELECT r.replies FROM message_replies r"
        " WHERE r.conversation_id = tombstones.conversation_id ORDER BY r.message_id LIMIT 1)"
        " WHERE tombstones.id IN (SELECT MAX(t.id) FROM tombstones t GROUP BY t.conversation_id)"
        f" AND tombstones.{ORPHAN}")
    for table in CHILDREN:
        bind.exec_driver_sql(f"DELETE FROM {table} WHERE {ORPHAN}")
    for table in CHILDREN:
        with op.batch_alter_table(table, recreate="always" if bind.dialect.name == "sqlite" else "auto") as batch:
            batch.create_foreign_key(f"fk_{table}_conversations", "conversations", ["conversation_id"], ["id"],
                                     ondelete="CASCADE")
    if bind.dialect.name == "sqlite":   # the copy of transcript_index lost its triggers
        for_dialect("sqlite").install(bind)
        SqliteSearch.reindex(bind)


def downgrade() -> None:
    raise NotImplementedError("downgrades are not supported: restore the backup taken before the upgrade")
