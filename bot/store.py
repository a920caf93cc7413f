"""The store: the append-only event log, per-conversation summaries, idempotency,
deletion tombstones and the audit log (SQLAlchemy 2; SQLite or PostgreSQL).

A turn runs inside `Store.turn(sender)`: one transaction holding the
conversation's lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction
advisory lock), committed whole or rolled back whole.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import (JSON, Boolean, Column, Date, DateTime, Float, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, bindparam, create_engine, delete, event, insert, select, text, update)
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
    """JSON for a text column: UTF-8 as is, but \\u escapes when a lone surrogate could not be stored."""
    text_ = json.dumps(value, ensure_ascii=False)
    try:
        text_.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text_


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

    def _create_schema(self) -> None:
        """Create missing tables; several workers starting at once on a new database must not collide."""
        delay = 0.05
        for attempt in range(20):
            try:
                with self.engine.begin() as conn:
                    if not self.sqlite:  # one worker at a time creates the schema
                        conn.execute(text("SELECT pg_advisory_xact_lock(7262001)"))
                    metadata.create_all(conn)
                return
            except (OperationalError, IntegrityError, ProgrammingError):
                if attempt == 19:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    # -- turns -------------------------------------------------------------------
    @contextmanager
    def turn(self, sender: str) -> Iterator["ConversationTx"]:
        """One transaction holding this conversation's lock; retried while the database is busy."""
        with self._begin() as conn:
            if not self.sqlite:  # wait for the conversation's lock no longer than the busy timeout
                conn.execute(text(f"SET LOCAL lock_timeout = {int(self.busy_timeout_ms)}"))
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:id, 0))"), {"id": sender})
            yield ConversationTx(conn, sender)

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        delay = 0.05
        for attempt in range(self.retries + 1):
            try:
                conn = self.engine.connect().execution_options(immediate=True)
                trans = conn.begin()
                break
            except OperationalError:
                if attempt == self.retries:
                    raise StoreBusy("the database is busy or unreachable")
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            yield conn
            trans.commit()
        except OperationalError as exc:
            trans.rollback()
            raise StoreBusy("the database failed during the turn") from exc
        except BaseException:
            trans.rollback()
            raise
        finally:
            conn.close()

    # -- reading ------------------------------------------------------------------
    def events(self, sender: str) -> list[dict[str, Any]]:
        """The conversation's event log, in order."""
        with self.engine.connect() as conn:
            return ConversationTx(conn, sender).events()

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
            with self.turn(sender) as tx:
                tx.delete(reason, actor=actor)
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


SUMMARY_FIELDS = ("current_question", "contact_requested")
RESULT_FIELDS = ("completed", "outcome", "result", "criteria_version", "eligible_from")


def _update_summary(fields: tuple[str, ...]):
    return update(conversations).where(conversations.c.id == bindparam("cid")).values(
        {**{f: bindparam(f) for f in fields}, "last_activity": bindparam("now"), "last_seq": bindparam("seq"),
         "turns": conversations.c.turns + 1, "state": bindparam("state")})


# the turn's statements, built once (building a statement costs more than running it on SQLite)
_READ_REPLY = select(replies.c.replies).where(replies.c.conversation_id == bindparam("cid"),
                                              replies.c.message_id == bindparam("mid"))
_READ_EVENTS = select(events.c.data).where(events.c.conversation_id == bindparam("cid")).order_by(events.c.seq)
_READ_SEQ = select(conversations.c.last_seq).where(conversations.c.id == bindparam("cid"))
_READ_STATE = select(conversations.c.state, conversations.c.last_seq).where(conversations.c.id == bindparam("cid"))
_NEW_CONVERSATION = insert(conversations)
_ADD_EVENTS = insert(events)
_ADD_REPLY = insert(replies)
_UPDATE = _update_summary(SUMMARY_FIELDS)
_UPDATE_WITH_RESULT = _update_summary(SUMMARY_FIELDS + RESULT_FIELDS)


class ConversationTx:
    """One conversation inside a turn's transaction."""

    def __init__(self, conn: Connection, sender: str) -> None:
        self.conn, self.sender = conn, sender

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self.conn.execute(_READ_EVENTS, {"cid": self.sender})]

    def state(self) -> tuple[str | None, int]:
        """The stored state snapshot (JSON, or None) and the last event's number (0: new conversation)."""
        row = self.conn.execute(_READ_STATE, {"cid": self.sender}).first()
        return (row[0], row[1]) if row else (None, 0)

    def stored_replies(self, message_id: str) -> list[dict[str, Any]] | None:
        """The replies already given to this message id, if it was processed."""
        row = self.conn.execute(_READ_REPLY, {"cid": self.sender, "mid": message_id}).first()
        return json.loads(row[0]) if row else None

    def append(self, new_events: list[dict[str, Any]], summary: dict[str, Any], trial_id: str,
               message_id: str | None = None, reply_list: list | None = None, state: str | None = None) -> None:
        """Append events, update the summary row, remember the replies to a message id."""
        now = now_utc()
        start = self.conn.execute(_READ_SEQ, {"cid": self.sender}).scalar()
        if start is None:
            start = 0
            self.conn.execute(_NEW_CONVERSATION, dict(id=self.sender, trial_id=trial_id, started_at=now,
                                                      last_activity=now, turns=0, last_seq=0, status="new",
                                                      completed=False, contact_requested=False))
        if new_events:
            self.conn.execute(_ADD_EVENTS, [
                {"conversation_id": self.sender, "seq": start + i + 1, "timestamp": e.get("timestamp") or time.time(),
                 "type": e.get("event", ""), "data": dumps(e)}
                for i, e in enumerate(new_events)])
            from bot.staff.models import index_events  # the staff screens' full-text index
            index_events(self.conn, self.sender, new_events)
        with_result = "outcome" in summary
        fields = SUMMARY_FIELDS + (RESULT_FIELDS if with_result else ())
        params = {f: summary.get(f) for f in fields}
        params.update(cid=self.sender, now=now, seq=start + len(new_events), state=state)
        self.conn.execute(_UPDATE_WITH_RESULT if with_result else _UPDATE, params)
        if message_id:
            self.conn.execute(_ADD_REPLY, dict(conversation_id=self.sender, message_id=message_id,
                                               replies=dumps(reply_list or [])))

    def remember_replies(self, message_id: str | None, reply_list: list) -> None:
        """Keep the replies to a message id (idempotent retries) without touching the log."""
        if message_id:
            self.conn.execute(insert(replies).values(conversation_id=self.sender, message_id=message_id,
                                                     replies=dumps(reply_list)))

    def delete(self, reason: str, actor: str = "patient") -> None:
        """Remove the conversation's events, answers and contact details; leave a tombstone."""
        for table, column in ((events, events.c.conversation_id), (replies, replies.c.conversation_id),
                              (conversations, conversations.c.id)):
            self.conn.execute(delete(table).where(column == self.sender))
        from bot.staff.models import forget_conversation  # full-text index rows, follow-up notes
        forget_conversation(self.conn, self.sender)
        self.conn.execute(insert(tombstones).values(conversation_id=self.sender, deleted_at=now_utc(), reason=reason))
        self.conn.execute(insert(audit).values(at=now_utc(), actor=actor, action="delete_conversation",
                                               target=self.sender, detail=reason))


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
