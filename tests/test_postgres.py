"""The conversation on PostgreSQL (issue 7, part 4): the same behaviour as on
SQLite, the per-conversation lock across connections and processes, and the
scale-out test: gunicorn with 2 workers, 50 patients at once, every turn stored
exactly once and in order.

Needs PRESCREEN_TEST_POSTGRES_URL (skipped locally without it, a failure in CI).
Every sender carries this run's prefix, so runs on the shared database never collide.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, select, text

from bot import create_app
from bot.engine import replay
from bot.db.schema import events as events_table
from bot.store import Store
from chatkit import (CRITERIA, ELIGIBLE, WEBHOOK, Patient, answer_until, assert_says, run_script, send_together,
                     store_of, user_events)
from dbkit import (TYPED, HttpClient, ServerProcess, assert_unchanged_or_whole_turns, assert_whole_turns, booted_gunicorn,
                   free_port, postgres_schema,
                   gunicorn_command, next_message, postgres_url, run_sender, user_message_ids)  # noqa: F401

pytestmark = pytest.mark.postgres

START = [("hi", None), ("tap:Start", "age")]


def pg_app(url: str, **extra):
    config = {"DATABASE_URL": url, "CRITERIA": CRITERIA, "ALLOW_TODAY": True, "TESTING": True,
              "RATE_LIMITS": "off"}
    config.update(extra)
    return create_app(config)


def admin_engine(url: str):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture(scope="module")
def app(postgres_url):  # noqa: F811
    mp = pytest.MonkeyPatch()
    mp.setenv("PRESCREEN_CRITERIA", CRITERIA)
    application = pg_app(postgres_url)
    assert store_of(application).engine.dialect.name == "postgresql"
    assert store_of(application).engine.dialect.driver == "psycopg"
    yield application
    store_of(application).engine.dispose()
    mp.undo()


@pytest.fixture
def store(app):
    return store_of(app)


@pytest.fixture
def patient(app):
    return Patient(app.test_client(), sender=run_sender("pg"))


def seqs(store, sender):
    with store.engine.connect() as conn:
        rows = conn.execute(select(events_table.c.seq).where(events_table.c.conversation_id == sender)
                            .order_by(events_table.c.seq))
        return [r[0] for r in rows]


def assert_contiguous(store, sender):
    numbers = seqs(store, sender)
    assert numbers == list(range(1, len(numbers) + 1)), numbers


# --- the conversation, as on SQLite -----------------------------------------------------------


def test_a_whole_conversation_by_buttons_to_a_result(app, store, patient, result_validator):
    patient.start()
    answer_until(patient)
    result = patient.result
    assert result["outcome"] == "likely_eligible"
    result_validator.validate(result)
    row = store.conversation(patient.sender)
    assert row["outcome"] == "likely_eligible" and row["completed"] is True
    assert row["result"]["outcome"] == "likely_eligible"
    events = store.events(patient.sender)
    assert_whole_turns(events)
    assert_contiguous(store, patient.sender)
    assert row["last_seq"] == len(events) and row["turns"] == len(user_events(events))
    state = replay(app.extensions["prescreen"].dialogue_engine.dialogue, events)
    assert json.loads(row["state"])["slots"] == state.slots, "the stored snapshot matches the log"


def test_a_whole_conversation_by_typing_to_a_result(store, patient):
    run_script(patient, START + [
        ("60", "diagnosis"), ("diffuse", "refractory"), ("yes", "features"), ("ulcers", "heart"),
        ("no", "hiv"), ("yes I have HIV", "~Just to check"), ("tap:Yes, that's right", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")])
    assert store.conversation(patient.sender)["outcome"] == "not_eligible"
    assert_whole_turns(store.events(patient.sender))


def test_washout_dates_survive_the_round_trip(store, patient):
    patient.start()
    answer_until(patient, overrides={"rituximab": "2026-08-31"})
    assert patient.result["outcome"] == "eligible_after_washout"
    row = store.conversation(patient.sender)
    assert row["outcome"] == "eligible_after_washout"
    assert str(row["eligible_from"]) == "2027-02-28"


def test_go_back(store, patient):
    run_script(patient, START + [("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory"),
                                 ("go back", "diagnosis"), ("tap:No", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")])
    values = [e["value"]["text"] for e in store.events(patient.sender)
              if e.get("event") == "slot" and e.get("name") == "diagnosis" and isinstance(e.get("value"), dict)]
    assert values == ["Yes, the diffuse type", "No"]


def test_start_over_keeps_both_runs(store, patient):
    run_script(patient, START + [("17", "~Just to check"), ("tap:Yes, that's right", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible"), ("start over", "age")])
    assert store.conversation(patient.sender)["outcome"] == "not_eligible"
    answer_until(patient)
    assert patient.result["outcome"] == "likely_eligible"
    events = store.events(patient.sender)
    assert sum(1 for e in events if e.get("event") == "restart") == 1
    assert store.conversation(patient.sender)["outcome"] == "likely_eligible"
    assert_contiguous(store, patient.sender)


def test_delete_leaves_a_tombstone_and_an_audit_entry(store, patient):
    run_script(patient, START + [("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory")])
    patient.says("delete my answers")
    confirm = patient.button("Yes, delete them")["payload"]
    response = patient.post(confirm, message_id="pg-delete")
    assert response.status_code == 200
    assert_says(response.get_json(), "have been deleted")
    assert store.events(patient.sender) == []
    assert store.conversation(patient.sender) is None
    tombstones = store.tombstones(patient.sender)
    assert len(tombstones) == 1
    assert set(tombstones[0]) == {"id", "conversation_id", "deleted_at", "reason"}
    assert "54" not in tombstones[0]["reason"] and "diffuse" not in tombstones[0]["reason"].lower()
    audit = [a for a in store.audit_entries() if a["target"] == patient.sender]
    assert [a["action"] for a in audit] == ["delete_conversation"]
    # a retry of the confirming message does not delete (or audit) twice
    again = patient.post(confirm, message_id="pg-delete")
    assert again.status_code == 200 and again.get_json() == response.get_json()
    assert len(store.tombstones(patient.sender)) == 1
    assert len([a for a in store.audit_entries() if a["target"] == patient.sender]) == 1
    # the patient may start again: a new, empty conversation
    patient.says("hi")
    assert len(user_events(store.events(patient.sender))) == 1


def test_a_repeated_message_id_is_one_turn(store, patient):
    patient.start()
    first = patient.post("54", message_id="pg-repeat")
    before = store.events(patient.sender)
    again = patient.post("54", message_id="pg-repeat")
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert store.events(patient.sender) == before


def test_a_new_app_on_the_same_database_continues(postgres_url, patient):  # noqa: F811
    patient.start()
    answer_until(patient, "hiv")
    second = pg_app(postgres_url)
    try:
        patient.client = second.test_client()
        patient.taps("No")
        assert patient.asked == "hepatitis_b"
        answer_until(patient)
        assert patient.result["outcome"] == "likely_eligible"
        assert_whole_turns(store_of(second).events(patient.sender))
    finally:
        store_of(second).engine.dispose()


def test_parallel_messages_for_one_sender_are_each_kept_once_in_order(app, store, patient):
    patient.start()
    answer_until(patient, "hiv")
    before = len(user_events(store.events(patient.sender)))
    n = 10
    results = send_together(app, patient.sender, [("no", f"pg-par-{i}") for i in range(n)])
    assert [r.status_code for r in results] == [200] * n       # PostgreSQL waits for the lock: no 503
    events = store.events(patient.sender)
    assert_whole_turns(events)
    assert_contiguous(store, patient.sender)
    ids = user_message_ids(events)[before:]
    assert sorted(ids) == sorted(f"pg-par-{i}" for i in range(n)) and len(set(ids)) == n
    answered = [e["name"] for e in events if e.get("event") == "slot" and isinstance(e.get("value"), dict)
                and e["value"].get("text") == "no"]
    assert answered[:5] == ["hiv", "hepatitis_b", "hepatitis_c", "serious_infection", "labs"]
    assert len(answered) == len(set(answered)), "each turn saw the one before it"


def test_the_same_message_id_in_parallel_is_one_turn(app, store, patient):
    patient.start()
    before = len(user_events(store.events(patient.sender)))
    results = send_together(app, patient.sender, [("54", "pg-same")] * 8)
    bodies = [r.get_json() for r in results if r.status_code == 200]
    assert len(bodies) == 8 and all(b == bodies[0] for b in bodies)
    assert len(user_events(store.events(patient.sender))) == before + 1


def test_many_senders_in_parallel(app, store):
    def whole(i):
        p = Patient(app.test_client(), sender=run_sender(f"pgmany{i}"))
        p.start()
        answer_until(p, overrides={"hiv": "tap:Yes"} if i % 2 else None)
        return p

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(whole, range(8)))
    for i, p in enumerate(done):
        assert p.result["outcome"] == ("not_eligible" if i % 2 else "likely_eligible")
        assert store.conversation(p.sender)["outcome"] == p.result["outcome"]
        assert_contiguous(store, p.sender)
        assert len(user_events(store.events(p.sender))) == len(p.history)


# --- hostile input and faults on PostgreSQL ------------------------------------------------------


@pytest.mark.parametrize("name, body", [
    ("NUL in the message", {"message": "I am\x00 54"}),
    ("NUL in message_id", {"message": "54", "metadata": {"message_id": "id\x00x"}}),
    ("NUL escaped in a payload value", {"message": '/inform{"age": "5\\u00004"}'}),
    ("NUL in a metadata key", {"message": "54", "metadata": {"k\x00": "v\x00"}}),
    ("SQL injection", {"message": "'; DROP TABLE events; --", "metadata": {"message_id": "'; DROP TABLE audit; --"}}),
    ("emoji and RTL", {"message": "😀 عمري ٥٤ \u202e"}),
    ("HTML", {"message": "<script>alert(1)</script>"}),
])
def test_hostile_input_on_postgresql(app, store, patient, name, body):
    """PostgreSQL refuses NUL in text where SQLite takes it: still a reply or a 4xx, never a 500."""
    patient.start()
    before = store.events(patient.sender)
    response = patient.client.post(WEBHOOK, json={"sender": patient.sender, **body})
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True))
    assert response.content_type.startswith("application/json")
    assert_unchanged_or_whole_turns(before, store.events(patient.sender), patient.sender)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('events') IS NOT NULL AND to_regclass('audit') IS NOT NULL")).scalar()


def test_a_conversation_lock_held_elsewhere_is_a_503_within_seconds(postgres_url, patient):  # noqa: F811
    """As the SQLite test with a held write lock: another process holds this conversation's
    row lock (a turn stuck in its write); a store with a short busy timeout must give up (503, nothing stored)
    rather than hang the worker until the lock is released."""
    own = pg_app(postgres_url)
    own.extensions["prescreen"].store = Store(postgres_url, retries=1, busy_timeout_ms=200)
    patient.client = own.test_client()
    patient.start()
    before = store_of(own).events(patient.sender)
    admin = admin_engine(postgres_url)
    conn = admin.connect()
    trans = conn.begin()
    # a turn stuck in its write transaction holds the conversation's row
    locked = conn.execute(text("SELECT id FROM conversations WHERE id = :id FOR UPDATE"), {"id": patient.sender})
    assert locked.scalar() == patient.sender
    outcome = {}

    def send():
        started = time.monotonic()
        response = Patient(own.test_client(), sender=patient.sender).post("54", message_id="pg-locked")
        outcome["status"], outcome["seconds"] = response.status_code, time.monotonic() - started
        outcome["body"] = response.get_json()

    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    worker.join(6)
    hung = worker.is_alive()
    trans.rollback()
    conn.close()
    admin.dispose()
    worker.join(30)
    try:
        assert not hung, ("the turn waited more than 6 s for a conversation lock held elsewhere, with "
                          f"busy_timeout_ms=200 and retries=1 (it went on once the lock was released: {outcome})")
        assert outcome["status"] == 503 and outcome["body"].get("retry") is True, outcome
        assert store_of(own).events(patient.sender) == before
    finally:
        own.extensions["prescreen"].store.engine.dispose()
        store_of(own).engine.dispose()


def test_connections_cut_by_the_server_are_replaced(postgres_url, patient):  # noqa: F811
    """The database restarts (its connections are cut): the next turn reconnects."""
    name = f"prescreen_cut_{uuid.uuid4().hex[:8]}"
    joiner = "&" if "?" in postgres_url else "?"
    own = pg_app(f"{postgres_url}{joiner}application_name={name}")
    try:
        patient.client = own.test_client()
        patient.start()
        admin = admin_engine(postgres_url)
        with admin.begin() as conn:
            cut = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE application_name = :name"), {"name": name}).scalar()
        admin.dispose()
        assert cut >= 1
        patient.says("54")
        assert patient.asked == "diagnosis"
        assert_whole_turns(store_of(own).events(patient.sender))
    finally:
        store_of(own).engine.dispose()


# --- scale out: gunicorn, 2 workers, 50 patients ------------------------------------------------------

PATIENTS = 50


def _drive(base_url: str, index: int) -> dict:
    """A whole conversation over HTTP; 503s are retried with the same message id."""
    sender = run_sender(f"gun{index}")
    typed = index % 2 == 1
    answers = {**(TYPED if typed else ELIGIBLE)}
    if index % 5 == 0:
        answers["hiv"] = "yes I have HIV" if typed else "tap:Yes"
    patient = Patient(HttpClient(base_url, timeout=60), sender=sender)
    sent, acked, statuses = [], [], []
    n = 0
    while True:
        message = next_message(patient, answers)
        if message is None:
            break
        n += 1
        mid = f"{sender}-{n}"
        sent.append(mid)
        for _attempt in range(20):
            response = patient.post(message, message_id=mid)
            statuses.append(response.status_code)
            if response.status_code != 503:
                break
            time.sleep(0.05)
        assert response.status_code == 200, (sender, message, response.status_code, response.get_data(as_text=True))
        patient.replies = response.get_json()
        acked.append(mid)
        assert n < 40, "the conversation does not end"
    return {"sender": sender, "sent": sent, "acked": acked, "statuses": statuses,
            "outcome": patient.result["outcome"], "expected": "not_eligible" if index % 5 == 0 else "likely_eligible"}


@pytest.mark.slow
def test_gunicorn_two_workers_fifty_patients_every_turn_once_in_order(postgres_url, app, store, tmp_path):  # noqa: F811
    # `app` has created the schema; the workers find it there
    port = free_port()
    env = {"PRESCREEN_DATABASE_URL": postgres_url, "PRESCREEN_RATE_LIMITS": "off", "PRESCREEN_CRITERIA": CRITERIA}
    access = tmp_path / "access.log"    # the worker's pid and the status of every request
    argv = gunicorn_command(port, workers=2) + ["--access-logfile", str(access), "--access-logformat", "%(p)s %(s)s"]
    server = ServerProcess(argv, env, port, tmp_path / "gunicorn.log", timeout=60)
    try:
        with ThreadPoolExecutor(max_workers=PATIENTS) as pool:
            done = list(pool.map(lambda i: _drive(server.url, i), range(PATIENTS)))
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    assert log.count("Booting worker") >= 2, log[-2000:]
    assert "Traceback" not in log, log[-3000:]
    served = [line.split() for line in access.read_text().splitlines() if line.strip()]
    workers = {pid for pid, _status in served}
    assert len(workers) == 2, f"both workers serve patients: {workers}"
    assert sum(len(d["statuses"]) for d in done) <= len(served)
    dialogue = app.extensions["prescreen"].dialogue_engine.dialogue
    for d in done:
        assert d["outcome"] == d["expected"], d
        events = store.events(d["sender"])
        assert_whole_turns(events, d["sender"])
        replay(dialogue, events)
        ids = user_message_ids(events)
        assert ids == d["acked"] == d["sent"], f"{d['sender']}: stored {ids} sent {d['sent']}"
        assert_contiguous(store, d["sender"])
        row = store.conversation(d["sender"])
        assert row["turns"] == len(d["sent"]) and row["last_seq"] == len(events)
        assert row["outcome"] == d["expected"]
        # the user events carry the words in the order sent
        assert len(user_events(events)) == d["statuses"].count(200)


@pytest.mark.slow
def test_two_workers_start_together_on_an_empty_database(postgres_url, tmp_path):  # noqa: F811
    """A first deployment: the workers create the schema at once; all must come up and serve."""
    with postgres_schema(postgres_url, "scaleout") as url:
        env = {"PRESCREEN_DATABASE_URL": url, "PRESCREEN_RATE_LIMITS": "off", "PRESCREEN_CRITERIA": CRITERIA}
        server = booted_gunicorn(env, tmp_path / "fresh.log", "an empty database")
        try:
            try:
                with ThreadPoolExecutor(max_workers=6) as pool:
                    done = list(pool.map(lambda i: _drive(server.url, i + 1), range(6)))
            except Exception as exc:  # noqa: BLE001
                raise AssertionError(f"{type(exc).__name__}: {exc}\nserver log:\n{server.log()}") from None
            assert all(d["outcome"] == d["expected"] for d in done)
            assert "Traceback" not in server.log(), server.log()
        finally:
            server.stop()
