"""The turn's statements run on the DBAPI cursor (bot/db/fastpath.py) store and read
exactly what SQLAlchemy's own `Connection.execute` does with the same Core
statements: same rows, same types (datetimes, booleans, dates, JSON)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.db.schema import audit_log, conversations, events, message_replies, tombstones, transcript_index
from bot.store import Store
from dbkit import postgres_schema, postgres_url  # noqa: F401  (fixture)

NOW = dt.datetime(2026, 11, 30, 15, 4, 5, 123456, tzinfo=dt.timezone.utc)
RESULT = {"outcome": "eligible_after_washout", "criteria": [{"id": "x", "verdict": "wait"}], "today": "2026-11-30"}


def steps(sql):
    """(statement, values) of a conversation's life: created, events, words, replies, updated, deleted."""
    cid = "fastpath-conversation-1"
    first = {"cid": cid, "now": NOW, "seq": 2, "state": '{"slots": {}}', "trial_id": "NCT0", "expected": 0,
             "current_question": "diagnosis", "contact_requested": True, "completed": False, "outcome": None,
             "result": None, "criteria_version": None, "eligible_from": None, "reference": "K7Q-4M2"}
    later = dict(first, seq=4, expected=2, completed=True, outcome="eligible_after_washout", result=RESULT,
                 criteria_version="3", eligible_from=dt.date(2027, 2, 28), current_question=None)
    fields = ("current_question", "completed", "outcome", "result", "criteria_version", "eligible_from")
    return [
        (sql.new_conversation, [first]),
        (sql.add_events, [{"cid": cid, "seq": 1, "timestamp": 1.5, "type": "user", "data": '{"text": "hi"}'},
                          {"cid": cid, "seq": 2, "timestamp": 1.5, "type": "action", "data": "{}"}]),
        (sql.new_document, [{"cid": cid, "text": "hi"}]),
        (sql.append_words, [{"cid": cid, "added": "\nI have scleroderma"}]),
        (sql.add_reply, [{"cid": cid, "mid": "m-1", "replies": "[]"}]),
        (sql.update(fields), [later]),
        (sql.tombstone, [{"cid": "gone-1", "now": NOW, "reason": "test", "mid": "m-9", "replies": "[1]"}]),
        (sql.audit, [{"cid": "gone-1", "now": NOW, "reason": "test", "actor": "patient"}]),
    ]


def tables_of(store: Store) -> dict[str, list]:
    with store.engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in (conversations, events, message_replies, transcript_index, tombstones, audit_log)}


def _same_as_core(fast: Store, core: Store) -> None:
    raw = fast.engine.raw_connection()
    try:
        cur = raw.cursor()
        for prepared, rows in steps(fast.statements):
            if len(rows) > 1:
                prepared.run_many(cur, rows)
            else:
                prepared.run(cur, rows[0])
        raw.commit()
        cur.close()
    finally:
        raw.close()
    with core.engine.begin() as conn:
        for prepared, rows in steps(core.statements):
            conn.execute(prepared.statement, rows)
    fast_rows, core_rows = tables_of(fast), tables_of(core)
    assert fast_rows == core_rows
    summary = fast.conversation("fastpath-conversation-1")
    assert summary["result"] == RESULT and summary["eligible_from"] == dt.date(2027, 2, 28)
    assert summary["completed"] is True and summary["turns"] == 2
    with fast.turn("fastpath-conversation-1") as turn:   # the read statement: snapshot and event count
        seen = turn.read("no-such-message")
        assert (seen.state, seen.last_seq, seen.replies, seen.reference) == ('{"slots": {}}', 4, None, "K7Q-4M2")
        assert turn.read("m-1").replies == []
    with fast.turn("gone-1") as turn:
        assert turn.read("m-9").replies == [1]


def test_fast_path_matches_core_on_sqlite(tmp_path):
    fast, core = Store(f"sqlite:///{tmp_path / 'fast.sqlite3'}"), Store(f"sqlite:///{tmp_path / 'core.sqlite3'}")
    _same_as_core(fast, core)
    fast.engine.dispose()
    core.engine.dispose()


@pytest.mark.postgres
def test_fast_path_matches_core_on_postgresql(postgres_url):
    with postgres_schema(postgres_url, "fast") as fast_url, postgres_schema(postgres_url, "core") as core_url:
        fast, core = Store(fast_url), Store(core_url)
        _same_as_core(fast, core)
        fast.engine.dispose()
        core.engine.dispose()
