"""The store under stress: a restarted app continues every conversation where
it stopped, and parallel requests neither lose nor duplicate a turn."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bot.db.schema import events as events_table
from chatkit import (CRITERIA, ELIGIBLE, Patient, answer_until, make_app, new_sender, result_of, send_together,
                     store_of, user_events)

RETRIES = 20


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    return tmp_path / "shared.sqlite3"


def seqs(store, sender):
    with store.engine.connect() as conn:
        rows = conn.execute(select(events_table.c.seq).where(events_table.c.conversation_id == sender)
                            .order_by(events_table.c.seq))
        return [r[0] for r in rows]


# --- restart ------------------------------------------------------------------------------


def test_a_new_app_on_the_same_database_continues_the_conversation(db):
    first = make_app(db)
    patient = Patient(first.test_client())
    patient.start()
    answer_until(patient, "hiv", overrides={"rituximab": "2026-08-31"})
    assert patient.asked == "hiv"
    store_of(first).engine.dispose()
    del first

    second = make_app(db)
    patient.client = second.test_client()
    patient.taps("No")                   # the button of the question asked before the restart
    assert patient.asked == "hepatitis_b"
    answer_until(patient, overrides={"rituximab": "2026-08-31"})
    result = patient.result
    assert result["outcome"] == "eligible_after_washout"
    assert result["eligible_from"] == "2027-02-28"
    assert next(c for c in result["criteria"] if c["id"] == "adult")["answers"] == {"age": 54}
    assert store_of(second).conversation(patient.sender)["outcome"] == "eligible_after_washout"
    store_of(second).engine.dispose()


def test_a_repeat_sent_before_the_restart_is_still_recognised(db):
    first = make_app(db)
    patient = Patient(first.test_client())
    patient.start()
    reply = patient.post("54", message_id="age-1").get_json()
    store_of(first).engine.dispose()

    second = make_app(db)
    patient.client = second.test_client()
    before = store_of(second).events(patient.sender)
    again = patient.post("54", message_id="age-1")
    assert again.get_json() == reply
    assert store_of(second).events(patient.sender) == before
    store_of(second).engine.dispose()


def test_a_restart_mid_digression_and_after_go_back(db):
    first = make_app(db)
    patient = Patient(first.test_client())
    patient.start()
    answer_until(patient, "refractory")
    patient.says("go back")
    assert patient.asked == "diagnosis"
    store_of(first).engine.dispose()

    second = make_app(db)
    patient.client = second.test_client()
    patient.says("morphea")
    patient.taps("Yes, that's right")   # typed, a rule-out is checked back first
    patient.confirm_review()
    assert patient.result["outcome"] == "not_eligible"
    store_of(second).engine.dispose()


# --- concurrency: many senders ----------------------------------------------------------------


def _post_with_retries(patient: Patient, message: str, message_id: str, counts: dict):
    """Send like a careful client: a 503 is retried with the same message id."""
    for _ in range(RETRIES):
        response = patient.post(message, message_id=message_id)
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        if response.status_code == 200:
            patient.replies = response.get_json()
            patient.history.append((message, patient.replies))
            return response
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.get_json()["retry"] is True
    raise AssertionError(f"{message!r} failed {RETRIES} times")


def _whole_conversation(app, index: int, counts: dict):
    patient = Patient(app.test_client(), sender=new_sender(f"par{index}"))
    overrides = {"rituximab": "2026-08-31"} if index % 2 else {"hiv": "tap:Yes"}
    n = 0

    def send(text):
        nonlocal n
        n += 1
        _post_with_retries(patient, text, f"{patient.sender}-{n}", counts)

    send("hi")
    send(patient.button("Start")["payload"])
    answers = {**ELIGIBLE, **overrides}
    while patient.result is None:
        if patient.review is not None:
            send("/affirm")          # "That's right, show my result"
            continue
        step = answers[patient.asked]
        send(patient.button(step[4:])["payload"] if step.startswith("tap:") else step)
    return patient, n


@pytest.mark.slow
def test_twenty_senders_in_parallel(db):
    app = make_app(db)
    counts: dict = {}
    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(_whole_conversation, app, i, counts) for i in range(20)]
        done = [f.result(timeout=300) for f in futures]
    store = store_of(app)
    for i, (patient, sent) in enumerate(done):
        expected = "eligible_after_washout" if i % 2 else "not_eligible"
        assert patient.result["outcome"] == expected
        events = store.events(patient.sender)
        assert len(user_events(events)) == sent, patient.sender
        numbers = seqs(store, patient.sender)
        assert numbers == list(range(1, len(numbers) + 1))
        assert store.conversation(patient.sender)["outcome"] == expected
    store.engine.dispose()


# --- concurrency: one sender ------------------------------------------------------------------


@pytest.mark.slow
def test_parallel_messages_for_one_sender_are_all_kept_once(db):
    app = make_app(db)
    store = store_of(app)
    patient = Patient(app.test_client())
    patient.start()
    answer_until(patient, "hiv")
    before = len(user_events(store.events(patient.sender)))
    results = send_together(app, patient.sender, [("no", f"parallel-{i}") for i in range(10)])
    ok = [r for r in results if r is not None and r.status_code == 200]
    assert all(r.status_code in (200, 503) for r in results)
    events = store.events(patient.sender)
    assert len(user_events(events)) == before + len(ok)
    numbers = seqs(store, patient.sender)
    assert numbers == list(range(1, len(numbers) + 1))
    # every kept turn saw the one before it: the "no"s answered hiv, hepatitis_b, ... in order
    user_ids = [e.get("message_id") for e in user_events(events)][before:]
    assert sorted(user_ids) == sorted(f"parallel-{i}" for i, r in enumerate(results) if r.status_code == 200)
    assert len(set(user_ids)) == len(user_ids)
    answered = [e["name"] for e in events if e.get("event") == "slot" and isinstance(e.get("value"), dict)
                and e["value"].get("text") == "no"]
    assert answered[:5] == ["hiv", "hepatitis_b", "hepatitis_c", "serious_infection", "labs"][:len(answered[:5])]
    assert len(answered) == len(set(answered)), "one answer per question, none applied twice"
    store.engine.dispose()


@pytest.mark.slow
def test_the_same_message_id_sent_in_parallel_is_one_turn(db):
    app = make_app(db)
    store = store_of(app)
    patient = Patient(app.test_client())
    patient.start()
    before = len(user_events(store.events(patient.sender)))
    results = send_together(app, patient.sender, [("54", "one-and-the-same")] * 10)
    ok = [r.get_json() for r in results if r.status_code == 200]
    assert ok and all(body == ok[0] for body in ok)
    assert len(user_events(store.events(patient.sender))) == before + 1
    store.engine.dispose()


@pytest.mark.slow
def test_a_real_threaded_server(db):
    """The same through a real threaded WSGI server and HTTP connections."""
    import requests
    from werkzeug.serving import make_server

    app = make_app(db)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/webhooks/rest/webhook"
    try:
        def talk(i):
            sender = new_sender(f"http{i}")
            codes = []
            # the typed HIV "yes" rules out: checked back, then confirmed with the check-back's button
            confirmed = '/inform{"hiv": "Yes, that\'s right"}'   # then the review, and its "that's right"
            for n, message in enumerate(["hi", "/affirm", "54", "diffuse", "yes", "ulcers", "none", "yes", confirmed,
                                         "/affirm"]):
                for _ in range(RETRIES):
                    r = requests.post(url, json={"sender": sender, "message": message,
                                                 "metadata": {"today": "2026-11-25", "message_id": f"{i}-{n}"}},
                                      timeout=60)
                    if r.status_code != 503:
                        break
                codes.append(r.status_code)
            return sender, codes, r.json()

        with ThreadPoolExecutor(max_workers=10) as pool:
            done = list(pool.map(talk, range(10)))
        store = store_of(app)
        for sender, codes, last in done:
            assert codes == [200] * 10
            assert result_of(last)["outcome"] == "not_eligible"   # HIV yes
            assert len(user_events(store.events(sender))) == 10
            numbers = seqs(store, sender)
            assert numbers == list(range(1, len(numbers) + 1))
    finally:
        server.shutdown()
        store_of(app).engine.dispose()


def test_a_turn_stored_while_another_ran_makes_that_one_run_again_on_the_new_state(db):
    """Turns run without a lock and store only if nothing came in between: a second message of
    the same patient stored while the first was still running makes the first run again, on
    the state after the second (so each answer goes to the next question, none is lost)."""
    app = make_app(db)
    conversations = app.extensions["prescreen"]
    store = store_of(app)
    patient = Patient(app.test_client())
    patient.start()
    answer_until(patient, "hiv")
    engine = conversations.dialogue_engine
    handle, runs = engine.handle, []

    def handle_with_a_message_in_between(sender, text, state, metadata=None, now=None):
        runs.append(text)
        if len(runs) == 1:   # while "first" runs, the patient's other message is stored
            assert conversations.message(sender, "no", {"message_id": "in-between"})
        return handle(sender, text, state, metadata, now)

    engine.handle = handle_with_a_message_in_between
    replies = conversations.message(patient.sender, "no", {"message_id": "first"})
    engine.handle = handle
    assert runs == ["no", "no", "no"]   # first, the one in between, first again
    events = store.events(patient.sender)
    assert [e.get("message_id") for e in user_events(events)][-2:] == ["in-between", "first"]
    answered = [e["name"] for e in events if e.get("event") == "slot" and isinstance(e.get("value"), dict)]
    assert answered[-2:] == ["hiv", "hepatitis_b"]
    assert seqs(store, patient.sender) == list(range(1, len(events) + 1))
    assert "hepatitis C" in " ".join(r.get("text", "") for r in replies)
    store.engine.dispose()
