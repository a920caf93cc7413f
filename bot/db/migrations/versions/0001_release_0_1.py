"""The schema of release 0.1 (before migrations existed).

A database made by release 0.1 (or by an earlier build, which lacked the staff
tables) has no `alembic_version`: this revision creates whatever of release
0.1's tables and indexes it does not have yet, and fills the transcript index
from the event log when it is new.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from bot.db.search import SqliteSearch, for_dialect, rebuild

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    had_fts = "transcript_fts" in existing

    def create_table(name: str, *columns) -> None:
        if name not in existing:
            op.create_table(name, *columns)

    def create_index(name: str, table: str, columns: list[str]) -> None:
        if name not in {i["name"] for i in sa.inspect(bind).get_indexes(table)}:
            op.create_index(name, table, columns)

    create_table(
        "conversations",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("trial_id", sa.String(64), nullable=False),
        sa.Column("criteria_version", sa.String(32)),
        sa.Column("started_at", TZ, nullable=False, index=True),
        sa.Column("last_activity", TZ, nullable=False),
        sa.Column("turns", sa.Integer, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("completed", sa.Boolean, nullable=False),
        sa.Column("current_question", sa.String(64)),
        sa.Column("outcome", sa.String(32), index=True),
        sa.Column("eligible_from", sa.Date),
        sa.Column("contact_requested", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(32), nullable=False, index=True),
        sa.Column("result", sa.JSON),
        sa.Column("state", sa.Text),
    )
    filtered = ["outcome", "status", "contact_requested", "completed"]
    create_index("ix_conversations_started_cover", "conversations", ["started_at", "id", *filtered])
    create_index("ix_conversations_outcome_cover", "conversations",
                    ["outcome", "started_at", "id", "status", "contact_requested", "completed"])
    create_index("ix_conversations_status_cover", "conversations",
                    ["status", "started_at", "id", "outcome", "contact_requested", "completed"])
    create_index("ix_conversations_id_cover", "conversations", ["id", *filtered, "started_at"])
    create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_events_conversation_seq"),
    )
    create_table(
        "message_replies",
        sa.Column("conversation_id", sa.String(128), primary_key=True),
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("replies", sa.Text, nullable=False),
    )
    create_table(
        "tombstones",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
        sa.Column("deleted_at", TZ, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
    )
    create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False, index=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200)),
        sa.Column("address", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    create_table(
        "staff_users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("password_changed_at", TZ, nullable=False),
        sa.Column("session_version", sa.Integer, nullable=False),
        sa.UniqueConstraint("username", name="uq_staff_users_username"),
    )
    create_table(
        "staff_login_failures",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure", TZ, nullable=False),
        sa.Column("locked_until", TZ),
    )
    create_table(
        "followups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("previous_status", sa.String(32)),
        sa.Column("note", sa.Text),
    )
    create_index("ix_followups_conversation", "followups", ["conversation_id", "id"])
    create_table(
        "transcript_index",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.UniqueConstraint("conversation_id", name="uq_transcript_index_conversation"),
    )
    for_dialect(bind.dialect.name).install(bind)
    indexed = bind.execute(sa.text("SELECT 1 FROM transcript_index LIMIT 1")).first() is not None
    if not indexed:
        rebuild(bind)
    elif bind.dialect.name == "sqlite" and not had_fts:
        SqliteSearch.reindex(bind)


def downgrade() -> None:
    raise NotImplementedError("release 0.1 is the first schema: there is nothing to go back to")
