"""The coordinator's week (issue 16): the work on each conversation and the figures of the insights
page.

- `conversations`: `needs_person_since` (the work queue's order), `completed_at`, `owner`,
  `next_action_on`, `visit_on`, the queue's covering index and one for the time to complete;
- `followups`: the owner, next-action date and visit date each change left, and an index by status
  (the funnel's "contacted", "visit scheduled", "enrolled");
- new tables `contact_attempts`, `check_items`, `corrections`, `result_criteria`, `notifications`
  (each tied to its conversation, deleted with it).

Rows stored before: a conversation whose outcome needs a person, or with a contact request, gets
its last activity as `needs_person_since`; a completed one gets it as `completed_at` (the closest
time the summary row has); `result_criteria` is filled from each stored result. No notification is
queued for them (they are not new).

Revision ID: 0007
Revises: 0006
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NEEDS_PERSON = ("likely_eligible", "eligible_after_washout", "needs_review")
NOT_PASSED = ("fail", "wait", "unknown")


def _ref(**kwargs) -> sa.Column:
    return sa.Column("conversation_id", sa.String(128), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                     nullable=False, **kwargs)


def _add_columns(table: str, columns: list[sa.Column]) -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
    with op.batch_alter_table(table) as batch:   # SQLite: ALTER TABLE ADD COLUMN, no copy
        for column in columns:
            if column.name not in have:
                batch.add_column(column)


def upgrade() -> None:
    bind = op.get_bind()
    _add_columns("conversations", [
        sa.Column("needs_person_since", sa.DateTime(timezone=True)),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("owner", sa.String(64)),
        sa.Column("next_action_on", sa.Date),
        sa.Column("visit_on", sa.Date),
    ])
    _add_columns("followups", [sa.Column("owner", sa.String(64)), sa.Column("next_action_on", sa.Date),
                               sa.Column("visit_on", sa.Date)])
    tables = set(sa.inspect(bind).get_table_names())
    if "contact_attempts" not in tables:
        op.create_table(
            "contact_attempts",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), _ref(),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("actor", sa.String(128), nullable=False),
            sa.Column("method", sa.String(32), nullable=False),
            sa.Column("result", sa.String(32), nullable=False),
            sa.Column("note", sa.Text))
        op.create_index("ix_contact_attempts_conversation", "contact_attempts", ["conversation_id", "id"])
    if "check_items" not in tables:
        op.create_table(
            "check_items",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), _ref(),
            sa.Column("item_key", sa.String(64), nullable=False),
            sa.Column("item", sa.Text, nullable=False),
            sa.Column("done", sa.Boolean, nullable=False),
            sa.Column("note", sa.Text),
            sa.Column("actor", sa.String(128), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.UniqueConstraint("conversation_id", "item_key", name="uq_check_items_conversation_item"))
    if "corrections" not in tables:
        op.create_table(
            "corrections",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), _ref(),
            sa.Column("answer_id", sa.String(64), nullable=False),
            sa.Column("original", sa.JSON),
            sa.Column("value", sa.JSON),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("actor", sa.String(128), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("outcome_before", sa.String(32)),
            sa.Column("outcome_after", sa.String(32)),
            sa.Column("result_before", sa.JSON))
        op.create_index("ix_corrections_conversation", "corrections", ["conversation_id", "id"])
    if "result_criteria" not in tables:
        op.create_table(
            "result_criteria",
            _ref(primary_key=True),
            sa.Column("criterion_id", sa.String(64), primary_key=True),
            sa.Column("verdict", sa.String(16), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False))
        op.create_index("ix_result_criteria_verdict", "result_criteria",
                        ["verdict", "started_at", "criterion_id", "conversation_id"])
        _fill_result_criteria(bind)
    if "notifications" not in tables:
        op.create_table(
            "notifications",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), _ref(),
            sa.Column("reason", sa.String(32), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("sent_at", sa.DateTime(timezone=True)),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("next_try_at", sa.DateTime(timezone=True)),
            sa.Column("last_error", sa.Text))
        op.create_index("ix_notifications_conversation_id", "notifications", ["conversation_id"])
        op.create_index("ix_notifications_pending", "notifications", ["sent_at", "next_try_at"])
    indexes = {i["name"] for i in sa.inspect(bind).get_indexes("followups")}
    if "ix_followups_status" not in indexes:
        op.create_index("ix_followups_status", "followups", ["status", "conversation_id"])
    c = sa.table("conversations", sa.column("outcome"), sa.column("contact_requested"), sa.column("completed"),
                 sa.column("last_activity"), sa.column("needs_person_since"), sa.column("completed_at"))
    op.execute(c.update().where(c.c.needs_person_since.is_(None),
                                sa.or_(c.c.outcome.in_(NEEDS_PERSON), c.c.contact_requested.is_(True)))
               .values(needs_person_since=c.c.last_activity))
    op.execute(c.update().where(c.c.completed_at.is_(None), c.c.completed.is_(True))
               .values(completed_at=c.c.last_activity))
    have = {i["name"] for i in sa.inspect(bind).get_indexes("conversations")}
    if "ix_conversations_queue" not in have:
        op.create_index("ix_conversations_queue", "conversations",
                        ["needs_person_since", "id", "status", "outcome", "contact_requested", "language"])
    if "ix_conversations_completion" not in have:
        op.create_index("ix_conversations_completion", "conversations",
                        ["started_at", "completed", "completed_at", "language"])


def _fill_result_criteria(bind) -> None:
    """One row per criterion that did not pass, from each stored result (in batches)."""
    c = sa.table("conversations", sa.column("id"), sa.column("result"), sa.column("started_at"))
    rc = sa.table("result_criteria", sa.column("conversation_id"), sa.column("criterion_id"),
                  sa.column("verdict"), sa.column("started_at"))
    last = ""
    while True:
        rows = bind.execute(sa.select(c.c.id, c.c.result, c.c.started_at).where(c.c.id > last, c.c.result.isnot(None))
                            .order_by(c.c.id).limit(2000)).all()
        if not rows:
            return
        batch = []
        for cid, result, started in rows:
            if isinstance(result, str):
                result = json.loads(result)
            seen = set()
            for criterion in (result or {}).get("criteria") or []:
                cr_id, verdict = str(criterion.get("id", ""))[:64], criterion.get("verdict")
                if verdict in NOT_PASSED and cr_id and cr_id not in seen:
                    seen.add(cr_id)
                    batch.append({"conversation_id": cid, "criterion_id": cr_id, "verdict": verdict,
                                  "started_at": started})
        if batch:
            bind.execute(rc.insert(), batch)
        last = rows[-1][0]


def downgrade() -> None:
    raise NotImplementedError("downgrades are not supported: restore the backup taken before the upgrade")
