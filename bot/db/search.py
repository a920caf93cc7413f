"""Full-text search in the patients' own words, for the staff list.

`transcript_index` (bot/db/schema.py) holds one document per conversation: the
patient's messages, one per line, appended by the store in each turn's
transaction (`transcript_lines`). Each database searches it its own way, one
class per dialect:

- SQLite: an FTS5 table with external content, kept in step by triggers
  (porter stemmer, diacritics removed);
- PostgreSQL: a GIN index on `to_tsvector('english', ...)`;
- anything else: a plain (slow) substring match.

Nothing here scans the event log, except `rebuild` (a database upgraded from a
release without the index).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from sqlalchemy import Column, Integer, delete, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from bot.db.schema import events, transcript_index
from bot.nlu import clean_text, parse_payload

MAX_WORDS = 20


class PlainSearch:
    """Any database: every word as a case-insensitive substring (no index)."""

    def install(self, conn: Connection) -> None:
        """Create the dialect's index over transcript_index (idempotent)."""

    def matching(self, words: list[str]) -> Select:
        ti = transcript_index
        return select(ti.c.conversation_id).where(*[ti.c.text.ilike(f"%{w}%") for w in words])


class SqliteSearch(PlainSearch):
    """SQLite: FTS5 over transcript_index (external content), triggers keep it in step."""

    STATEMENTS = (
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

    def install(self, conn: Connection) -> None:
        for statement in self.STATEMENTS:
            conn.exec_driver_sql(statement)

    def matching(self, words: list[str]) -> Select:
        ti = transcript_index
        match = " ".join(f'"{w}"' for w in words)
        fts_ids = text("SELECT rowid FROM transcript_fts WHERE transcript_fts MATCH :fts_query") \
            .bindparams(fts_query=match).columns(Column("rowid", Integer))
        return select(ti.c.conversation_id).where(ti.c.id.in_(select(fts_ids.subquery().c.rowid)))

    @staticmethod
    def reindex(conn: Connection) -> None:
        """Rebuild the FTS table from transcript_index (after the table was copied by a migration)."""
        conn.exec_driver_sql("INSERT INTO transcript_fts(transcript_fts) VALUES ('rebuild')")


class PostgresSearch(PlainSearch):
    """PostgreSQL: a GIN index on the English text-search vector of the document."""

    CONFIG = "english"
    # PostgreSQL's parser would drop anything that looks like an HTML tag; patients' words are not markup
    DOCUMENT = f"to_tsvector('{CONFIG}', translate(text, '<>', '  '))"

    def install(self, conn: Connection) -> None:
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS ix_transcript_index_tsv ON transcript_index "
                             f"USING gin ({self.DOCUMENT})")

    def matching(self, words: list[str]) -> Select:
        condition = text(f"{self.DOCUMENT} @@ plainto_tsquery('{self.CONFIG}', :fts_query)") \
            .bindparams(fts_query=" ".join(words))
        return select(transcript_index.c.conversation_id).where(condition)


def for_dialect(name: str) -> PlainSearch:
    """The search implementation of a database dialect."""
    return {"sqlite": SqliteSearch, "postgresql": PostgresSearch}.get(name, PlainSearch)()


# -- the documents ---------------------------------------------------------------

def payload_words(said: str) -> str | None:
    """The words a button payload stands for (`/inform{"q": "Yes"}` -> "Yes"); None if not a payload."""
    payload = parse_payload(said)
    if payload is None or payload.entities is None:
        return None
    return clean_text(" ".join(str(v) for v in payload.entities.values() if isinstance(v, str)))


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
    return " ".join(clean_text(words).split())


def transcript_lines(new_events: Iterable[dict[str, Any]]) -> str:
    """The patient's words in these events for the conversation's document, one message a line
    ("" when there are none); the store appends them in the turn's transaction."""
    lines = []
    for event in new_events:
        words = searchable_text(event)
        line = _one_line(words) if words else ""
        if line:
            lines.append(line)
    return "\n".join(lines)


def rebuild(conn: Connection, batch: int = 20000) -> int:
    """Fill the transcript index from the event log; the documents written."""
    from bot.jsoncodec import loads
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
                words = searchable_text(loads(data))
            except ValueError:
                continue
            if words and _one_line(words):
                lines.append(_one_line(words))
    flush()
    return written


# -- queries ---------------------------------------------------------------------

def query_words(query: str) -> list[str]:
    """The search words of a free-text query (letters and digits only)."""
    return re.findall(r"\w+", query.lower())[:MAX_WORDS]


def matching_documents(dialect: str, query: str) -> Select | None:
    """A select of the conversation ids whose patients' words contain every word of `query`;
    None when the query has no words."""
    words = query_words(query)
    return for_dialect(dialect).matching(words) if words else None


def matching_line(document: str, query: str) -> str | None:
    """The first line (message) of a document that contains every query word, near enough
    (a word matches its stem: "ulcers" finds "ulcer"); None if none does."""
    stems = [w[:max(4, len(w) - 2)] for w in query_words(query)]
    for line in document.split("\n"):
        tokens = re.findall(r"\w+", line.lower())
        if all(any(t.startswith(stem) or stem.startswith(t) and len(t) >= 4 for t in tokens) for stem in stems):
            return line
    return None
