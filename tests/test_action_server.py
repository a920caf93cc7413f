"""Action-server mode: the same conversation through the stock rasa-sdk action
server (`python -m rasa_sdk --actions actions`, a real subprocess) gives the
same replies as in process; when the server is down a turn is a 503 that
stores nothing, and the conversation continues once the server is back."""

from __future__ import annotations

import json

import os
import subprocess
import sys
import time

import pytest
import requests

from chatkit import (CRITERIA, ROOT, Patient, answer_until, free_port, make_app, new_sender, result_of,
                     store_of, user_events)

pytestmark = pytest.mark.slow


class ActionServer:
    """The stock rasa-sdk action server in a subprocess."""

    def __init__(self, port: int, log_path) -> None:
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def start(self, timeout: float = 60) -> None:
        env = dict(os.environ, PRESCREEN_CRITERIA=CRITERIA, PYTHONUNBUFFERED="1")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "-p", str(self.port)],
                                     cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"action server exited ({self.proc.returncode}): "
                                   f"{open(self.log_path, encoding='utf-8', errors='replace').read()[-2000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/health", timeout=1).json() == {"status": "ok"}:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("action server did not answer /health in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@pytest.fixture
def action_server(tmp_path):
    server = ActionServer(free_port(), tmp_path / "action-server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def apps(tmp_path, monkeypatch, action_server):
    """(in process, over HTTP): two apps on two databases."""
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    local = make_app(tmp_path / "local.sqlite3")
    remote = make_app(tmp_path / "remote.sqlite3", ACTION_ENDPOINT=action_server.webhook, ACTION_TIMEOUT=10)
    yield local, remote
    for app in (local, remote):
        store_of(app).engine.dispose()


# A conversation with digressions, a re-ask, a go-back, a washout and a result.
SCRIPT = [
    "hi", "tap:Start", "why do you ask?", "I'm 54", "tap:Yes, the diffuse type", "go back", "limited",
    "blah blah", "yes", "help", "lung scarring and ulcers", "tap:High blood pressure", "no", "no",
    "what is this study?", "no", "tap:No", "tap:Not sure", "3 weeks ago", "tap:Into a vein (IV drip)",
    "never", "still taking it", "talk to a person", "2026-08-31", "no", "I can't breathe", "tap:No",
    "start over", "17", "I made a mistake", "33", "tap:Yes, not sure which type",
]


def play(patient: Patient) -> list[tuple[str, list[dict]]]:
    for step in SCRIPT:
        patient.answer(step)
    answer_until(patient)
    return patient.history


def without_reference(replies: list[dict], reference: str | None) -> str:
    """The replies as JSON text, the conversation's reference code (each database draws its own)
    replaced by a mark."""
    return json.dumps(replies).replace(reference, "REF") if reference else json.dumps(replies)


def test_same_replies_in_process_and_over_the_action_server(apps):
    local, remote = apps
    sender = new_sender("parity")
    here = play(Patient(local.test_client(), sender=sender))
    there = play(Patient(remote.test_client(), sender=sender))
    assert len(here) == len(there)
    ours = [result_of(r)["reference"] for _, r in here if result_of(r)]
    theirs_ref = [result_of(r)["reference"] for _, r in there if result_of(r)]
    assert ours and len(set(ours)) == 1 and len(set(theirs_ref)) == 1   # one code per conversation
    for (said, mine), (_, theirs) in zip(here, there):
        assert without_reference(theirs, theirs_ref[0]) == without_reference(mine, ours[0]), f"after {said!r}"
    assert result_of(there[-1][1])["outcome"] in ("needs_review", "likely_eligible", "eligible_after_washout",
                                                  "not_eligible")
    # and the same summary in both stores
    a = store_of(local).conversation(sender)
    b = store_of(remote).conversation(sender)
    assert a["reference"] == a["result"]["reference"] and b["reference"] == b["result"]["reference"]
    assert (a["outcome"], a["eligible_from"], {**a["result"], "reference": "REF"}) == \
        (b["outcome"], b["eligible_from"], {**b["result"], "reference": "REF"})
    # and the same event log, apart from the times, the (random) message ids and reference codes
    def untimed(events, reference):
        return without_reference([{k: (v if k != "metadata" else {m: x for m, x in v.items() if m != "message_id"})
                                   for k, v in e.items() if k not in ("timestamp", "message_id")} for e in events],
                                 reference)
    assert untimed(store_of(remote).events(sender), b["reference"]) == \
        untimed(store_of(local).events(sender), a["reference"])


def test_the_server_stopped_mid_conversation(apps, action_server):
    _, remote = apps
    store = store_of(remote)
    patient = Patient(remote.test_client())
    patient.start()
    answer_until(patient, "refractory")
    before = store.events(patient.sender)
    row_before = store.conversation(patient.sender)

    action_server.stop()
    response = patient.post("yes", message_id="while-down")
    assert response.status_code == 503
    body = response.get_json()
    assert body["retry"] is True
    assert isinstance(body["error"], str) and body["error"].endswith(".") and "try again" in body["error"].lower()
    assert store.events(patient.sender) == before, "nothing of the failed turn is stored"
    assert store.conversation(patient.sender)["turns"] == row_before["turns"]
    # a digression needs no custom action... but the next answer does: still refused, still nothing stored
    assert patient.post("yes", message_id="while-down").status_code == 503
    assert len(user_events(store.events(patient.sender))) == len(user_events(before))

    action_server.start()
    response = patient.post("yes", message_id="while-down")
    assert response.status_code == 200
    patient.replies = response.get_json()
    assert patient.asked == "features"
    answer_until(patient)
    assert patient.result["outcome"] == "likely_eligible"
    user_texts = [e["text"] for e in user_events(store.events(patient.sender))]
    assert user_texts.count("yes") == 1


def test_server_down_before_the_first_message(apps, action_server):
    _, remote = apps
    store = store_of(remote)
    action_server.stop()
    patient = Patient(remote.test_client())
    response = patient.post("hi")
    assert response.status_code == 503
    assert response.get_json()["retry"] is True
    assert store.events(patient.sender) == []
    assert store.conversation(patient.sender) is None
