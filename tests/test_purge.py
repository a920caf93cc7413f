"""`prescreen purge --older-than DAYS [--outcome X]` (issue 7, part 5): deletes the
conversations inactive for longer than DAYS as a patient's deletion does (events,
summary row, remembered replies, transcript index), leaves a tombstone with a
retention reason and audit entries, reports how many, and touches nothing recent."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from bot.cli import main
from bot.db.schema import conversations, events, message_replies as replies, transcript_index
from chatkit import CRITERIA, Patient, answer_until, make_app, store_of
from dbkit import postgres_schema, postgres_url, run_sender  # noqa: F401  (fixture)


def transcript_rows(store, sender) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(transcript_index)
                            .where(transcript_index.c.conversation_id == sender)).scalar()


def rows(store, table, column, sender) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(column == sender)).scalar()


def age(store, sender, days: float) -> None:
    """Move the conversation's last activity `days` into the past."""
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    with store.engine.begin() as conn:
        assert conn.execute(update(conversations).where(conversations.c.id == sender)
                            .values(last_activity=past, started_at=past)).rowcount == 1


class Clinic:
    """Conversations of every kind on one database."""

    def __init__(self, app) -> None:
        self.app = app
        self.store = store_of(app)
        client = app.test_client()

        def talk(label, overrides=None, stop_at=None):
            p = Patient(client, sender=run_sender(label))
            p.start()
            answer_until(p, stop_at, overrides=overrides)
            return p.sender

        self.old_eligible = talk("old-eligible")
        self.old_not_eligible = talk("old-not", overrides={"hiv": "tap:Yes"})
        self.old_unfinished = talk("old-unfinished", stop_at="hiv")
        self.recent_eligible = talk("recent-eligible")
        self.recent_not_eligible = talk("recent-not", overrides={"hiv": "tap:Yes"})
        self.borderline = talk("borderline")            # 29 days: inside a 30-day retention
        for sender in (self.old_eligible, self.old_not_eligible, self.old_unfinished):
            age(self.store, sender, 100)
        age(self.store, self.borderline, 29)
        self.all = [self.old_eligible, self.old_not_eligible, self.old_unfinished, self.recent_eligible,
                    self.recent_not_eligible, self.borderline]
        self.before = {s: self.store.events(s) for s in self.all}
        self.summaries = {s: self.store.conversation(s) for s in self.all}
        for s in self.all:
            assert rows(self.store, replies, replies.c.conversation_id, s) > 0
            assert transcript_rows(self.store, s) == 1

    def assert_purged(self, sender, reason_bits=("retention",)) -> None:
        store = self.store
        assert store.events(sender) == [], sender
        assert store.conversation(sender) is None
        assert rows(store, events, events.c.conversation_id, sender) == 0
        assert rows(store, replies, replies.c.conversation_id, sender) == 0
        assert transcript_rows(store, sender) == 0
        tombstones = store.tombstones(sender)
        assert len(tombstones) == 1
        reason = tombstones[0]["reason"].lower()
        for bit in reason_bits:
            assert bit in reason, reason
        assert set(tombstones[0]) == {"id", "conversation_id", "deleted_at", "reason"}   # no health data
        assert "54" not in reason and "never" not in reason
        entries = [a for a in store.audit_entries() if a["target"] == sender]
        assert [a["action"] for a in entries] == ["delete_conversation"]
        assert "purge" in entries[0]["actor"]

    def assert_untouched(self, sender) -> None:
        assert self.store.events(sender) == self.before[sender]
        assert self.store.conversation(sender) == self.summaries[sender]
        assert self.store.tombstones(sender) == []
        assert rows(self.store, replies, replies.c.conversation_id, sender) > 0
        assert transcript_rows(self.store, sender) == 1


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    db = tmp_path / "purge.sqlite3"
    app = make_app(db)
    c = Clinic(app)
    c.url = f"sqlite:///{db}"
    yield c
    store_of(app).engine.dispose()


@pytest.fixture(scope="module")
def shared_clinic(tmp_path_factory):
    """One clinic for the tests that must change nothing."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PRESCREEN_CRITERIA", CRITERIA)
    db = tmp_path_factory.mktemp("purge") / "shared.sqlite3"
    app = make_app(db)
    c = Clinic(app)
    c.url = f"sqlite:///{db}"
    yield c
    store_of(app).engine.dispose()
    mp.undo()


def purge(url: str, *args: str):
    return CliRunner().invoke(main, ["purge", *args], env={"PRESCREEN_DATABASE_URL": url}, catch_exceptions=False)


def purge_audits(store):
    return [a for a in store.audit_entries() if a["action"] == "purge"]


def test_purge_deletes_exactly_the_old_conversations(clinic):
    result = purge(clinic.url, "--older-than", "30")
    assert result.exit_code == 0, result.output
    assert "3" in result.output and "purged" in result.output.lower()
    for sender in (clinic.old_eligible, clinic.old_not_eligible, clinic.old_unfinished):
        clinic.assert_purged(sender, ("retention", "30"))
    for sender in (clinic.recent_eligible, clinic.recent_not_eligible, clinic.borderline):
        clinic.assert_untouched(sender)
    audits = purge_audits(clinic.store)
    assert len(audits) == 1 and audits[0]["detail"].startswith("3 ")
    # no patient words in the audit log
    assert not any("54" in (a["detail"] or "") or "never" in (a["detail"] or "").lower()
                   for a in clinic.store.audit_entries())


def test_purge_with_an_outcome_deletes_only_that_outcome(clinic):
    result = purge(clinic.url, "--older-than", "30", "--outcome", "not_eligible")
    assert result.exit_code == 0, result.output
    assert "1" in result.output and "not_eligible" in result.output
    clinic.assert_purged(clinic.old_not_eligible, ("retention", "not_eligible"))
    for sender in (clinic.old_eligible, clinic.old_unfinished, clinic.recent_eligible, clinic.recent_not_eligible,
                   clinic.borderline):
        clinic.assert_untouched(sender)
    # then the rest of the old ones
    result = purge(clinic.url, "--older-than", "30")
    assert result.exit_code == 0 and "2" in result.output
    clinic.assert_purged(clinic.old_eligible)
    clinic.assert_purged(clinic.old_unfinished)
    assert len(purge_audits(clinic.store)) == 2


def test_a_second_purge_finds_nothing_and_is_audited(clinic):
    assert purge(clinic.url, "--older-than", "30").exit_code == 0
    second = purge(clinic.url, "--older-than", "30")
    assert second.exit_code == 0 and "purged 0" in second.output.lower()
    assert [a["detail"][:2] for a in purge_audits(clinic.store)] == ["3 ", "0 "]
    assert len(clinic.store.tombstones(clinic.old_eligible)) == 1     # not purged twice


def test_a_shorter_period_reaches_further(clinic):
    result = purge(clinic.url, "--older-than", "28")
    assert result.exit_code == 0 and "4" in result.output
    clinic.assert_purged(clinic.borderline)
    clinic.assert_untouched(clinic.recent_eligible)


def test_a_purged_patient_who_comes_back_starts_afresh(clinic):
    assert purge(clinic.url, "--older-than", "30").exit_code == 0
    patient = Patient(clinic.app.test_client(), sender=clinic.old_unfinished)
    replies_ = patient.says("hi")
    assert any(b["title"] == "Start" for r in replies_ for b in r.get("buttons") or [])
    patient.taps("Start")
    assert patient.asked == "age"       # no old answers come back


@pytest.mark.parametrize("args", [
    [],                                       # --older-than is required
    ["--older-than"],
    ["--older-than", "-1"],
    ["--older-than", "abc"],
    ["--older-than", "99999999999"],   # a traceback once; now "not in the range 0<=x<=36500"
    ["--older-than", "36501"],
    ["--older-than", "3.5"],
    ["--older-than", "30", "--outcome", "bogus"],
    ["--older-than", "30", "--outcome"],
    ["--older-than", "30", "--everything"],
    ["30"],
])
def test_bad_options_exit_2_and_delete_nothing(shared_clinic, args):
    clinic = shared_clinic
    result = purge(clinic.url, *args)
    assert result.exit_code == 2, (args, result.exit_code, result.output)
    for sender in clinic.all:
        clinic.assert_untouched(sender)
    assert purge_audits(clinic.store) == []


@pytest.mark.postgres
def test_purge_on_postgresql(postgres_url, monkeypatch):  # noqa: F811
    """The same on PostgreSQL, in a schema of its own (a purge sees the whole database)."""
    from bot import create_app
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    with postgres_schema(postgres_url, "purge") as url:
        app = create_app({"DATABASE_URL": url, "CRITERIA": CRITERIA, "ALLOW_TODAY": True, "TESTING": True,
                          "RATE_LIMITS": "off"})
        try:
            clinic = Clinic(app)
            result = purge(url, "--older-than", "30", "--outcome", "likely_eligible")
            assert result.exit_code == 0 and "1" in result.output, result.output
            clinic.assert_purged(clinic.old_eligible)
            for sender in clinic.all[1:]:
                clinic.assert_untouched(sender)
            result = purge(url, "--older-than", "30")
            assert result.exit_code == 0 and "2" in result.output, result.output
            clinic.assert_purged(clinic.old_not_eligible)
            clinic.assert_purged(clinic.old_unfinished)
        finally:
            store_of(app).engine.dispose()
