"""Faults (issue 7, part 3): the database busy, the action server slow or down,
and the server killed with kill -9 while patients are mid-turn.

A failed turn is rolled back whole and answered with 503 {"error", "retry": true};
the same message sent again later succeeds; after a kill -9 every committed turn
is there, no turn is half stored, and every conversation continues.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from bot.engine import replay
from bot.runner import InProcessRunner
from bot.store import Store
from chatkit import CRITERIA, ELIGIBLE, Patient, make_app, store_of, user_events
from dbkit import (TYPED, HttpClient, ServerProcess, assert_whole_turns, free_port, next_message, run_sender,
                   serve_command, user_message_ids)


@pytest.fixture(autouse=True)
def criteria_env(monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    monkeypatch.delenv("PRESCREEN_ACTION_ENDPOINT", raising=False)


def assert_retry_503(response):
    assert response.status_code == 503, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.content_type.startswith("application/json")
    data = response.get_json()
    assert isinstance(data.get("error"), str) and len(data["error"]) > 10, data
    assert data.get("retry") is True, data
    assert "Traceback" not in response.get_data(as_text=True)


@contextmanager
def sqlite_write_lock(db):
    """Another writer holds SQLite's write lock until the block ends."""
    holder = sqlite3.connect(db, isolation_level=None, timeout=5)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def impatient(app, db) -> None:
    """The app's store gives up on a busy database after one retry of 0.2 s."""
    app.extensions["prescreen"].store = Store(f"sqlite:///{db}", retries=1, busy_timeout_ms=200)


# --- the database busy --------------------------------------------------------------------------


def test_a_database_locked_past_the_retries_is_503_and_stores_nothing(tmp_path):
    db = tmp_path / "busy.sqlite3"
    app = make_app(db)
    conversations = app.extensions["prescreen"]
    patient = Patient(app.test_client(), sender=run_sender("busy"))
    patient.start()
    assert patient.asked == "age"
    impatient(app, db)
    before = store_of(app).events(patient.sender)
    summary_before = store_of(app).conversation(patient.sender)

    with sqlite_write_lock(db):
        started = time.monotonic()
        response = patient.post("54", message_id="busy-1")
        elapsed = time.monotonic() - started
        assert_retry_503(response)
        assert elapsed < 5, f"the 503 took {elapsed:.1f}s"
    assert store_of(app).events(patient.sender) == before
    assert store_of(app).conversation(patient.sender) == summary_before

    # the lock is gone: the same message (same id) goes through once
    response = patient.post("54", message_id="busy-1")
    assert response.status_code == 200, response.get_data(as_text=True)
    patient.replies = response.get_json()
    assert patient.asked == "diagnosis"
    after = store_of(app).events(patient.sender)
    assert [e.get("message_id") for e in user_events(after)].count("busy-1") == 1
    assert_whole_turns(after)
    conversations.store.engine.dispose()
    store_of(app).engine.dispose()


def test_a_database_briefly_locked_is_waited_for(tmp_path):
    """A lock shorter than the busy timeout and retries: the patient never notices."""
    db = tmp_path / "brief.sqlite3"
    app = make_app(db)
    patient = Patient(app.test_client(), sender=run_sender("brief"))
    patient.start()
    holder = sqlite3.connect(db, isolation_level=None, timeout=5, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.4, lambda: (holder.execute("ROLLBACK"), holder.close()))
    release.start()
    try:
        patient.says("54")
    finally:
        release.join()
    assert patient.asked == "diagnosis"
    assert_whole_turns(store_of(app).events(patient.sender))
    store_of(app).engine.dispose()


def test_a_busy_database_during_a_deletion_keeps_everything(tmp_path):
    """'Delete my answers' under a held lock: 503, and neither the deletion nor a tombstone happens."""
    db = tmp_path / "busydel.sqlite3"
    app = make_app(db)
    conversations = app.extensions["prescreen"]
    patient = Patient(app.test_client(), sender=run_sender("busydel"))
    patient.start()
    patient.says("54")
    patient.says("delete my answers")
    before = store_of(app).events(patient.sender)
    impatient(app, db)
    with sqlite_write_lock(db):
        assert_retry_503(patient.post(patient.button("Yes, delete them")["payload"], message_id="del-1"))
    assert store_of(app).events(patient.sender) == before
    assert store_of(app).tombstones(patient.sender) == []
    response = patient.post(patient.button("Yes, delete them")["payload"], message_id="del-1")
    assert response.status_code == 200
    assert store_of(app).events(patient.sender) == []
    assert len(store_of(app).tombstones(patient.sender)) == 1
    conversations.store.engine.dispose()
    store_of(app).engine.dispose()


# --- the action server slow, failing or down ----------------------------------------------------


class ActionServer:
    """A rasa-sdk-protocol action server in a thread that runs the real actions,
    and can be told to be slow or to fail."""

    def __init__(self) -> None:
        runner = InProcessRunner(CRITERIA)
        self.mode = "ok"
        self.delay = 2.0
        self.calls = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                server.calls += 1
                call = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                if server.mode == "slow":
                    time.sleep(server.delay)
                if server.mode == "error":
                    body, status = b'{"error": "boom"}', 500
                else:
                    body, status = json.dumps(runner.run(call)).encode(), 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the bot gave up waiting

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def action_server():
    server = ActionServer()
    yield server
    server.stop()


@pytest.mark.parametrize("mode", ["slow", "error"])
def test_a_slow_or_failing_action_server_rolls_the_turn_back(tmp_path, action_server, mode):
    app = make_app(tmp_path / "actions.sqlite3", ACTION_ENDPOINT=action_server.url, ACTION_TIMEOUT=0.5)
    store = store_of(app)
    patient = Patient(app.test_client(), sender=run_sender(f"act{mode}"))
    patient.start()
    assert patient.asked == "age"
    assert action_server.calls > 0, "the actions run on the action server"
    before, summary = store.events(patient.sender), store.conversation(patient.sender)

    action_server.mode = mode
    started = time.monotonic()
    response = patient.post("54", message_id="slow-1")
    elapsed = time.monotonic() - started
    assert_retry_503(response)
    assert elapsed < action_server.delay + 1.5, f"took {elapsed:.1f}s: the timeout was not applied"
    assert store.events(patient.sender) == before
    assert store.conversation(patient.sender) == summary

    # the action server recovers: the same message goes through and the form goes on
    action_server.mode = "ok"
    response = patient.post("54", message_id="slow-1")
    assert response.status_code == 200, response.get_data(as_text=True)
    patient.replies = response.get_json()
    assert patient.asked == "diagnosis"
    patient.taps("Yes, the diffuse type")
    assert patient.asked == "refractory"
    events = store.events(patient.sender)
    assert_whole_turns(events)
    assert user_message_ids(events).count("slow-1") == 1
    store.engine.dispose()


def test_an_action_server_that_is_down_is_503_then_the_conversation_continues(tmp_path):
    port = free_port()  # nothing listens here
    app = make_app(tmp_path / "down.sqlite3", ACTION_ENDPOINT=f"http://127.0.0.1:{port}/webhook", ACTION_TIMEOUT=0.5)
    store = store_of(app)
    patient = Patient(app.test_client(), sender=run_sender("down"))
    assert_retry_503(patient.post("hi", message_id="down-1"))      # even the session start is an action
    assert store.events(patient.sender) == []
    assert store.conversation(patient.sender) is None
    store.engine.dispose()

    server = ActionServer()      # now it is up (another port: a new app with that endpoint)
    try:
        second = make_app(tmp_path / "down.sqlite3", ACTION_ENDPOINT=server.url, ACTION_TIMEOUT=2)
        patient.client = second.test_client()
        response = patient.post("hi", message_id="down-1")
        assert response.status_code == 200, response.get_data(as_text=True)
        patient.replies = response.get_json()
        patient.taps("Start")
        assert patient.asked == "age"
        events = store_of(second).events(patient.sender)
        assert_whole_turns(events)
        assert user_message_ids(events)[0] == "down-1"
        store_of(second).engine.dispose()
    finally:
        server.stop()


# --- kill -9 mid-turn -------------------------------------------------------------------------------

PATIENTS = 10
KILL_AFTER = 50          # acknowledged messages (of about 10 x 18) before the kill


class Driver:
    """One patient talking to the server in its own thread, noting what was acknowledged."""

    def __init__(self, index: int) -> None:
        self.sender = run_sender(f"kill{index}")
        self.answers = {**ELIGIBLE} if index % 2 else {**TYPED}
        self.patient: Patient | None = None
        self.sent: list[str] = []            # message ids, in the order sent
        self.acked: list[str] = []           # ids answered with HTTP 200
        self.pending: tuple[str, str] | None = None   # (text, id) sent when the server died
        self.unexpected: list[str] = []
        self.n = 0
        self.busy = 0

    def talk(self, base_url: str, acked_total: list, lock: threading.Lock, stop_at_result=True) -> None:
        if self.patient is None:
            self.patient = Patient(HttpClient(base_url, timeout=30), sender=self.sender)
        else:
            self.patient.client = HttpClient(base_url, timeout=30)
        while True:
            if self.pending:
                text, mid = self.pending
            else:
                text = next_message(self.patient, self.answers)
                if text is None:
                    return
                self.n += 1
                mid = f"{self.sender}-{self.n}"
                self.sent.append(mid)
            try:
                response = self.patient.post(text, message_id=mid)
            except requests.RequestException:
                self.pending = (text, mid)
                return
            if response.status_code == 503:
                self.pending = (text, mid)
                self.busy += 1
                if self.busy > 50:
                    self.unexpected.append(f"{mid}: 503 fifty times")
                    return
                time.sleep(0.05)
                continue
            self.busy = 0
            if response.status_code != 200:
                self.unexpected.append(f"{mid}: HTTP {response.status_code} {response.get_data(as_text=True)[:200]}")
                return
            self.pending = None
            self.patient.replies = response.get_json()
            self.acked.append(mid)
            with lock:
                acked_total[0] += 1


def _next_turn_after_restart(d: Driver, base_url: str) -> None:
    """Send the message in flight at the kill again (same id), or the next answer."""
    if d.pending:
        text, mid = d.pending
    else:
        text = next_message(d.patient, d.answers)
        d.n += 1
        mid = f"{d.sender}-{d.n}"
        d.sent.append(mid)
    d.patient.client = HttpClient(base_url, timeout=30)
    response = d.patient.post(text, message_id=mid)
    assert response.status_code == 200, (d.sender, response.status_code, response.get_data(as_text=True))
    d.pending = None
    d.patient.replies = response.get_json()
    d.acked.append(mid)
    # a question, the result, or (for a conversation killed at its greeting) the greeting's Start button
    assert d.patient.asked is not None or d.patient.result is not None or d.patient.buttons, \
        f"{d.sender}: after the restart the bot neither asks nor gives the result: {d.patient.text!r}"


@pytest.mark.slow
def test_kill_minus_nine_mid_turn_loses_no_acknowledged_turn_and_leaves_no_half_turn(tmp_path):
    db = tmp_path / "killed.sqlite3"
    env = {"PRESCREEN_DATABASE_URL": f"sqlite:///{db}", "PRESCREEN_RATE_LIMITS": "off",
           "PRESCREEN_CRITERIA": CRITERIA}
    port = free_port()
    server = ServerProcess(serve_command(port), env, port, tmp_path / "server.log")
    drivers = [Driver(i) for i in range(PATIENTS)]
    acked_total, lock = [0], threading.Lock()
    try:
        threads = [threading.Thread(target=d.talk, args=(server.url, acked_total, lock)) for d in drivers]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while acked_total[0] < KILL_AFTER and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.002)
    finally:
        server.kill()                                # SIGKILL, mid-way
    killed_at = acked_total[0]
    for t in threads:
        t.join(40)
    assert all(not t.is_alive() for t in threads)
    assert killed_at >= KILL_AFTER, f"only {killed_at} messages before the deadline:\n{server.log()}"
    for d in drivers:
        assert not d.unexpected, d.unexpected
    unfinished = [d for d in drivers if d.pending or next_message(d.patient, d.answers) is not None]
    assert unfinished, "the kill came after every conversation had ended"
    assert any(d.pending for d in drivers), "no message was in flight when the server was killed"

    # -- the database as the kill left it, before anyone talks again --
    app = make_app(db)
    dialogue = app.extensions["prescreen"].dialogue_engine.dialogue
    store = store_of(app)
    for d in drivers:
        events = store.events(d.sender)
        assert_whole_turns(events, d.sender)
        state = replay(dialogue, events)                     # raises if the log cannot be replayed
        ids = user_message_ids(events)
        for mid in d.acked:
            assert ids.count(mid) == 1, f"acknowledged {mid} stored {ids.count(mid)} times"
        in_flight = [d.pending[1]] if d.pending else []
        assert ids in (d.acked, d.acked + in_flight), (d.sender, ids, d.acked, in_flight)
        row = store.conversation(d.sender)
        if events:
            assert row is not None and row["last_seq"] == len(events)
            assert row["turns"] == len(ids)
            snapshot = json.loads(row["state"])
            assert snapshot["slots"] == state.slots, "the state snapshot matches the log"
            assert snapshot["active_loop"] == state.active_loop
        else:
            assert row is None
    store.engine.dispose()

    # -- restart on the same database: every conversation continues, to its result --
    port = free_port()
    server = ServerProcess(serve_command(port), env, port, tmp_path / "server2.log")
    try:
        for d in unfinished:
            _next_turn_after_restart(d, server.url)
        threads = [threading.Thread(target=d.talk, args=(server.url, acked_total, lock)) for d in drivers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        server.stop()
    for d in drivers:
        assert not d.unexpected, d.unexpected
        assert d.pending is None
        assert d.patient.result is not None and d.patient.result["outcome"] == "likely_eligible", \
            (d.sender, d.patient.text)

    app = make_app(db)
    store = store_of(app)
    for d in drivers:
        events = store.events(d.sender)
        assert_whole_turns(events, d.sender)
        replay(dialogue, events)
        assert user_message_ids(events) == d.sent, "every message stored once, in the order sent"
        assert d.acked == d.sent
        row = store.conversation(d.sender)
        assert row["outcome"] == "likely_eligible" and row["last_seq"] == len(events)
    store.engine.dispose()


# --- several workers starting at once on a new database ------------------------------------------------


@pytest.mark.slow
def test_several_workers_start_together_on_a_new_sqlite_file(tmp_path):
    """A first start with gunicorn: every worker creates the schema at once; all must come up."""
    from dbkit import booted_gunicorn
    db = tmp_path / "fresh.sqlite3"
    env = {"PRESCREEN_DATABASE_URL": f"sqlite:///{db}", "PRESCREEN_RATE_LIMITS": "off",
           "PRESCREEN_CRITERIA": CRITERIA}
    server = booted_gunicorn(env, tmp_path / "fresh.log", "a new database")
    try:
        patient = Patient(HttpClient(server.url), sender=run_sender("fresh"))
        patient.start()
        assert patient.asked == "age"
    finally:
        server.stop()
