"""The conversation's language (issue 15): `conversations.language` and `transcript_index.language`
("en", "es"; every row stored before gets "en"), the staff list's covering indexes with the
language in them (and one led by it, for the language filter), and the full-text search:

- PostgreSQL: `ix_transcript_index_tsv` made again, over the accent-folded document's English
  vector and, for Spanish conversations, its Spanish vector (bot/db/search.py);
- SQLite: the FTS5 table made again and every stored document indexed anew, only if it was made
  with another tokenizer than the current one (`porter unicode61 remove_diacritics 2`); the
  documents themselves (transcript_index) are kept as they are.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from bot.db.search import PostgresSearch, SqliteSearch

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# the covering indexes of the staff list as this revision leaves them (bot/db/schema.py)
FILTERED = ["outcome", "status", "contact_requested", "completed", "language"]
COVERS = {
    "ix_conversations_started_cover": ["started_at", "id", *FILTERED],
    "ix_conversations_outcome_cover": ["outcome", "started_at", "id", "status", "contact_requested", "completed",
                                       "language"],
    "ix_conversations_status_cover": ["status", "started_at", "id", "outcome", "contact_requested", "completed",
                                      "language"],
    "ix_conversations_language_cover": ["language", "started_at", "id", "outcome", "status", "contact_requested",
                                        "completed"],
    "ix_conversations_id_cover": ["id", *FILTERED, "started_at"],
}


def upgrade() -> None:
    bind = op.get_bind()
    for table in ("conversations", "transcript_index"):
        if "language" not in {c["name"] for c in sa.inspect(bind).get_columns(table)}:
            with op.batch_alter_table(table) as batch:   # SQLite: ALTER TABLE ADD COLUMN, no copy
                batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
    existing = {i["name"] for i in sa.inspect(bind).get_indexes("conversations")}
    for name, columns in COVERS.items():
        if name in existing:
            op.drop_index(name, table_name="conversations")
        op.create_index(name, "conversations", columns)
    if bind.dialect.name == "sqlite":
        if SqliteSearch.tokenizer_changed(bind):
            SqliteSearch().retokenize(bind)
    elif bind.dialect.name == "postgresql":
        PostgresSearch().reinstall(bind)


def downgrade() -> None:
    raise NotImplementedError("downgrades are not supported: restore the backup taken before the upgrade")
