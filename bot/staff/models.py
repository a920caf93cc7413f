"""The staff screens' tables: accounts, failed-login counters, follow-up history
and the transcript full-text index (all on `bot.store.metadata`).

The full-text index holds the patients' own words, one row per user message,
in `transcript_index`. SQLite searches it through an FTS5 table kept in step by
triggers (external content); PostgreSQL through a GIN index on
`to_tsvector('english', text)`. Nothing here scans the event log.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Iterable

from sqlalchemy import (Boolean, Column, DateTime, Index, Integer, String, Text, Table, UniqueConstraint, delete,
                        insert, inspect, select, text)
from sqlalchemy.engine import Connection, Engine

from bot.store import conversations, events, metadata

FTS_CONFIG = "english"  # PostgreSQL text search configuration (SQLite: porter stemmer)

users = Table(
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
    UniqueConstraint("username", name="uq_staff_users_username"),
)

login_failures = Table(
    "staff_login_failures", metadata,
    Column("key", String(200), primary_key=True),   # "user:<name>" or "addr:<address>"
    Column("failures", Integer, nullable=False, default=0),
    Column("last_failure", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),
)

followups = Table(
    "followups", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("previous_status", String(32)),
    Column("note", Text),
    Index("ix_followups_conversation", "conversation_id", "id"),
)

transcript_index = Table(
    "transcript_index", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(128), nullable=False),
    Column("seq", Integer),
    Column("text", Text, nullable=False),
    Index("ix_transcript_index_conversation", "conversation_id"),
)

# Extra indexes on the store's tables for the staff list (created by create_schema,
# also on databases whose tables already exist).
EXTRA_INDEXES = (
    Index("ix_conversations_started_id", conversations.c.started_at, conversations.c.id),
    Index("ix_conversations_outcome_started", conversations.c.outcome, conversations.c.started_at),
    Index("ix_conversations_status_started", conversations.c.status, conversations.c.started_at),
    Index("ix_conversations_contact_started", conversations.c.contact_requested, conversations.c.started_at),
)

STAFF_TABLES = (users, login_failures, followups, transcript_index)

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS transcript_fts USING fts5("
    "text, content='transcript_index', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS transcript_index_ai AFTER INSERT ON transcript_index BEGIN "
    "INSERT INTO transcript_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS transcript_index_ad AFTER DELETE ON transcript_index BEGIN "
    "INSERT INTO transcript_fts(transcript_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
)
_POSTGRES_FTS = (
    f"CREATE INDEX IF NOT EXISTS ix_transcript_index_tsv ON transcript_index "
    f"USING gin (to_tsvector('{FTS_CONFIG}', text))",
)

_ready: set[str] = set()


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def create_schema(bind: Engine | Connection) -> None:
    """Create the staff tables, the extra indexes and the full-text index (idempotent).

    A transcript index created here for the first time is filled from the
    event log of the conversations already stored.
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            _create(conn)
    else:
        _create(bind)


def _create(conn: Connection) -> None:
    dialect = conn.dialect.name
    had_fts = dialect == "sqlite" and inspect(conn).has_table("transcript_fts")
    metadata.create_all(conn, tables=list(STAFF_TABLES))
    for index in EXTRA_INDEXES:
        index.create(conn, checkfirst=True)
    for statement in _SQLITE_FTS if dialect == "sqlite" else _POSTGRES_FTS if dialect == "postgresql" else ():
        conn.exec_driver_sql(statement)
    indexed = conn.execute(select(transcript_index.c.id).limit(1)).first() is not None
    if not indexed:
        if conn.execute(select(events.c.id).where(events.c.type == "user").limit(1)).first() is not None:
            rebuild_index(conn)
    elif dialect == "sqlite" and not had_fts:
        conn.exec_driver_sql("INSERT INTO transcript_fts(transcript_fts) VALUES ('rebuild')")
    _ready.add(_key(conn))


def _key(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=True)


def ensure_schema(conn: Connection) -> None:
    """create_schema once per database for this process (cheap afterwards)."""
    if _key(conn) not in _ready:
        _create(conn)


# -- the transcript index ---------------------------------------------------------

PAYLOAD_RE = re.compile(r"^/(\w+)(\{.*\})?$", re.S)


def payload_words(text_: str) -> str | None:
    """The words a button payload stands for (`/inform{"q": "Yes"}` -> "Yes"); None if not a payload."""
    match = PAYLOAD_RE.match(text_.strip())
    if not match:
        return None
    if not match.group(2):
        return ""
    try:
        entities = json.loads(match.group(2))
    except ValueError:
        return None
    if not isinstance(entities, dict):
        return None
    return " ".join(str(v) for v in entities.values() if isinstance(v, str))


def searchable_text(event: dict[str, Any]) -> str | None:
    """The patient's words in a user event (button payloads as their values), or None."""
    if event.get("event") != "user":
        return None
    said = event.get("text")
    if not isinstance(said, str) or not said.strip():
        return None
    words = payload_words(said)
    if words is None:
        return said
    return words or None


def index_events(conn: Connection, sender: str, new_events: Iterable[dict[str, Any]],
                 first_seq: int | None = None) -> None:
    """Add the patient's words in these new events to the full-text index (inside the turn's transaction)."""
    ensure_schema(conn)
    rows = []
    for i, event in enumerate(new_events):
        words = searchable_text(event)
        if words:
            rows.append({"conversation_id": sender, "text": words,
                         "seq": first_seq + i if first_seq is not None else None})
    if rows:
        conn.execute(insert(transcript_index), rows)


def forget_conversation(conn: Connection, sender: str) -> None:
    """Delete a conversation's index rows and follow-up notes (the patient's deletion)."""
    ensure_schema(conn)
    conn.execute(delete(transcript_index).where(transcript_index.c.conversation_id == sender))
    conn.execute(delete(followups).where(followups.c.conversation_id == sender))


def rebuild_index(conn: Connection, batch: int = 5000) -> int:
    """Fill the transcript index from the event log (first start after an upgrade); the rows added."""
    conn.execute(delete(transcript_index))
    added = 0
    last_id = 0
    while True:
        chunk = conn.execute(select(events.c.id, events.c.conversation_id, events.c.seq, events.c.data)
                             .where(events.c.type == "user", events.c.id > last_id)
                             .order_by(events.c.id).limit(batch)).all()
        if not chunk:
            break
        rows = []
        for event_id, sender, seq, data in chunk:
            last_id = event_id
            try:
                words = searchable_text(json.loads(data))
            except ValueError:
                continue
            if words:
                rows.append({"conversation_id": sender, "seq": seq, "text": words})
        if rows:
            conn.execute(insert(transcript_index), rows)
            added += len(rows)
    return added


def fts_words(query: str) -> list[str]:
    """The search words of a free-text query (letters and digits only)."""
    return re.findall(r"\w+", query.lower())[:20]


def matching_index_rows(dialect: str, query: str):
    """A select of transcript_index ids and conversation ids whose text matches every word of `query`.

    None when the query has no words.
    """
    words = fts_words(query)
    if not words:
        return None
    ti = transcript_index
    if dialect == "sqlite":
        match = " ".join(f'"{w}"' for w in words)
        fts_ids = text("SELECT rowid FROM transcript_fts WHERE transcript_fts MATCH :fts_query") \
            .bindparams(fts_query=match).columns(Column("rowid", Integer))
        return select(ti.c.id, ti.c.conversation_id).where(ti.c.id.in_(select(fts_ids.subquery().c.rowid)))
    if dialect == "postgresql":
        condition = text(f"to_tsvector('{FTS_CONFIG}', transcript_index.text) @@ "
                         f"plainto_tsquery('{FTS_CONFIG}', :fts_query)").bindparams(fts_query=" ".join(words))
        return select(ti.c.id, ti.c.conversation_id).where(condition)
    # other databases: a plain (slow) substring match on every word
    condition = [ti.c.text.ilike(f"%{w}%") for w in words]
    return select(ti.c.id, ti.c.conversation_id).where(*condition)
