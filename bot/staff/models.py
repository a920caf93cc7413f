"""The staff screens' tables: accounts, failed-login counters, follow-up history
and the transcript full-text index (all on `bot.store.metadata`).

The full-text index holds the patients' own words, one row per conversation
(its messages one per line), in `transcript_index`. SQLite searches it through an FTS5 table kept in step by
triggers (external content); PostgreSQL through a GIN index on
`to_tsvector('english', translate(text, '<>', '  '))`. Nothing here scans the
event log.
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
# PostgreSQL's parser would drop anything that looks like an HTML tag; patients' words are not markup
PG_DOCUMENT = f"to_tsvector('{FTS_CONFIG}', translate(text, '<>', '  '))"

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
    Column("text", Text, nullable=False),       # the patient's messages, one per line
    UniqueConstraint("conversation_id", name="uq_transcript_index_conversation"),
)

# Extra indexes on the store's tables for the staff list (created by create_schema,
# also on databases whose tables already exist).
_c = conversations.c
_FILTERED = (_c.outcome, _c.status, _c.contact_requested, _c.completed)
EXTRA_INDEXES = (
    # The list, newest first: unfiltered, by outcome, by follow-up status. Each also holds
    # every filtered column, so that the filters and the summary counts are answered from
    # the index alone, never from the rows (which carry the result JSON).
    Index("ix_conversations_started_cover", _c.started_at, _c.id, *_FILTERED),
    Index("ix_conversations_outcome_cover", _c.outcome, _c.started_at, _c.id, _c.status, _c.contact_requested,
          _c.completed),
    Index("ix_conversations_status_cover", _c.status, _c.started_at, _c.id, _c.outcome, _c.contact_requested,
          _c.completed),
    # a full-text search gives conversation ids: their filtered columns, without the rows
    Index("ix_conversations_id_cover", _c.id, *_FILTERED, _c.started_at),
)

STAFF_TABLES = (users, login_failures, followups, transcript_index)

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS transcript_fts USING fts5("
    "text, content='transcript_index', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS transcript_index_ai AFTER INSERT ON transcript_index BEGIN "
    "INSERT INTO transcript_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS transcript_index_ad AFTER DELETE ON transcript_index BEGIN "
    "INSERT INTO transcript_fts(transcript_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS transcript_index_au AFTER UPDATE ON transcript_index BEGIN "
    "INSERT INTO transcript_fts(transcript_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO transcript_fts(rowid, text) VALUES (new.id, new.text); END",
)
_POSTGRES_FTS = (
    f"CREATE INDEX IF NOT EXISTS ix_transcript_index_tsv ON transcript_index USING gin ({PG_DOCUMENT})",
)

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
    if dialect == "postgresql":  # workers starting together: one at a time creates the schema
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7262002)")
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
    return encodable(" ".join(str(v) for v in entities.values() if isinstance(v, str)))


def encodable(words: str) -> str:
    """The text as the database can hold it (no NUL or control characters, no lone surrogates)."""
    from bot.nlu import clean_text
    return clean_text(words)


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


def _one_line(words: str) -> str:
    return " ".join(encodable(words).split())


def transcript_lines(new_events: Iterable[dict[str, Any]]) -> str:
    """The patient's words in these events for the conversation's full-text document, one message
    a line ("" when there are none); the store appends them in the turn's transaction."""
    lines = []
    for event in new_events:
        words = searchable_text(event)
        line = _one_line(words) if words else ""
        if line:
            lines.append(line)
    return "\n".join(lines)


def rebuild_index(conn: Connection, batch: int = 20000) -> int:
    """Fill the transcript index from the event log (first start after an upgrade); the documents written."""
    conn.execute(delete(transcript_index))
    written = 0
    current, lines = None, []
    last = (None, 0)

    def flush() -> None:
        nonlocal written
        if current is not None and lines:
            conn.execute(insert(transcript_index).values(conversation_id=current, text="\n".join(lines)))
            written += 1

    while True:
        stmt = select(events.c.conversation_id, events.c.seq, events.c.data).where(events.c.type == "user")
        if last[0] is not None:
            stmt = stmt.where((events.c.conversation_id > last[0]) |
                              ((events.c.conversation_id == last[0]) & (events.c.seq > last[1])))
        chunk = conn.execute(stmt.order_by(events.c.conversation_id, events.c.seq).limit(batch)).all()
        if not chunk:
            break
        for sender, seq, data in chunk:
            last = (sender, seq)
            if sender != current:
                flush()
                current, lines = sender, []
            try:
                words = searchable_text(json.loads(data))
            except ValueError:
                continue
            if words and _one_line(words):
                lines.append(_one_line(words))
    flush()
    return written


def fts_words(query: str) -> list[str]:
    """The search words of a free-text query (letters and digits only)."""
    return re.findall(r"\w+", query.lower())[:20]


def matching_documents(dialect: str, query: str):
    """A select of the conversation ids whose patients' words contain every word of `query`.

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
        return select(ti.c.conversation_id).where(ti.c.id.in_(select(fts_ids.subquery().c.rowid)))
    if dialect == "postgresql":
        condition = text(f"{PG_DOCUMENT} @@ plainto_tsquery('{FTS_CONFIG}', :fts_query)") \
            .bindparams(fts_query=" ".join(words))
        return select(ti.c.conversation_id).where(condition)
    # other databases: a plain (slow) substring match on every word
    return select(ti.c.conversation_id).where(*[ti.c.text.ilike(f"%{w}%") for w in words])


def matching_line(document: str, query: str) -> str | None:
    """The first line (message) of a document that contains every query word, near enough
    (a word matches its stem: "ulcers" finds "ulcer"); None if none does."""
    stems = [w[:max(4, len(w) - 2)] for w in fts_words(query)]
    for line in document.split("\n"):
        tokens = re.findall(r"\w+", line.lower())
        if all(any(t.startswith(stem) or stem.startswith(t) and len(t) >= 4 for t in tokens) for stem in stems):
            return line
    return None
