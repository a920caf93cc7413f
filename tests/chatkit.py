"""Helpers for the conversation tests: an app on a temporary SQLite file and a
`Patient` who talks to it through the REST channel, the way the widget does.

    patient = Patient(client)
    patient.says("hi")                 # -> the bot's replies (a list of dicts)
    patient.taps("Start")              # sends the payload of the button titled "Start"
    patient.asked                      # custom.question.id of the latest question, or None
    patient.text                       # every text of the latest replies, joined

Every message carries metadata {"today": TODAY, "message_id": <unique>}, so
the site date is pinned and every turn is idempotent.
"""

from __future__ import annotations

import itertools
import os
import socket
import uuid
from pathlib import Path
from typing import Any, Iterable

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRITERIA = str(ROOT / "criteria.yaml")
FICTIONAL = str(ROOT / "tests" / "fixtures" / "fictional_trial.yaml")
TODAY = "2026-11-25"
WEBHOOK = "/webhooks/rest/webhook"

RESULT_KEYS = {"outcome", "eligible_from", "criteria", "to_check", "status_notice", "contact", "trial_id",
               "criteria_version", "today", "reference", "next_steps", "language"}
CRITERION_KEYS = {"id", "kind", "verdict", "until", "reason", "answers"}
QUESTION_KEYS = {"id", "answer_ids", "type", "step", "total"}
REPLY_KEYS = {"recipient_id", "text", "buttons", "custom", "image", "attachment"}

REVIEW_OK = "That's right, show my result"
CONTACT_ADDRESS = "300 Pasteur Drive"
NOT_RECRUITING = "not recruiting"
STAFF_DECIDE = "study team makes the final decision"
EMERGENCY_911 = "911"
CRISIS_988 = "988"

_ids = itertools.count(1)


def make_app(db_path: str | os.PathLike, criteria: str = CRITERIA, **extra: Any):
    """A Flask app on a SQLite file, with the site date pinnable through metadata."""
    from bot import create_app

    config = {"DATABASE_URL": f"sqlite:///{db_path}", "CRITERIA": criteria, "ALLOW_TODAY": True,
              "TESTING": True, "RATE_LIMITS": "off"}
    config.update(extra)
    # a None value: not configured here, the environment's (or the default) applies
    return create_app({k: v for k, v in config.items() if v is not None})


def store_of(app):
    """The app's Store (event log, summary rows, tombstones)."""
    return app.extensions["prescreen_store"]


def new_sender(prefix: str = "patient") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send_together(app, sender: str, messages: list[tuple[str, str]]) -> list:
    """Post one patient's (text, message_id) messages all at the same moment, one thread each;
    the responses, in the order of the messages."""
    import threading
    barrier = threading.Barrier(len(messages))
    results: list = [None] * len(messages)

    def send(i: int) -> None:
        client = Patient(app.test_client(), sender=sender)
        barrier.wait()
        results[i] = client.post(messages[i][0], message_id=messages[i][1])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(messages))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def user_events(events: Iterable[dict]) -> list[dict]:
    return [e for e in events if e.get("event") == "user"]


def texts(replies: list[dict]) -> str:
    return "\n\n".join(r.get("text") or "" for r in replies)


def question_of(replies: list[dict]) -> dict | None:
    """custom.question of the last reply that carries one."""
    found = None
    for r in replies:
        q = (r.get("custom") or {}).get("question")
        if q:
            found = q
    return found


def result_of(replies: list[dict]) -> dict | None:
    """custom.prescreen_result of the reply that carries it."""
    for r in replies:
        res = (r.get("custom") or {}).get("prescreen_result")
        if res:
            return res
    return None


class BotError(AssertionError):
    pass


class Patient:
    """One patient (one sender id) talking to the REST channel."""

    def __init__(self, client, sender: str | None = None, today: str = TODAY) -> None:
        self.client = client
        self.sender = sender or new_sender()
        self.today = today
        self.replies: list[dict] = []
        self.history: list[tuple[str, list[dict]]] = []

    # -- talking ---------------------------------------------------------------
    def post(self, message: Any, message_id: str | None = None, **metadata: Any):
        """The raw response to one message (no checks)."""
        meta = {"today": self.today, "message_id": message_id or f"m{next(_ids)}-{uuid.uuid4().hex[:8]}"}
        meta.update(metadata)
        return self.client.post(WEBHOOK, json={"sender": self.sender, "message": message, "metadata": meta})

    def says(self, message: str, message_id: str | None = None) -> list[dict]:
        """Send a message; the replies (the response must be a 200 JSON list)."""
        response = self.post(message, message_id)
        if response.status_code != 200:
            raise BotError(f"{message!r} -> HTTP {response.status_code}: {response.get_data(as_text=True)}")
        replies = response.get_json()
        assert isinstance(replies, list), replies
        self.replies = replies
        self.history.append((message, replies))
        return replies

    def button(self, title: str) -> dict:
        """The button titled `title` in the latest replies."""
        buttons = self.buttons
        for b in buttons:
            if b["title"] == title:
                return b
        raise BotError(f"no button {title!r} in the latest replies; buttons: {[b['title'] for b in buttons]}; "
                       f"text: {self.text!r}")

    def taps(self, title: str) -> list[dict]:
        """Tap a button of the latest replies: send its payload."""
        return self.says(self.button(title)["payload"])

    def answer(self, step: str) -> list[dict]:
        """`tap:Title` taps a button; anything else is typed."""
        if step.startswith("tap:"):
            return self.taps(step[4:])
        return self.says(step)

    # -- what the bot said -------------------------------------------------------
    @property
    def text(self) -> str:
        return texts(self.replies)

    @property
    def buttons(self) -> list[dict]:
        found: list[dict] = []
        for r in self.replies:
            if r.get("buttons"):
                found = r["buttons"]
        return found

    @property
    def question(self) -> dict | None:
        return question_of(self.replies)

    @property
    def asked(self) -> str | None:
        q = self.question
        return q["id"] if q else None

    @property
    def result(self) -> dict | None:
        return result_of(self.replies)

    @property
    def review(self) -> dict | None:
        """custom.review of the latest replies ("Here is what you told me"), or None."""
        return next(((r.get("custom") or {})["review"] for r in self.replies if "review" in (r.get("custom") or {})),
                    None)

    def confirm_review(self) -> list[dict]:
        """Tap "That's right, show my result" on the review."""
        assert self.review is not None, f"no review in the latest replies: {self.text!r}"
        return self.taps(REVIEW_OK)

    def start(self) -> list[dict]:
        """Greet and tap Start: the replies up to the first question."""
        self.says("hi")
        return self.taps("Start")


def assert_says(replies: list[dict], *phrases: str) -> None:
    """Every phrase appears (case-insensitively) in the replies' texts."""
    body = texts(replies).lower()
    for phrase in phrases:
        assert phrase.lower() in body, f"expected {phrase!r} in the bot's replies:\n{texts(replies)}"


def run_script(patient: Patient, script: list[tuple[str, str | None]]) -> list[tuple[str, list[dict]]]:
    """Play a transcript of (patient input, expected question id or phrase).

    The expectation is a question id (the id the next question must have),
    "RESULT:<outcome>" (the result message with that outcome), "REVIEW" (the review of
    the answers before the result), or "~phrase" (text the bot must say). None checks nothing.
    """
    for said, expected in script:
        replies = patient.answer(said)
        if expected is None:
            continue
        where = f"after the patient said {said!r}"
        if expected == "REVIEW":
            assert patient.review is not None, f"{where}: expected the review, got {texts(replies)!r}"
        elif expected.startswith("RESULT:"):
            result = result_of(replies)
            assert result is not None, f"{where}: expected the result, got {texts(replies)!r}"
            assert result["outcome"] == expected[7:], f"{where}: outcome {result['outcome']} ({result['criteria']})"
        elif expected.startswith("~"):
            assert_says(replies, expected[1:])
        else:
            assert question_of(replies) is not None, f"{where}: expected question {expected!r}, got {texts(replies)!r}"
            assert question_of(replies)["id"] == expected, \
                f"{where}: expected question {expected!r}, got {question_of(replies)['id']!r}: {texts(replies)!r}"
    return patient.history


# -- a path through the real trial -------------------------------------------------
# What an eligible patient answers to each question (buttons, except the age).
ELIGIBLE = {
    "age": "54",
    "diagnosis": "tap:Yes, the diffuse type",
    "refractory": "tap:Yes",
    "features": "tap:Skin getting thicker or tighter",
    "heart": "tap:None of these",
    "hiv": "tap:No",
    "hepatitis_b": "tap:No",
    "hepatitis_c": "tap:No",
    "serious_infection": "tap:No",
    "labs": "tap:No",
    "ivig": "tap:Never had it",
    "ig_route": "tap:Into a vein (IV drip)",
    "cyclophosphamide": "tap:Never had it",
    "biologic": "tap:Never had them",
    "rituximab": "tap:Never had it",
    "other_biologic": "tap:No",
    "pregnancy": "tap:Doesn't apply to me",
}


def answer_until(patient: Patient, stop_at: str | None = None, overrides: dict | None = None,
                 limit: int = 40) -> list[str]:
    """Answer each question asked (ELIGIBLE, or `overrides`) until `stop_at` is asked
    or the result comes (the review before it confirmed as it is, unless `stop_at` is
    "review"); the ids of the questions answered, in order."""
    answers = {**ELIGIBLE, **(overrides or {})}
    asked: list[str] = []
    for _ in range(limit):
        if patient.review is not None and stop_at != "review":
            patient.confirm_review()
        qid = patient.asked
        if patient.result is not None or qid is None or qid == stop_at:
            return asked
        asked.append(qid)
        patient.answer(answers[qid])
    raise AssertionError(f"the form did not end after {limit} answers: {asked}")


# -- pytest fixtures (import them into a test module to use them) -----------------


@pytest.fixture
def chat_app(tmp_path, monkeypatch):
    """The app for the real trial on a fresh SQLite file (PRESCREEN_CRITERIA restored after)."""
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    application = make_app(tmp_path / "chat.sqlite3")
    yield application
    store_of(application).engine.dispose()


@pytest.fixture
def chat_client(chat_app):
    return chat_app.test_client()


@pytest.fixture
def store(chat_app):
    return store_of(chat_app)


@pytest.fixture
def patient(chat_client):
    return Patient(chat_client)
