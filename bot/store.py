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
                        UniqueConstraint, create_engine, delete, event, func, insert, select, text, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

metadata = MetaData()

conversations = Table(
    "conversations", metadata,
    Column("id", String(128), primary_key=True),
    Column("trial_id", String(64), nullable=False),
    Column("criteria_version", String(32)),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_activity", DateTime(timezone=True), nullable=False),
    Column("turns", Integer, nullable=False, default=0),
    Column("completed", Boolean, nullable=False, default=False),
    Column("current_question", String(64)),
    Column("outcome", String(32), index=True),
    Column("eligible_from", Date),
    Column("contact_requested", Boolean, nullable=False, default=False),
    Column("status", String(32), nullable=False, default="new", index=True),
    Column("result", JSON),
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

    def __init__(self, url: str | None = None, retries: int = 5) -> None:
        self.url = url or default_url()
        self.retries = retries
        self.sqlite = self.url.startswith("sqlite")
        if self.sqlite:
            self.engine = create_engine(self.url, connect_args={"timeout": 5, "check_same_thread": False},
                                        poolclass=NullPool if ":memory:" not in self.url else None)
            _sqlite_setup(self.engine)
        else:
            url = self.url.replace("postgresql://", "postgresql+psycopg://", 1) if self.url.startswith("postgresql://") else self.url
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        metadata.create_all(self.engine)

    # -- turns -------------------------------------------------------------------
    @contextmanager
    def turn(self, sender: str) -> Iterator["ConversationTx"]:
        """One transaction holding this conversation's lock; retried while the database is busy."""
        with self._begin() as conn:
            if not self.sqlite:
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


class ConversationTx:
    """One conversation inside a turn's transaction."""

    def __init__(self, conn: Connection, sender: str) -> None:
        self.conn, self.sender = conn, sender

    def events(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(select(events.c.data).where(events.c.conversation_id == self.sender)
                                 .order_by(events.c.seq))
        return [json.loads(r[0]) for r in rows]

    def stored_replies(self, message_id: str) -> list[dict[str, Any]] | None:
        """The replies already given to this message id, if it was processed."""
        row = self.conn.execute(select(replies.c.replies).where(
            replies.c.conversation_id == self.sender, replies.c.message_id == message_id)).first()
        return json.loads(row[0]) if row else None

    def append(self, new_events: list[dict[str, Any]], summary: dict[str, Any], trial_id: str,
               message_id: str | None = None, reply_list: list | None = None) -> None:
        """Append events, update the summary row, remember the replies to a message id."""
        now = now_utc()
        row = self.conn.execute(select(conversations.c.turns).where(conversations.c.id == self.sender)).first()
        if row is None:
            self.conn.execute(insert(conversations).values(id=self.sender, trial_id=trial_id, started_at=now,
                                                           last_activity=now, turns=0, status="new",
                                                           completed=False, contact_requested=False))
        start = self.conn.execute(select(func.coalesce(func.max(events.c.seq), 0))
                                  .where(events.c.conversation_id == self.sender)).scalar_one()
        if new_events:
            self.conn.execute(insert(events), [
                {"conversation_id": self.sender, "seq": start + i + 1, "timestamp": e.get("timestamp") or time.time(),
                 "type": e.get("event", ""), "data": json.dumps(e, ensure_ascii=False)}
                for i, e in enumerate(new_events)])
            from bot.staff.models import index_events  # the staff screens' full-text index
            index_events(self.conn, self.sender, new_events, start + 1)
        values = dict(summary, last_activity=now, turns=conversations.c.turns + 1)
        self.conn.execute(update(conversations).where(conversations.c.id == self.sender).values(**values))
        if message_id:
            self.conn.execute(insert(replies).values(conversation_id=self.sender, message_id=message_id,
                                                     replies=json.dumps(reply_list or [], ensure_ascii=False)))

    def remember_replies(self, message_id: str | None, reply_list: list) -> None:
        """Keep the replies to a message id (idempotent retries) without touching the log."""
        if message_id:
            self.conn.execute(insert(replies).values(conversation_id=self.sender, message_id=message_id,
                                                     replies=json.dumps(reply_list, ensure_ascii=False)))

    def delete(self, reason: str) -> None:
        """Remove the conversation's events, answers and contact details; leave a tombstone."""
        for table, column in ((events, events.c.conversation_id), (replies, replies.c.conversation_id),
                              (conversations, conversations.c.id)):
            self.conn.execute(delete(table).where(column == self.sender))
        from bot.staff.models import forget_conversation  # full-text index rows, follow-up notes
        forget_conversation(self.conn, self.sender)
        self.conn.execute(insert(tombstones).values(conversation_id=self.sender, deleted_at=now_utc(), reason=reason))
        self.conn.execute(insert(audit).values(at=now_utc(), actor="patient", action="delete_conversation",
                                               target=self.sender, detail=reason))


def _sqlite_setup(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so a turn holds the write lock from its start."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = conn.get_execution_options().get("immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
