"""Deletion that really forgets (issue 14, item 4): after "delete my answers" and after a purge, a
unique word the patient typed is in no byte of the database file, its write-ahead log or its
shared-memory file, once the forget pass has run (it runs by itself within
PRESCREEN_FORGET_DELAY_SECONDS; these tests trigger it, or wait for it)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from bot.db.schema import conversations
from chatkit import Patient, make_app, store_of
from dbkit import postgres_url  # noqa: F401  (fixture)

WORD = "quixoticzebrafinch"


def database_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def the_word_is_stored(path: Path) -> bool:
    data = database_bytes(path).lower()
    return WORD.encode() in data or WORD[:10].encode() in data   # the word, or its stem in the index


@pytest.fixture()
def app(tmp_path):
    app = make_app(tmp_path / "forget.sqlite3", FORGET_DELAY_SECONDS=0.5)
    yield app
    store_of(app).engine.dispose()


def talk(app, words: str) -> Patient:
    patient = Patient(app.test_client())
    patient.start()
    patient.says(f"54, and my {words} hurts")
    patient.says(f"I have {words} trouble")
    return patient


def test_the_word_is_on_disk_before_anything_is_deleted(app, tmp_path):
    talk(app, WORD)
    assert the_word_is_stored(tmp_path / "forget.sqlite3")     # so the tests below can fail


def test_delete_my_answers_leaves_no_trace_in_any_file(app, tmp_path):
    patient = talk(app, WORD)
    patient.says("delete my answers")
    patient.taps("Yes, delete them")
    assert store_of(app).conversation(patient.sender) is None
    deadline = time.time() + 10                                 # the background pass (0.5 s here)
    while the_word_is_stored(tmp_path / "forget.sqlite3") and time.time() < deadline:
        time.sleep(0.2)
    assert not the_word_is_stored(tmp_path / "forget.sqlite3")


def test_a_purge_leaves_no_trace_in_any_file(app, tmp_path):
    patient = talk(app, WORD)
    talk(app, "ordinaryword")
    store = store_of(app)
    with store.engine.begin() as conn:
        conn.execute(conversations.update().where(conversations.c.id == patient.sender)
                     .values(last_activity=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)))
    assert store.purge(30) == 1                                 # the pass runs before purge returns
    assert not the_word_is_stored(tmp_path / "forget.sqlite3")
    assert b"ordinaryword" in database_bytes(tmp_path / "forget.sqlite3")   # the others' words stay


def test_the_pass_runs_on_postgresql(tmp_path, postgres_url):
    """On PostgreSQL the pass VACUUMs the tables that hold patient text (see README for what that
    does and does not reach); it must run cleanly after a deletion and a purge."""
    from dbkit import postgres_schema
    from bot.db.forget import forget_pass
    with postgres_schema(postgres_url, "forget") as url:
        app = make_app(tmp_path / "unused.sqlite3", DATABASE_URL=url, FORGET_DELAY_SECONDS=0.1)
        try:
            patient = talk(app, WORD)
            patient.says("delete my answers")
            patient.taps("Yes, delete them")
            store = store_of(app)
            assert store.conversation(patient.sender) is None
            store.forgetter.flush()
            forget_pass(store.engine)              # again, directly: no error, nothing pending
            assert store.forgetter._pending is False
        finally:
            store_of(app).engine.dispose()
