"""The store: the append-only event log, per-conversation summaries, idempotency,
deletion tombstones and the audit log (SQLAlchemy 2; SQLite or PostgreSQL).

A turn reads its conversation (`Store.session(sender).read`), runs without
holding any lock, then writes in one short transaction (`save` / `delete`,
SQLite: BEGIN IMMEDIATE) that checks the summary row is still at the event
number it read; if another turn of the conversation came first, Conflict, and
the turn runs again on the new state. Committed whole or rolled back whole.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import orjson
from sqlalchemy import (JSON, Boolean, Column, Date, DateTime, Float, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, create_engine, event, insert, select, text)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

metadata = MetaData()

conversations = Table(
    "conversations", metadata,
    Column("id", String(128), primary_key=True),
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
    # the conversation's state after its last turn, derived from the event log in the same
    # transaction (so a turn need not re-read the whole log); the log stays the record
    Column("state", Text),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(128), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("type", String(32), nullable=False),
    Column("data", Text, nullable=False),
    UniqueConstraint("conversation_id", "seq", name="uq_events_conversation_seq"),
)

replies = Table(
    "message_replies", metadata,
    Column("conversation_id", String(128), primary_key=True),
    Column("message_id", String(128), primary_key=True),
    Column("replies", Text, nullable=False),
)

tombstones = Table(
    "tombstones", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(128), nullable=False, index=True),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(200), nullable=False),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200)),
    Column("address", String(64)),
    Column("detail", Text),
)


def dumps(value: Any) -> str:
    """JSON for a text column (orjson: UTF-8 as is). A lone surrogate, which UTF-8 cannot hold,
    or anything else orjson refuses goes through json with \\u escapes."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    """Stored JSON back (json for what only it wrote: \\u escapes of lone surrogates)."""
    try:
        return orjson.loads(text)
    except ValueError:
        return json.loads(text)


def attempts(count: int) -> Iterator[bool]:
    """Retries with growing pauses (0.05 s, doubling, at most 1 s): yields whether this is the last
    attempt; the loop breaks out when one succeeds."""
    delay = 0.05
    for attempt in range(count):
        yield attempt == count - 1
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


class StoreBusy(Exception):
    """The database stayed busy or unreachable through every retry."""


def default_url() -> str:
    """PRESCREEN_DATABASE_URL, or a SQLite file under var/."""
    url = os.environ.get("PRESCREEN_DATABASE_URL")
    if url:
        return url
    Path("var").mkdir(exist_ok=True)
    return "sqlite:///" + str(Path("var/prescreen.sqlite3").resolve())


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Store:
    """The conversations' persistent state."""

    def __init__(self, url: str | None = None, retries: int = 5, busy_timeout_ms: int = 5000) -> None:
        self.url = url or default_url()
        self.retries = retries
        self.busy_timeout_ms = busy_timeout_ms
        self.sqlite = self.url.startswith("sqlite")
        if self.sqlite:
            # a pool keeps connections open: closing SQLite's last connection checkpoints the WAL (milliseconds)
            self.engine = create_engine(self.url, connect_args={"timeout": busy_timeout_ms / 1000,
                                                                "check_same_thread": False},
                                        pool_size=8, max_overflow=16, pool_timeout=30)
            _sqlite_setup(self.engine, busy_timeout_ms)
        else:
            url = self.url.replace("postgresql://", "postgresql+psycopg://", 1) if self.url.startswith("postgresql://") else self.url
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        self._create_schema()
        self.statements = _Statements(self.engine.dialect)

    def _create_schema(self) -> None:
        """Create missing tables; several workers starting at once on a new database must not collide."""
        from bot.staff.models import create_schema
        for last in attempts(20):
            try:
                with self.engine.begin() as conn:
                    if not self.sqlite:  # one worker at a time creates the schema
                        conn.execute(text("SELECT pg_advisory_xact_lock(7262001)"))
                    metadata.create_all(conn)
                    create_schema(conn)   # the staff tables and the transcript index the turns write
                return
            except (OperationalError, IntegrityError, ProgrammingError):
                if last:
                    raise

    # -- turns -------------------------------------------------------------------
    @contextmanager
    def session(self, sender: str) -> Iterator["Session"]:
        """A turn's connection: read the conversation, then write its turn in one short transaction."""
        for last in attempts(self.retries + 1):
            try:
                raw = self.engine.raw_connection()
                break
            except OperationalError:
                if last:
                    raise StoreBusy("the database is unreachable")
        try:
            yield Session(self, raw, sender)
        finally:
            raw.close()

    # -- reading ------------------------------------------------------------------
    def events(self, sender: str) -> list[dict[str, Any]]:
        """The conversation's event log, in order."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(events.c.data).where(events.c.conversation_id == sender).order_by(events.c.seq))
            return [loads(r[0]) for r in rows]

    def conversation(self, sender: str) -> dict[str, Any] | None:
        """The conversation's summary row."""
        with self.engine.connect() as conn:
            row = conn.execute(select(conversations).where(conversations.c.id == sender)).mappings().first()
            return dict(row) if row else None

    def tombstones(self, sender: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(tombstones).where(tombstones.c.conversation_id == sender)).mappings()
            return [dict(r) for r in rows]

    def purge(self, older_than_days: int, outcome: str | None = None, actor: str = "prescreen purge") -> int:
        """Delete conversations whose last activity is older than the cutoff (as a patient's deletion,
        tombstone and all); audited; returns how many."""
        cutoff = now_utc() - dt.timedelta(days=older_than_days)
        query = select(conversations.c.id).where(conversations.c.last_activity < cutoff)
        if outcome:
            query = query.where(conversations.c.outcome == outcome)
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(query)]
        reason = f"retention: inactive for more than {older_than_days} days" + (f", outcome {outcome}" if outcome else "")
        for sender in ids:
            with self.session(sender) as session:
                session.delete(reason, actor=actor)
        self.add_audit(actor, "purge", detail=f"{len(ids)} conversation(s); {reason}")
        return len(ids)

    def audit_entries(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(audit).order_by(audit.c.id)).mappings()]

    def add_audit(self, actor: str, action: str, target: str | None = None, address: str | None = None,
                  detail: str | None = None, conn: Connection | None = None) -> None:
        """Record who did what, when, from where."""
        values = dict(at=now_utc(), actor=actor, action=action, target=target, address=address, detail=detail)
        if conn is not None:
            conn.execute(insert(audit).values(**values))
        else:
            with self.engine.begin() as c:
                c.execute(insert(audit).values(**values))


class Conflict(Exception):
    """Another turn of this conversation was stored after this one read it: run the turn again."""


@dataclass
class Seen:
    """What a turn reads before it runs: the replies already given to its message id, if any,
    else the conversation's state snapshot and last event number (0: a new conversation)."""

    replies: list[dict[str, Any]] | None
    state: str | None = None
    last_seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # the log, only for a row without snapshot


SUMMARY_FIELDS = ("current_question", "contact_requested")
RESULT_FIELDS = ("completed", "outcome", "result", "criteria_version", "eligible_from")


class _Sql:
    """A statement of the turn's hot path, run on the DBAPI connection with SQLAlchemy's own type
    conversions for its columns. SQLAlchemy's execution machinery costs more than the statement
    itself (tens of microseconds each); a turn runs six of them, two thousand turns a second."""

    def __init__(self, dialect, sql: str, columns: dict[str, Column] | None = None) -> None:
        self.sql = sql if dialect.name == "sqlite" else re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)
        self.convert = {}
        for name, column in (columns or {}).items():
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.convert[name] = process

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        for name, process in self.convert.items():
            if name in values:
                values[name] = process(values[name])
        return values


class _Statements:
    """The turn's statements for one database dialect, built once per store."""

    def __init__(self, dialect) -> None:
        from bot.staff.models import transcript_lines  # (bot.staff.models imports this module)
        self.transcript_lines = transcript_lines
        c = conversations.c
        summary = SUMMARY_FIELDS + RESULT_FIELDS
        types = {**{f: c[f] for f in summary}, "now": c.last_activity}
        self._dialect, self._types = dialect, types
        self._updates: dict[tuple[str, ...], _Sql] = {}
        # in one statement: the replies already given to the message id, the snapshot, the event count
        self.read = _Sql(dialect, "SELECT r.replies, c.state, c.last_seq FROM (SELECT 1 AS one) AS one"
                                  " LEFT JOIN message_replies r ON r.conversation_id = :cid AND r.message_id = :mid"
                                  " LEFT JOIN conversations c ON c.id = :cid")
        self.read_events = _Sql(dialect, "SELECT data FROM events WHERE conversation_id = :cid ORDER BY seq")
        # (SQLite's BEGIN IMMEDIATE already excludes every other writer)
        self.lock_row = _Sql(dialect, "SELECT last_seq FROM conversations WHERE id = :cid"
                                      + ("" if dialect.name == "sqlite" else " FOR UPDATE"))
        self.new_conversation = _Sql(
            dialect, f"INSERT INTO conversations (id, trial_id, started_at, last_activity, turns, last_seq, status, "
                     f"state, {', '.join(summary)}) VALUES (:cid, :trial_id, :now, :now, 1, :seq, 'new', :state, "
                     f"{', '.join(':' + f for f in summary)})", types)
        self.add_events = _Sql(dialect, "INSERT INTO events (conversation_id, seq, timestamp, type, data)"
                                        " VALUES (:cid, :seq, :timestamp, :type, :data)")
        self.add_reply = _Sql(dialect, "INSERT INTO message_replies (conversation_id, message_id, replies)"
                                       " VALUES (:cid, :mid, :replies)")
        # the staff screens' full-text document: the patient's words, one message a line
        self.append_words = _Sql(dialect, "UPDATE transcript_index SET text = text || :added"
                                          " WHERE conversation_id = :cid")
        self.new_document = _Sql(dialect, "INSERT INTO transcript_index (conversation_id, text) VALUES (:cid, :text)")
        self.forget = [_Sql(dialect, f"DELETE FROM {table} WHERE {column} = :cid") for table, column in (
            ("events", "conversation_id"), ("message_replies", "conversation_id"), ("conversations", "id"),
            ("transcript_index", "conversation_id"), ("followups", "conversation_id"))]
        self.tombstone = _Sql(dialect, "INSERT INTO tombstones (conversation_id, deleted_at, reason)"
                                       " VALUES (:cid, :now, :reason)", {"now": tombstones.c.deleted_at})
        self.audit = _Sql(dialect, "INSERT INTO audit (at, actor, action, target, detail)"
                                   " VALUES (:now, :actor, 'delete_conversation', :cid, :reason)", {"now": audit.c.at})

    def update(self, fields: tuple[str, ...]) -> _Sql:
        """The summary row's update setting these fields, only if no other turn was stored since
        it was read. Only the fields the turn changed: on SQLite an indexed column in the SET list
        rewrites its index entries even when its value stays the same."""
        statement = self._updates.get(fields)
        if statement is None:
            sets = "".join(f"{f} = :{f}, " for f in fields)
            statement = self._updates[fields] = _Sql(
                self._dialect, f"UPDATE conversations SET {sets}last_activity = :now, last_seq = :seq,"
                               f" turns = turns + 1, state = :state WHERE id = :cid AND last_seq = :expected",
                self._types)
        return statement


class Session:
    """One turn's reads (before the turn runs, without a lock) and its write: a short
    transaction that stores the turn only if no other turn of the conversation was
    stored in between (Conflict: run the turn again on the new state)."""

    def __init__(self, store: Store, raw, sender: str) -> None:
        self.store, self.raw, self.sender = store, raw, sender
        self.sql = store.statements
        self.dbapi = store.engine.dialect.dbapi

    def _run(self, cursor, statement: _Sql, values: dict[str, Any]):
        cursor.execute(statement.sql, statement.params(values))
        return cursor

    def read(self, message_id: str | None) -> Seen:
        """The replies already given to this message id, or the state the turn starts from."""
        cur = self.raw.cursor()
        try:
            replies, state, last_seq = self._run(cur, self.sql.read, {"cid": self.sender, "mid": message_id}).fetchone()
            if replies is not None:
                return Seen(loads(replies))
            seen = Seen(None, state, last_seq or 0)
            if seen.last_seq and seen.state is None:  # stored before snapshots: the log
                seen.events = [loads(r[0]) for r in self._run(cur, self.sql.read_events, {"cid": self.sender})]
            if not self.store.sqlite:  # PostgreSQL began a transaction: none stays open while the turn runs
                self.raw.rollback()
            return seen
        except self.dbapi.Error as exc:
            self._rollback()
            raise StoreBusy("the database failed while reading the conversation") from exc
        finally:
            cur.close()

    def save(self, expected_seq: int, new_events: list[dict[str, Any]], summary: dict[str, Any], trial_id: str,
             message_id: str | None, reply_list: list, state: str) -> None:
        """Append the turn's events, set the summary fields the turn changed (`summary`, some of
        SUMMARY_FIELDS + RESULT_FIELDS), remember the replies to the message id."""
        with self._write() as cur:
            values = {f: summary.get(f) for f in SUMMARY_FIELDS + RESULT_FIELDS}
            values.update(cid=self.sender, now=now_utc(), seq=expected_seq + len(new_events), state=state,
                          expected=expected_seq, trial_id=trial_id, completed=bool(summary.get("completed")),
                          contact_requested=bool(summary.get("contact_requested")))
            if expected_seq == 0:   # two first turns at once: the second fails on the primary key
                self._run(cur, self.sql.new_conversation, values)
            elif self._run(cur, self.sql.update(tuple(summary)), values).rowcount != 1:
                raise Conflict()
            if new_events:
                cur.executemany(self.sql.add_events.sql, [
                    {"cid": self.sender, "seq": expected_seq + i + 1, "type": e.get("event", ""), "data": dumps(e),
                     "timestamp": e.get("timestamp") or time.time()} for i, e in enumerate(new_events)])
                words = self.sql.transcript_lines(new_events)
                if words and not self._run(cur, self.sql.append_words, {"cid": self.sender,
                                                                        "added": "\n" + words}).rowcount:
                    self._run(cur, self.sql.new_document, {"cid": self.sender, "text": words})
            self._remember(cur, message_id, reply_list)

    def delete(self, reason: str, actor: str = "patient", expected_seq: int | None = None,
               message_id: str | None = None, reply_list: list | None = None) -> None:
        """Remove the conversation's events, answers, contact details and staff notes; leave a
        tombstone and an audit entry. With expected_seq, only if no other turn came in between;
        the replies to message_id are kept, so that a retry does not delete (and audit) twice."""
        with self._write() as cur:
            if expected_seq is not None:
                row = self._run(cur, self.sql.lock_row, {"cid": self.sender}).fetchone()
                if (row[0] if row else 0) != expected_seq:
                    raise Conflict()
            for statement in self.sql.forget:
                self._run(cur, statement, {"cid": self.sender})
            values = {"cid": self.sender, "now": now_utc(), "reason": reason, "actor": actor}
            self._run(cur, self.sql.tombstone, dict(values))
            self._run(cur, self.sql.audit, values)
            self._remember(cur, message_id, reply_list or [])

    def _remember(self, cur, message_id: str | None, reply_list: list) -> None:
        if message_id:  # the same id stored meanwhile (a retry raced this one): IntegrityError, Conflict
            self._run(cur, self.sql.add_reply, {"cid": self.sender, "mid": message_id, "replies": dumps(reply_list)})

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction (SQLite: BEGIN IMMEDIATE, waiting up to the busy timeout, retried;
        PostgreSQL: row locks waited for up to the same timeout); committed whole or not at all."""
        store = self.store
        for last in attempts(store.retries + 1):
            cur = self.raw.cursor()
            try:
                if store.sqlite:
                    cur.execute("BEGIN IMMEDIATE")
                else:
                    cur.execute(f"SET LOCAL lock_timeout = {int(store.busy_timeout_ms)}")
                break
            except self.dbapi.OperationalError as exc:
                cur.close()
                self._rollback()
                if last:
                    raise StoreBusy("the database is busy or unreachable") from exc
        try:
            yield cur
            self.raw.commit()
        except self.dbapi.IntegrityError as exc:
            self._rollback()
            raise Conflict() from exc
        except self.dbapi.Error as exc:
            self._rollback()
            raise StoreBusy("the database failed during the turn") from exc
        except BaseException:
            self._rollback()
            raise
        finally:
            cur.close()

    def _rollback(self) -> None:
        try:
            self.raw.rollback()
        except self.dbapi.Error:
            self.raw.invalidate()  # a broken connection: the pool opens a new one


def _sqlite_setup(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so a turn holds the write lock from its start."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = conn.get_execution_options().get("immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
