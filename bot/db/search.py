"""Full-text search in the patients' own words, for the staff list.

`transcript_index` (bot/db/schema.py) holds one document per conversation: the
patient's messages, one per line (Unicode NFC), appended by the store in each
turn's transaction (`transcript_lines`), with the conversation's language.
Each database searches it its own way, one class per dialect:

- SQLite: an FTS5 table with external content, kept in step by triggers
  (porter stemmer over the unicode61 tokenizer, diacritics removed: "tome"
  finds "tomé"; SQLite has no Spanish stemmer, so a Spanish word matches its
  own forms only as far as the English porter rules reach, e.g. a plural "s");
- PostgreSQL: one GIN index over two vectors of the accent-folded document:
  `to_tsvector('english', ...)` for every conversation, and
  `to_tsvector('spanish', ...)` for Spanish ones (empty for the others); a
  query matches either (a Spanish conversation is found by its Spanish stems
  and by its words as the English configuration reads them);
- anything else: a plain (slow) substring match.

Nothing here scans the event log, except `rebuild` (a database upgraded from a
release without the index).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable

from sqlalchemy import Column, Integer, delete, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from bot.db.schema import events, transcript_index
from bot.nlu import clean_text, parse_payload

MAX_WORDS = 20

# Accented Latin letters and what they fold to, one for one (PostgreSQL's translate() in the index
# expression, and str.translate on the query): the same letters SQLite's remove_diacritics folds
# for Spanish and its neighbours. Changing these strings changes the index expression: a migration
# must then recreate ix_transcript_index_tsv.
ACCENTED = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿ"
FOLDED = "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyy"
assert len(ACCENTED) == len(FOLDED)
_AS_INDEXED = str.maketrans(ACCENTED, FOLDED)


def fold(words: str) -> str:
    """Words without their accents ("tomé" -> "tome", "niño" -> "nino"), in lower case."""
    decomposed = unicodedata.normalize("NFKD", words.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold_as_indexed(words: str) -> str:
    """Words folded exactly as PostgreSQL's index folds a document (ACCENTED -> FOLDED)."""
    return unicodedata.normalize("NFC", words).translate(_AS_INDEXED)


class PlainSearch:
    """Any database: every word as a case-insensitive substring (no index; accents count)."""

    def install(self, conn: Connection) -> None:
        """Create the dialect's index over transcript_index (idempotent)."""

    def matching(self, words: list[str]) -> Select:
        ti = transcript_index
        return select(ti.c.conversation_id).where(*[ti.c.text.ilike(f"%{w}%") for w in words])


class SqliteSearch(PlainSearch):
    """SQLite: FTS5 over transcript_index (external content), triggers keep it in step."""

    TOKENIZE = "porter unicode61 remove_diacritics 2"
    STATEMENTS = (
        "CREATE VIRTUAL TABLE IF NOT EXISTS transcript_fts USING fts5("
        f"text, content='transcript_index', content_rowid='id', tokenize='{TOKENIZE}')",
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

    @classmethod
    def tokenizer_changed(cls, conn: Connection) -> bool:
        """Whether the FTS table was made with another tokenizer than TOKENIZE (or is missing)."""
        row = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'transcript_fts'").first()
        return row is None or f"tokenize='{cls.TOKENIZE}'" not in (row[0] or "")

    def retokenize(self, conn: Connection) -> None:
        """Make the FTS table again with TOKENIZE and index every stored document anew
        (transcript_index, the documents themselves, is not touched)."""
        for trigger in ("transcript_index_ai", "transcript_index_ad", "transcript_index_au"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        conn.exec_driver_sql("DROP TABLE IF EXISTS transcript_fts")
        self.install(conn)
        self.reindex(conn)


# PostgreSQL's parser would drop anything that looks like an HTML tag (patients' words are not markup),
# and accents are folded so that "tome" finds "tomé"
_FOLDED_TEXT = f"translate(text, '<>{ACCENTED}', '  {FOLDED}')"


class PostgresSearch(PlainSearch):
    """PostgreSQL: one GIN index over the English vector of every document and the Spanish vector
    of Spanish conversations' documents (per-row language, transcript_index.language)."""

    ENGLISH = f"to_tsvector('english', {_FOLDED_TEXT})"
    SPANISH = f"(CASE WHEN language = 'es' THEN to_tsvector('spanish', {_FOLDED_TEXT}) ELSE ''::tsvector END)"
    # the index and the queries must spell the expressions exactly alike, or the index is not used
    INDEX = f"CREATE INDEX IF NOT EXISTS ix_transcript_index_tsv ON transcript_index USING gin ({ENGLISH}, {SPANISH})"

    def install(self, conn: Connection) -> None:
        if "language" not in {c["name"] for c in inspect(conn).get_columns("transcript_index")}:
            return   # a table older than revision 0006 (migration 0001 on an old database): 0006 makes it
        conn.exec_driver_sql(self.INDEX)

    def reinstall(self, conn: Connection) -> None:
        """Make the index again (its expression changed)."""
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_transcript_index_tsv")
        self.install(conn)

    def matching(self, words: list[str]) -> Select:
        condition = text(f"({self.ENGLISH} @@ plainto_tsquery('english', :fts_query) OR "
                         f"{self.SPANISH} @@ plainto_tsquery('spanish', :fts_query))") \
            .bindparams(fts_query=fold_as_indexed(" ".join(words)))
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


SWITCH_LANGUAGE = "switch_language"   # `/switch_language{"language": "es"}`: a language code, not words


def searchable_text(event: dict[str, Any]) -> str | None:
    """The patient's words in a user event (button payloads as their values), or None."""
    if event.get("event") != "user":
        return None
    said = event.get("text")
    if not isinstance(said, str) or not said.strip():
        return None
    payload = parse_payload(said)
    if payload is not None and payload.intent == SWITCH_LANGUAGE:
        return None
    words = payload_words(said)
    if words is None:
        return said
    return words or None


def _one_line(words: str) -> str:
    """One message as a line of the document: whitespace runs as one space, composed (NFC) so that
    an accent typed as a separate mark is folded like any other."""
    return " ".join(unicodedata.normalize("NFC", clean_text(words)).split())


def _tapped_title(event: dict[str, Any], later: list[dict[str, Any]]) -> str | None:
    """A tapped button's words: its payload carries an id (`/inform{"diagnosis": "limited"}`), and
    the answer recorded in the same turn keeps the button's title in the patient's language."""
    if event.get("event") != "user" or not isinstance(event.get("text"), str):
        return None
    payload = parse_payload(event["text"])
    if payload is None or not payload.entities or len(payload.entities) != 1:
        return None
    (question, value), = payload.entities.items()
    if not isinstance(value, str):
        return None
    for slot in later:
        if slot.get("event") == "user":
            return None
        if slot.get("event") == "slot" and slot.get("name") == question and isinstance(slot.get("value"), dict):
            text = slot["value"].get("text")
            return text if isinstance(text, str) and text != value else None
    return None


def transcript_lines(new_events: Iterable[dict[str, Any]]) -> str:
    """The patient's words in these events for the conversation's document, one message a line
    ("" when there are none); the store appends them in the turn's transaction."""
    lines = []
    new_events = list(new_events)
    for i, event in enumerate(new_events):
        words = _tapped_title(event, new_events[i + 1:]) or searchable_text(event)
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
    """The search words of a free-text query (letters and digits only; accents kept)."""
    return re.findall(r"\w+", unicodedata.normalize("NFC", query).lower())[:MAX_WORDS]


def matching_documents(dialect: str, query: str) -> Select | None:
    """A select of the conversation ids whose patients' words contain every word of `query`;
    None when the query has no words."""
    words = query_words(query)
    return for_dialect(dialect).matching(words) if words else None


def matching_line(document: str, query: str) -> str | None:
    """The first line (message) of a document that contains every query word, near enough
    (a word matches its stem: "ulcers" finds "ulcer"; accents do not count: "tome" finds "tomé");
    None if none does."""
    stems = [w[:max(4, len(w) - 2)] for w in (fold(w) for w in query_words(query))]
    for line in document.split("\n"):
        tokens = re.findall(r"\w+", fold(line))
        if all(any(t.startswith(stem) or stem.startswith(t) and len(t) >= 4 for t in tokens) for stem in stems):
            return line
    return None
