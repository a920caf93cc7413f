"""The store: conversations' event logs, summary rows, replies per message id,
deletion (with tombstones) and the audit log, on the database of `bot.db`.

A turn reads its conversation (`Store.turn(sender)` → `TurnConnection.read`),
runs without holding any lock, then writes in one short transaction (`save` /
`delete`; SQLite: BEGIN IMMEDIATE) that checks the summary row is still at the
event number it read; if another turn of the conversation came first,
`Conflict`, and the turn runs again on the new state. Committed whole or rolled
back whole. The turn's statements are Core statements compiled once
(`bot.db.fastpath`).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from sqlalchemy import and_, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from bot import db
from bot.db.fastpath import Prepared
from bot.db.forget import Forgetter
from bot.db.schema import (audit_log, conversations, events, message_replies, notifications, now_utc,
                           result_criteria, tombstones, transcript_index)
from bot.db.search import transcript_lines
from bot.events import Event, Reply
from bot.jsoncodec import dumps, loads

PURGE_REASON = "retention:"   # a purged conversation's tombstone reason starts with it
DEFAULT_LANGUAGE = "en"
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def language_of(state: str) -> str:
    """The conversation's language in a state snapshot (State.to_json): its slot `language`, a
    language code ("en", "es"); "en" when the slot is absent, None or not a code."""
    try:
        slots = loads(state).get("slots")
    except (ValueError, AttributeError):
        return DEFAULT_LANGUAGE
    value = slots.get("language") if isinstance(slots, dict) else None
    return value if isinstance(value, str) and LANGUAGE_CODE.fullmatch(value) else DEFAULT_LANGUAGE
SUMMARY_FIELDS = ("current_question", "contact_requested", "reference")
RESULT_FIELDS = ("completed", "outcome", "result", "criteria_version", "eligible_from")
# the outcomes after which a person of the study team follows the patient up (so does a contact
# request): the work queue holds them, and the team is notified when a conversation first needs one
NEEDS_PERSON = ("likely_eligible", "eligible_after_washout", "needs_review")
CONTACT_REQUESTED = "contact_requested"   # a notification's reason besides those outcomes
NOT_PASSED = ("fail", "wait", "unknown")  # the verdicts kept in result_criteria


def not_passed(result: dict[str, Any] | None) -> dict[str, str]:
    """Criterion id -> verdict of a result's criteria that did not pass (the rows of result_criteria)."""
    verdicts: dict[str, str] = {}
    for criterion in (result or {}).get("criteria") or []:
        if criterion.get("verdict") in NOT_PASSED:
            verdicts.setdefault(str(criterion.get("id"))[:64], criterion["verdict"])
    return verdicts


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


class Conflict(Exception):
    """Another turn of this conversation was stored after this one read it: run the turn again."""


class Store:
    """The conversations' persistent state.

    `upgrade`: bring the schema up to date on start (False: refuse to start on an out-of-date
    database, SchemaOutOfDate, so that `prescreen db upgrade` is run deliberately).
    """

    def __init__(self, url: str, retries: int = 5, busy_timeout_ms: int = 5000, upgrade: bool = True,
                 forget_delay: float = 60.0) -> None:
        self.url = url
        self.retries = retries
        self.busy_timeout_ms = busy_timeout_ms
        self.engine = db.open_engine(url, busy_timeout_ms)
        self.sqlite = self.engine.dialect.name == "sqlite"
        self._ensure_schema(upgrade)
        self.statements = TurnStatements(self.engine.dialect)
        self.forgetter = Forgetter(self.engine, forget_delay)   # clears what deleted rows leave behind

    def _ensure_schema(self, upgrade: bool) -> None:
        if not upgrade:
            current, newest = db.current_revision(self.engine), db.head()
            if current != newest:
                raise db.SchemaOutOfDate(f"the database is at schema revision {current or 'none'}, this version "
                                         f"needs {newest}: run `prescreen db upgrade` (or unset "
                                         f"PRESCREEN_AUTO_UPGRADE=0)")
            return
        for last in attempts(20):   # several workers starting at once on a new database
            try:
                db.upgrade(self.engine)
                return
            except (OperationalError, IntegrityError, ProgrammingError):
                if last:
                    raise

    # -- turns -------------------------------------------------------------------
    @contextmanager
    def turn(self, sender: str) -> Iterator["TurnConnection"]:
        """A turn's database connection: read the conversation, then write the turn in one short
        transaction."""
        for last in attempts(self.retries + 1):
            try:
                raw = self.engine.raw_connection()
                break
            except OperationalError:
                if last:
                    raise StoreBusy("the database is unreachable")
        try:
            yield TurnConnection(self, raw, sender)
        finally:
            raw.close()

    # -- reading ------------------------------------------------------------------
    def events(self, sender: str) -> list[Event]:
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
        """What is left of the conversation's deletions: id, time, reason."""
        columns = (tombstones.c.id, tombstones.c.conversation_id, tombstones.c.deleted_at, tombstones.c.reason)
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).where(tombstones.c.conversation_id == sender)).mappings()
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
        reason = f"{PURGE_REASON} inactive for more than {older_than_days} days" + (f", outcome {outcome}" if outcome else "")
        for sender in ids:
            with self.turn(sender) as turn:
                turn.delete(reason, actor=actor)
        self.add_audit(actor, "purge", detail=f"{len(ids)} conversation(s); {reason}")
        if ids:
            self.forgetter.deleted()
            self.forgetter.flush()   # a purge returns only once nothing of them is left
        return len(ids)

    def audit_entries(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]

    def add_burst_audit(self, actor: str, action: str, target: str | None, address: str | None,
                        window_seconds: int = 60) -> None:
        """Record a failed or refused login, in aggregate: a repeat of the same action on the same
        account from the same address within the window adds to the first row's count ("3 attempts")
        instead of a row per request (a flood of anonymous POSTs must not flood the log)."""
        a = audit_log.c
        since = now_utc() - dt.timedelta(seconds=window_seconds)
        with db.write(self.engine) as conn:
            row = conn.execute(select(a.id, a.detail).where(
                a.action == action, a.target == target, a.address == address, a.at >= since)
                .order_by(a.id.desc()).limit(1)).first()
            if row is None:
                conn.execute(insert(audit_log).values(at=now_utc(), actor=actor, action=action, target=target,
                                                      address=address, detail="1 attempt"))
            else:
                counted = re.match(r"(\d+) attempt", row.detail or "")
                count = (int(counted[1]) if counted else 1) + 1
                conn.execute(update(audit_log).where(a.id == row.id).values(detail=f"{count} attempts"))

    def add_audit(self, actor: str, action: str, target: str | None = None, address: str | None = None,
                  detail: str | None = None, conn: Connection | None = None) -> None:
        """Record who did what, when, from where."""
        values = dict(at=now_utc(), actor=actor, action=action, target=target, address=address, detail=detail)
        if conn is not None:
            conn.execute(insert(audit_log).values(**values))
        else:
            with db.write(self.engine) as c:
                c.execute(insert(audit_log).values(**values))


@dataclass
class Seen:
    """What a turn reads before it runs: the replies already given to its message id, if any,
    else the conversation's state snapshot and last event number (0: a new conversation)."""

    replies: list[Reply] | None
    state: str | None = None
    last_seq: int = 0
    events: list[Event] = field(default_factory=list)  # the log, only for a row without snapshot
    reference: str | None = None                        # the conversation's reference code, once it has one


class TurnStatements:
    """The turn's statements (Core, from bot.db.schema), compiled once for one dialect."""

    def __init__(self, dialect) -> None:
        c, r, t = conversations.c, message_replies.alias("r"), tombstones.alias("t")
        cid = bindparam("cid", type_=c.id.type)
        self._dialect = dialect
        self._updates: dict[tuple[str, ...], Prepared] = {}
        one = select(literal(1).label("one")).subquery("one")
        # in one statement: the replies already given to the message id (also by a deletion),
        # the snapshot, the event count, the reference code and the language
        self.read = Prepared(
            select(func.coalesce(r.c.replies, t.c.replies), c.state, c.last_seq, c.reference, c.language).select_from(
                one.outerjoin(r, and_(r.c.conversation_id == cid, r.c.message_id == bindparam("mid")))
                .outerjoin(t, and_(t.c.conversation_id == cid, t.c.message_id == bindparam("mid")))
                .outerjoin(conversations, c.id == cid)), dialect)
        self.read_events = Prepared(select(events.c.data).where(events.c.conversation_id == cid)
                                    .order_by(events.c.seq), dialect)
        # PostgreSQL locks the row; SQLite's BEGIN IMMEDIATE already excludes every other writer
        self.lock_row = Prepared(select(c.last_seq).where(c.id == cid).with_for_update(), dialect)
        self.new_conversation = Prepared(insert(conversations).values(
            id=cid, trial_id=bindparam("trial_id"), started_at=bindparam("now"), last_activity=bindparam("now"),
            turns=1, last_seq=bindparam("seq"), status="new", state=bindparam("state"),
            language=bindparam("language", DEFAULT_LANGUAGE),
            **{f: bindparam(f) for f in SUMMARY_FIELDS + RESULT_FIELDS}), dialect)
        self.add_events = Prepared(insert(events).values(
            conversation_id=cid, seq=bindparam("seq"), timestamp=bindparam("timestamp"), type=bindparam("type"),
            data=bindparam("data")), dialect)
        self.add_reply = Prepared(insert(message_replies).values(
            conversation_id=cid, message_id=bindparam("mid"), replies=bindparam("replies")), dialect)
        # the staff screens' full-text document: the patient's words, one message a line
        ti = transcript_index
        self.append_words = Prepared(update(ti).where(ti.c.conversation_id == cid)
                                     .values(text=ti.c.text + bindparam("added", type_=ti.c.text.type)), dialect)
        self.new_document = Prepared(insert(ti).values(conversation_id=cid, text=bindparam("text"),
                                                       language=bindparam("language", DEFAULT_LANGUAGE)), dialect)
        # the document's language follows the conversation's (the search's per-row configuration)
        self.document_language = Prepared(update(ti).where(ti.c.conversation_id == cid)
                                          .values(language=bindparam("language")), dialect)
        # a result or a contact request: the coordinator's work (issue 16)
        self.completed_at = Prepared(update(conversations).where(c.id == cid).values(completed_at=bindparam("now")),
                                     dialect)
        self.needs_person = Prepared(update(conversations).where(c.id == cid, c.needs_person_since.is_(None))
                                     .values(needs_person_since=bindparam("now")), dialect)
        self.notify = Prepared(insert(notifications).values(conversation_id=cid, reason=bindparam("reason"),
                                                            created_at=bindparam("now"), attempts=0), dialect)
        rc = result_criteria
        self.forget_criteria = Prepared(delete(rc).where(rc.c.conversation_id == cid), dialect)
        self.add_criterion = Prepared(insert(rc).from_select(
            ["conversation_id", "criterion_id", "verdict", "started_at"],
            select(c.id, bindparam("criterion", type_=rc.c.criterion_id.type),
                   bindparam("verdict", type_=rc.c.verdict.type), c.started_at).where(c.id == cid)), dialect)
        # everything else of the conversation goes with its row (ON DELETE CASCADE)
        self.forget = Prepared(delete(conversations).where(c.id == cid), dialect)
        self.tombstone = Prepared(insert(tombstones).values(
            conversation_id=cid, deleted_at=bindparam("now"), reason=bindparam("reason"),
            message_id=bindparam("mid"), replies=bindparam("replies")), dialect)
        self.audit = Prepared(insert(audit_log).values(
            at=bindparam("now"), actor=bindparam("actor"), action="delete_conversation", target=cid,
            detail=bindparam("reason")), dialect)

    def update(self, fields: tuple[str, ...]) -> Prepared:
        """The summary row's update setting these fields, only if no other turn was stored since
        it was read. Only the fields the turn changed: on SQLite an indexed column in the SET list
        rewrites its index entries even when its value stays the same."""
        statement = self._updates.get(fields)
        if statement is None:
            c = conversations.c
            statement = self._updates[fields] = Prepared(
                update(conversations).where(c.id == bindparam("cid"), c.last_seq == bindparam("expected"))
                .values(**{f: bindparam(f) for f in fields}, last_activity=bindparam("now"),
                        last_seq=bindparam("seq"), turns=c.turns + 1, state=bindparam("state")), self._dialect)
        return statement


class TurnConnection:
    """One turn's reads (before the turn runs, without a lock) and its write: a short
    transaction that stores the turn only if no other turn of the conversation was
    stored in between (Conflict: run the turn again on the new state)."""

    def __init__(self, store: Store, raw, sender: str) -> None:
        self.store, self.raw, self.sender = store, raw, sender
        self.sql = store.statements
        self.dbapi = store.engine.dialect.dbapi
        self.language: str | None = None   # the stored language, once read (None: not read)

    def read(self, message_id: str | None) -> Seen:
        """The replies already given to this message id, or the state the turn starts from."""
        cur = self.raw.cursor()
        try:
            replies, state, last_seq, reference, language = self.sql.read.run(
                cur, {"cid": self.sender, "mid": message_id}).fetchone()
            self.language = language
            if replies is not None:
                return Seen(loads(replies))
            seen = Seen(None, state, last_seq or 0, reference=reference)
            if seen.last_seq and seen.state is None:  # stored before snapshots: the log
                seen.events = [loads(r[0]) for r in self.sql.read_events.run(cur, {"cid": self.sender})]
            if not self.store.sqlite:  # PostgreSQL began a transaction: none stays open while the turn runs
                self.raw.rollback()
            return seen
        except self.dbapi.Error as exc:
            self._rollback()
            raise StoreBusy("the database failed while reading the conversation") from exc
        finally:
            cur.close()

    def save(self, expected_seq: int, new_events: list[Event], summary: dict[str, Any], trial_id: str,
             message_id: str | None, reply_list: list[Reply], state: str) -> None:
        """Append the turn's events, set the summary fields the turn changed (`summary`, some of
        SUMMARY_FIELDS + RESULT_FIELDS) and the conversation's language (the state's slot `language`)
        when it changed, remember the replies to the message id."""
        language = language_of(state)
        # only a changed language is written: on SQLite an indexed column in the SET list rewrites its
        # index entries (language is in the list's covering indexes) even when its value stays the same
        language_changed = language != self.language
        fields = tuple(summary) + (("language",) if language_changed else ())
        with self._write() as cur:
            values = {f: summary.get(f) for f in SUMMARY_FIELDS + RESULT_FIELDS}
            values.update(cid=self.sender, now=now_utc(), seq=expected_seq + len(new_events), state=state,
                          expected=expected_seq, trial_id=trial_id, completed=bool(summary.get("completed")),
                          contact_requested=bool(summary.get("contact_requested")), language=language)
            if expected_seq == 0:   # two first turns at once: the second fails on the primary key
                self.sql.new_conversation.run(cur, values)
            elif self.sql.update(fields).run(cur, values).rowcount != 1:
                raise Conflict()
            if language_changed and expected_seq:
                self.sql.document_language.run(cur, {"cid": self.sender, "language": language})
            if new_events:
                self.sql.add_events.run_many(cur, [
                    {"cid": self.sender, "seq": expected_seq + i + 1, "type": e.get("event", ""), "data": dumps(e),
                     "timestamp": e.get("timestamp") or time.time()} for i, e in enumerate(new_events)])
                words = transcript_lines(new_events)
                if words and not self.sql.append_words.run(cur, {"cid": self.sender, "added": "\n" + words}).rowcount:
                    self.sql.new_document.run(cur, {"cid": self.sender, "text": words, "language": language})
            if message_id:  # the same id stored meanwhile (a retry raced this one): IntegrityError, Conflict
                self.sql.add_reply.run(cur, {"cid": self.sender, "mid": message_id, "replies": dumps(reply_list)})
            if "result" in summary or summary.get("contact_requested"):
                self._work(cur, summary, values["now"])
        self.language = language

    def _work(self, cur, summary: dict[str, Any], now: dt.datetime) -> None:
        """A turn that gave a result or asked to be contacted: when it completed, the criteria that did
        not pass, and, when the conversation now needs a person for the first time (or the patient
        newly asks to be contacted), a notification for the study team (sent later, bot/notify.py)."""
        cid = {"cid": self.sender, "now": now}
        outcome = summary.get("outcome")
        if "result" in summary:
            self.sql.completed_at.run(cur, cid)
            self.sql.forget_criteria.run(cur, cid)
            verdicts = not_passed(summary.get("result"))
            if verdicts:
                self.sql.add_criterion.run_many(cur, [{**cid, "criterion": k, "verdict": v}
                                                      for k, v in verdicts.items()])
        contact = bool(summary.get("contact_requested"))
        if not (contact or outcome in NEEDS_PERSON):
            return
        first = self.sql.needs_person.run(cur, cid).rowcount == 1
        if contact or first:
            self.sql.notify.run(cur, {**cid, "reason": CONTACT_REQUESTED if contact else outcome})

    def delete(self, reason: str, actor: str = "patient", expected_seq: int | None = None,
               message_id: str | None = None, reply_list: list[Reply] | None = None) -> None:
        """Remove the conversation and everything that holds its data (events, answers, contact
        details, staff notes: ON DELETE CASCADE); leave a tombstone and an audit entry. With
        expected_seq, only if no other turn came in between; the replies to message_id are kept
        on the tombstone, so that a retry does not delete (and audit) twice."""
        with self._write() as cur:
            if expected_seq is not None:
                row = self.sql.lock_row.run(cur, {"cid": self.sender}).fetchone()
                if (row[0] if row else 0) != expected_seq:
                    raise Conflict()
            self.sql.forget.run(cur, {"cid": self.sender})
            values = {"cid": self.sender, "now": now_utc(), "reason": reason, "actor": actor,
                      "mid": message_id, "replies": dumps(reply_list or []) if message_id else None}
            self.sql.tombstone.run(cur, values)
            self.sql.audit.run(cur, values)

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
        except BaseException:   # Conflict, or the process stopping: nothing of the turn is kept
            self._rollback()
            raise
        finally:
            cur.close()

    def _rollback(self) -> None:
        try:
            self.raw.rollback()
        except self.dbapi.Error:
            self.raw.invalidate()  # a broken connection: the pool opens a new one
