"""Every table of the prescreen database, in one SQLAlchemy `MetaData`.

This module is the schema's only owner: the store, the staff screens, the
exports and the migrations all import their tables from here. Every table that
holds a patient's data references `conversations.id` with ON DELETE CASCADE, so
deleting the conversation row ("delete my answers", `prescreen purge`) removes
everything hanging off it, by construction (tests/test_schema.py checks it,
for every table that is ever added). Tombstones and the audit log outlive the
conversation on purpose and hold no health data.

A change here needs a migration in `bot/db/migrations/versions/` (see
docs/ARCHITECTURE.md); a test compares this metadata with a migrated database.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Boolean, Column, Date, DateTime, Float, ForeignKey, Index, Integer, MetaData, String,
                        Table, Text, UniqueConstraint)

# foreign keys get a name of their own, the same on every database (migrations refer to them)
metadata = MetaData(naming_convention={"ix": "ix_%(column_0_label)s", "fk": "fk_%(table_name)s_%(referred_table_name)s"})

ID = String(128)   # a conversation id: the channel's `sender` (1-128 characters)


def conversation_ref(**kwargs) -> Column:
    """The column that ties a row to its conversation: deleted with it."""
    return Column("conversation_id", ID, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, **kwargs)


conversations = Table(
    "conversations", metadata,
    Column("id", ID, primary_key=True),
    Column("trial_id", String(64), nullable=False),
    Column("criteria_version", String(32)),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_activity", DateTime(timezone=True), nullable=False),
    Column("turns", Integer, nullable=False, default=0),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("completed", Boolean, nullable=False, default=False),
    Column("current_question", String(64)),
    Column("outcome", String(32), index=True),
    Column("eligible_from", Date),
    Column("contact_requested", Boolean, nullable=False, default=False),
    Column("status", String(32), nullable=False, default="new", index=True),
    Column("result", JSON),
    # the code printed on the patient's result (bot/reference.py): unique, a label for staff
    Column("reference", String(16)),
    # the conversation's state after its last turn, derived from the event log in the same
    # transaction (so a turn need not re-read the whole log); the log stays the record
    Column("state", Text),
    # the conversation's language ("en", "es"): the dialogue slot `language` after the last turn
    # (None or absent: "en"), set by the store whenever it changes; the default is the database's
    # only (an insert through this metadata into an older table must not name the column)
    Column("language", String(8), nullable=False, server_default="en"),
    # the coordinator's work (issue 16): when the conversation first needed a person (a result that
    # needs one, or a contact request; the work queue's order), when its latest result was given,
    # who follows it up (a staff user name), the next action's date and the screening visit's date
    Column("needs_person_since", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("owner", String(64)),
    Column("next_action_on", Date),
    Column("visit_on", Date),
)

_c = conversations.c
_FILTERED = (_c.outcome, _c.status, _c.contact_requested, _c.completed, _c.language)
# The staff list, newest first: unfiltered, by outcome, by follow-up status, by language. Each also
# holds every filtered column, so that the filters and the summary counts are answered from the index
# alone, never from the rows (which carry the result JSON).
Index("ix_conversations_started_cover", _c.started_at, _c.id, *_FILTERED)
Index("ix_conversations_outcome_cover", _c.outcome, _c.started_at, _c.id, _c.status, _c.contact_requested,
      _c.completed, _c.language)
Index("ix_conversations_status_cover", _c.status, _c.started_at, _c.id, _c.outcome, _c.contact_requested,
      _c.completed, _c.language)
Index("ix_conversations_language_cover", _c.language, _c.started_at, _c.id, _c.outcome, _c.status,
      _c.contact_requested, _c.completed)
Index("ux_conversations_reference", _c.reference, unique=True)
# the work queue, oldest first: those that need a person, with what the queue filters on
Index("ix_conversations_queue", _c.needs_person_since, _c.id, _c.status, _c.outcome, _c.contact_requested,
      _c.language)
# the insights page's median time to complete, from the index alone
Index("ix_conversations_completion", _c.started_at, _c.completed, _c.completed_at, _c.language)
# a full-text search gives conversation ids: their filtered columns, without the rows
Index("ix_conversations_id_cover", _c.id, *_FILTERED, _c.started_at)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    conversation_ref(),
    Column("seq", Integer, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("type", String(32), nullable=False),
    Column("data", Text, nullable=False),
    UniqueConstraint("conversation_id", "seq", name="uq_events_conversation_seq"),
)

# the replies given to each message id, so that a retried message is answered again, not run twice
message_replies = Table(
    "message_replies", metadata,
    conversation_ref(primary_key=True),
    Column("message_id", String(128), primary_key=True),
    Column("replies", Text, nullable=False),
)

# what is left of a deleted conversation: its id, when and why (no health data), and the replies to
# the message that deleted it (so that a retry of that message is not a second deletion)
tombstones = Table(
    "tombstones", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", ID, nullable=False, index=True),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("message_id", String(128)),
    Column("replies", Text),
)

audit_log = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200)),
    Column("address", String(64)),
    Column("detail", Text),
)

staff_users = Table(
    "staff_users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
    # bumped by a password reset or disable: signs every existing session out
    Column("session_version", Integer, nullable=False, default=1),
    # two-factor sign-in (bot/staff/twofactor.py): the TOTP secret, encrypted; the last time step used
    Column("totp_secret", Text),
    Column("totp_last_step", Integer),
    UniqueConstraint("username", name="uq_staff_users_username"),
)

staff_recovery_codes = Table(
    "staff_recovery_codes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("code_hash", String(256), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

# staff sessions held on the server (issue 14): the cookie carries a random token, the table only its
# SHA-256; logout, disable, a password reset and idle time end a session here, so a copied cookie stops
# working at once
staff_sessions = Table(
    "staff_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
)

login_failures = Table(
    "staff_login_failures", metadata,
    Column("key", String(200), primary_key=True),   # "user:<name>" or "addr:<address>"
    Column("failures", Integer, nullable=False, default=0),
    Column("last_failure", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),
)

# every follow-up change, oldest first: the status (and the one before), a note, and the owner,
# next-action date and visit date as the change left them (None: not changed by this entry)
followups = Table(
    "followups", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    conversation_ref(),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("previous_status", String(32)),
    Column("note", Text),
    Column("owner", String(64)),
    Column("next_action_on", Date),
    Column("visit_on", Date),
    Index("ix_followups_conversation", "conversation_id", "id"),
    Index("ix_followups_status", "status", "conversation_id"),
)

# a try to reach the patient: when, how (phone, e-mail, ...), with what result, by whom
contact_attempts = Table(
    "contact_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    conversation_ref(),
    Column("at", DateTime(timezone=True), nullable=False),            # when it happened
    Column("recorded_at", DateTime(timezone=True), nullable=False),   # when it was written down
    Column("actor", String(128), nullable=False),
    Column("method", String(32), nullable=False),
    Column("result", String(32), nullable=False),
    Column("note", Text),
    Index("ix_contact_attempts_conversation", "conversation_id", "id"),
)

# a "to check" item of the result ticked off (or ticked again) by staff, with a note; `item_key` is
# the SHA-256 of the item's English text, so that a tick stays with its item when a correction
# re-evaluates the result and the list changes
check_items = Table(
    "check_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    conversation_ref(),
    Column("item_key", String(64), nullable=False),
    Column("item", Text, nullable=False),
    Column("done", Boolean, nullable=False, default=True),
    Column("note", Text),
    Column("actor", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("conversation_id", "item_key", name="uq_check_items_conversation_item"),
)

# a staff correction of an answer: the patient's value (`original`), the corrected one, who, when and
# why, and the result before and after it (re-evaluated as of the conversation's own date)
corrections = Table(
    "corrections", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    conversation_ref(),
    Column("answer_id", String(64), nullable=False),
    Column("original", JSON),
    Column("value", JSON),
    Column("reason", Text, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome_before", String(32)),
    Column("outcome_after", String(32)),
    Column("result_before", JSON),
    Index("ix_corrections_conversation", "conversation_id", "id"),
)

# the criteria of each conversation's latest result that did not pass (fail, wait, unknown), with the
# conversation's start, for the insights page's "ruled out by" and "sent to review by" counts
result_criteria = Table(
    "result_criteria", metadata,
    conversation_ref(primary_key=True),
    Column("criterion_id", String(64), primary_key=True),
    Column("verdict", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Index("ix_result_criteria_verdict", "verdict", "started_at", "criterion_id", "conversation_id"),
)

# notifications to the study team waiting to be sent (an outbox written in the turn's transaction):
# why (contact_requested or the outcome), never any health data; sent ones are kept as a record
notifications = Table(
    "notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    conversation_ref(index=True),
    Column("reason", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Index("ix_notifications_pending", "sent_at", "next_try_at"),
)

# the patients' own words, one row per conversation (its messages one per line), for the staff
# search; bot/db/search.py adds each dialect's full-text index over it. `language` is the
# conversation's (conversations.language, kept in step by the store in the same transaction), for a
# per-row text-search configuration (PostgreSQL: Spanish stems for Spanish conversations)
transcript_index = Table(
    "transcript_index", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    conversation_ref(),
    Column("text", Text, nullable=False),
    Column("language", String(8), nullable=False, server_default="en"),
    UniqueConstraint("conversation_id", name="uq_transcript_index_conversation"),
)

# Tables that outlive a deleted conversation on purpose (no health data in them).
KEPT_AFTER_DELETION = frozenset({"tombstones", "audit", "staff_users", "staff_login_failures", "staff_sessions",
                                 "staff_recovery_codes"})


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
