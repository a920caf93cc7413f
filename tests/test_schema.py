"""The database schema: one owner (bot/db/schema.py), migrations that keep what a
deployment stored, and deletion that reaches every table holding a patient's
data, by construction (ON DELETE CASCADE), on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, String, Table, func, insert, select, text

from bot import db
from bot.db.schema import (KEPT_AFTER_DELETION, conversation_ref, conversations, followups, metadata)
from bot.reference import PATTERN
from bot.store import Store
from chatkit import FICTIONAL, Patient, make_app, store_of
from dbkit import postgres_schema, postgres_url  # noqa: F401  (fixture)

RELEASE_0_1 = Path(__file__).parent / "fixtures" / "release-0.1.sqlite3"
# made by release 0.1 (commit fd9d480) with the fictional trial: a completed conversation with a
# result, contact details and a staff follow-up; one in progress; one the patient deleted;
# a staff account and audit entries
COMPLETED, IN_PROGRESS, DELETED = ("release0-completed-contact-0001", "release0-in-progress-00000002",
                                   "release0-deleted-000000000003")
TABLES_0_1 = ("conversations", "events", "message_replies", "tombstones", "audit", "staff_users",
              "staff_login_failures", "followups", "transcript_index")


def rows_of(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as con:
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def full_text_ids(store: Store, word: str) -> list[str]:
    from bot.db.search import matching_documents
    with store.engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(matching_documents(conn.dialect.name, word)))


def schema_differences(engine) -> list:
    """What the migrated database has that the metadata does not, and the other way round
    (bot/db/search.py's full-text tables and indexes aside)."""
    def ours(obj, name, type_, reflected, compare_to):
        search_index = (type_ == "table" and name.startswith("transcript_fts")) or name == "ix_transcript_index_tsv"
        return not (search_index or name == "alembic_version")

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": ours, "compare_type": False})
        return compare_metadata(context, metadata)


@pytest.fixture
def old_database(tmp_path) -> Path:
    path = tmp_path / "release-0.1.sqlite3"
    shutil.copy(RELEASE_0_1, path)
    return path


def test_upgrading_a_release_0_1_database_keeps_everything(old_database, monkeypatch):
    before = {table: rows_of(old_database, table) for table in TABLES_0_1}
    deletion_reply = [r for r in before["message_replies"] if r[0] == DELETED]
    assert len(deletion_reply) == 1 and before["conversations"] and before["followups"]

    store = Store(f"sqlite:///{old_database}")
    assert db.current_revision(store.engine) == db.head()
    store.engine.dispose()

    after = {table: rows_of(old_database, table) for table in TABLES_0_1}
    for table in ("events", "audit", "staff_login_failures"):
        assert after[table] == before[table], table
    # follow-ups kept; no owner, next-action or visit date yet (revision 0007)
    assert [r[:-3] for r in after["followups"]] == before["followups"]
    assert all(r[-3:] == (None, None, None) for r in after["followups"])
    # every search document kept, in English (revision 0006)
    assert [r[:-1] for r in after["transcript_index"]] == before["transcript_index"]
    assert {r[-1] for r in after["transcript_index"]} == {"en"}
    # staff accounts kept; two-factor sign-in (revision 0005) not set up yet
    assert [r[:-2] for r in after["staff_users"]] == before["staff_users"]
    assert all(r[-2:] == (None, None) for r in after["staff_users"])
    # every conversation kept, each with a new reference code (revision 0003), all different, in
    # English (revision 0006)
    assert [r[:-7] for r in after["conversations"]] == before["conversations"]
    codes = [r[-7] for r in after["conversations"]]
    assert all(PATTERN.match(c) for c in codes) and len(set(codes)) == len(codes)
    assert {r[-6] for r in after["conversations"]} == {"en"}
    # revision 0007: a conversation that needs a person waits since its last activity, a completed
    # one completed then; nobody owns one yet, no dates are set
    names = [r[1] for r in sqlite3.connect(old_database).execute("PRAGMA table_info(conversations)")]
    for row in after["conversations"]:
        got = dict(zip(names, row))
        needs = got["outcome"] in ("likely_eligible", "eligible_after_washout", "needs_review") \
            or got["contact_requested"]
        assert got["needs_person_since"] == (got["last_activity"] if needs else None), got["id"]
        assert got["completed_at"] == (got["last_activity"] if got["completed"] else None), got["id"]
        assert (got["owner"], got["next_action_on"], got["visit_on"]) == (None, None, None)
    assert any(dict(zip(names, r))["needs_person_since"] for r in after["conversations"])
    # the deletion's reply moved to the tombstone, so that a retried "delete" is still answered
    assert after["message_replies"] == [r for r in before["message_replies"] if r[0] != DELETED]
    (tombstone,) = after["tombstones"]
    assert tombstone[:4] == before["tombstones"][0] and tombstone[4:] == deletion_reply[0][1:]

    monkeypatch.setenv("PRESCREEN_CRITERIA", FICTIONAL)
    app = make_app(old_database, criteria=FICTIONAL)
    store = store_of(app)
    assert full_text_ids(store, "Example") == [COMPLETED]   # the name the patient typed
    client = app.test_client()
    retried = Patient(client, sender=DELETED).post("/affirm", message_id=tombstone[4])
    assert retried.status_code == 200 and "have been deleted" in retried.get_data(as_text=True)
    assert len(store.tombstones(DELETED)) == 1, "a retried deletion is not a second deletion"
    patient = Patient(client, sender=IN_PROGRESS)
    events_before = len(store.events(IN_PROGRESS))
    patient.says("help")
    assert len(store.events(IN_PROGRESS)) > events_before, "the conversation goes on where it was"
    assert schema_differences(store.engine) == []
    store.engine.dispose()


def test_a_new_database_matches_the_metadata(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    assert db.current_revision(store.engine) == db.head()
    assert schema_differences(store.engine) == []
    store.engine.dispose()


def test_an_out_of_date_database_is_refused_without_auto_upgrade(old_database):
    with pytest.raises(db.SchemaOutOfDate, match="prescreen db upgrade"):
        Store(f"sqlite:///{old_database}", upgrade=False)
    assert rows_of(old_database, "conversations"), "nothing was touched"


def test_every_table_with_patient_data_cascades_from_the_conversation():
    for table in metadata.sorted_tables:
        if table.name in KEPT_AFTER_DELETION or table is conversations:
            continue
        keys = [fk for fk in table.foreign_keys if fk.column is conversations.c.id]
        assert keys and all(fk.ondelete == "CASCADE" for fk in keys), \
            f"{table.name} holds conversation data but is not deleted with its conversation"


def test_kept_tables_hold_no_patient_words():
    """What survives a deletion: ids, times, reasons, actors: no free text from the patient."""
    from bot.db.schema import tombstones
    assert {c.name for c in tombstones.columns} == {"id", "conversation_id", "deleted_at", "reason", "message_id",
                                                    "replies"}


def _deletion_reaches_every_table(url: str) -> None:
    """A conversation with a follow-up note, plus a table added to the metadata now, then deleted:
    nothing of it is left in any table but the tombstones and the audit log."""
    extra = Table("test_added_patient_table", metadata, Column("id", Integer, primary_key=True),
                  conversation_ref(), Column("note", String(100)))
    try:
        store = Store(url)   # a new database: every table of the metadata, the added one too
        sender = "deletion-reaches-every-table-01"
        app_events = [{"event": "user", "text": "I have scleroderma", "timestamp": 1.0},
                      {"event": "action", "name": "action_listen", "timestamp": 1.0}]
        with store.turn(sender) as turn:
            turn.save(0, app_events, {"current_question": "diagnosis"}, "T", "m-1", [{"text": "ok"}], "{}")
        with store.engine.begin() as conn:
            conn.execute(insert(followups).values(conversation_id=sender, at=func.now(), actor="coordinator",
                                                  status="contacted", note="called her"))
            conn.execute(insert(extra).values(conversation_id=sender, note="patient data"))
        assert full_text_ids(store, "scleroderma") == [sender]

        with store.turn(sender) as turn:
            turn.delete("test", expected_seq=len(app_events), message_id="m-2", reply_list=[{"text": "deleted"}])

        with store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                if table.name in KEPT_AFTER_DELETION:
                    continue
                column = table.c.id if table is conversations else table.c.conversation_id
                left = conn.execute(select(func.count()).select_from(table).where(column == sender)).scalar()
                assert left == 0, f"{table.name} kept {left} row(s) of a deleted conversation"
        assert full_text_ids(store, "scleroderma") == []
        assert [t["reason"] for t in store.tombstones(sender)] == ["test"]
        with store.turn(sender) as turn:   # the deletion's retry is answered from the tombstone
            assert turn.read("m-2").replies == [{"text": "deleted"}]
        extra.drop(store.engine)
        store.engine.dispose()
    finally:
        metadata.remove(extra)


def test_deletion_reaches_every_table_sqlite(tmp_path):
    _deletion_reaches_every_table(f"sqlite:///{tmp_path / 'delete.sqlite3'}")


@pytest.mark.postgres
def test_deletion_reaches_every_table_postgresql(postgres_url):
    with postgres_schema(postgres_url, "deletion") as url:
        _deletion_reaches_every_table(url)


@pytest.mark.postgres
def test_postgresql_upgrade_from_release_0_1_keeps_everything(postgres_url):
    """A PostgreSQL database at release 0.1's schema (migration 0001) with rows, upgraded."""
    from alembic import command
    with postgres_schema(postgres_url, "upgrade") as url:
        engine = db.open_engine(url)
        with engine.begin() as conn:
            config = db.alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
            conn.execute(text("DROP TABLE alembic_version"))   # release 0.1 had none
            conn.execute(text("INSERT INTO conversations (id, trial_id, started_at, last_activity, turns, last_seq,"
                              " completed, contact_requested, status) VALUES ('kept', 'T', now(), now(), 1, 1,"
                              " false, false, 'new'), ('other', 'T', now(), now(), 1, 1, false, false, 'new')"))
            conn.execute(text("INSERT INTO events (conversation_id, seq, timestamp, type, data) VALUES"
                              " ('kept', 1, 1.0, 'user', '{\"event\": \"user\", \"text\": \"sore fingers\"}'),"
                              " ('gone', 1, 1.0, 'user', '{\"event\": \"user\", \"text\": \"left behind\"}')"))
            conn.execute(text("INSERT INTO transcript_index (conversation_id, text) VALUES ('kept', 'sore fingers')"))
            conn.execute(text("INSERT INTO tombstones (conversation_id, deleted_at, reason) VALUES"
                              " ('gone', now(), 'patient asked')"))
            conn.execute(text("INSERT INTO message_replies (conversation_id, message_id, replies) VALUES"
                              " ('gone', 'm9', '[]'), ('kept', 'm1', '[1]')"))
        engine.dispose()
        store = Store(url)
        assert db.current_revision(store.engine) == db.head()
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT conversation_id, seq FROM events")).all() == [("kept", 1)]
            assert conn.execute(text("SELECT conversation_id, message_id FROM message_replies")).all() == [("kept", "m1")]
            assert conn.execute(text("SELECT message_id, replies FROM tombstones")).all() == [("m9", "[]")]
            assert conn.execute(text("SELECT count(*) FROM conversations")).scalar() == 2
        assert full_text_ids(store, "fingers") == ["kept"]
        assert schema_differences(store.engine) == []
        store.engine.dispose()
