"""`prescreen chat`: the conversation in a terminal, scripted through standard
input (buttons are numbered; typing the number picks the button)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store import Store
from chatkit import CONTACT_ADDRESS, CRITERIA, ROOT, STAFF_DECIDE, free_port, user_events

PRESCREEN = Path(sys.executable).with_name("prescreen")
# `prescreen` is the console script for bot.cli:main; running the module from the
# project folder tests this checkout's code whatever the virtualenv points at.
COMMAND = [sys.executable, "-m", "bot.cli"]


def chat(db_url: str, lines: list[str], *args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    command = COMMAND
    env = dict(os.environ, PRESCREEN_DATABASE_URL=db_url, PRESCREEN_CRITERIA=CRITERIA)
    env.pop("PRESCREEN_ACTION_ENDPOINT", None)
    env.update(extra_env or {})
    return subprocess.run(command + ["chat", *args], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, cwd=str(ROOT), env=env, timeout=120)


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.sqlite3'}"


def outcome(db_url: str, sender: str):
    store = Store(db_url)
    try:
        row = store.conversation(sender)
        return row["outcome"] if row else None, store.events(sender)
    finally:
        store.engine.dispose()


def test_the_console_script_has_the_chat_command():
    assert PRESCREEN.exists(), "pip install -e . installs the prescreen command"
    done = subprocess.run([str(PRESCREEN), "chat", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--sender" in done.stdout


# What the patient types, question by question: button numbers and words.
WHOLE = [
    "1",            # Start
    "54",           # How old are you?
    "1",            # Yes, the diffuse type
    "yes",          # tried other treatment
    "1",            # skin getting thicker
    "4",            # none of these (heart)
    "2", "no", "2", "2", "no",   # HIV, hepatitis B and C, infection, labs
    "never",        # IVIG
    "1", "1", "1",  # cyclophosphamide, biologics, rituximab: never
    "2",            # other biologic: no
    "3",            # pregnancy: doesn't apply to me
    "1",            # the review: that's right, show my result
]


def test_a_whole_conversation_with_numbers_and_words(db_url):
    done = chat(db_url, WHOLE, "--sender", "cli-whole-0123456789abcdef")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Shall we start?" in out
    assert "1) Start" in out and "2) Not now" in out
    assert "Question 1 of " in out and "How old are you?" in out
    assert "Result: based on your answers, you may be able to take part" in out
    assert CONTACT_ADDRESS in out and STAFF_DECIDE in out
    assert out.index("not recruiting") < out.index("Question 1 of ")
    assert "you: 54" in out
    assert "cli-whole-0123456789abcdef" in done.stderr            # the conversation id, on standard error
    result, events = outcome(db_url, "cli-whole-0123456789abcdef")
    assert result == "likely_eligible"
    assert len(user_events(events)) == len(WHOLE) + 1   # the greeting, then every line


def test_sender_resumes_a_conversation(db_url):
    first = chat(db_url, ["1", "54", "1"], "--sender", "cli-resume-0123456789abcdef")
    assert first.returncode == 0, first.stderr
    assert "Question 3 of " in first.stdout
    second = chat(db_url, ["yes", "ulcers", "none", "no", "no", "no", "no", "no", "never", "never", "never",
                           "never", "no", "no", "1"], "--sender", "cli-resume-0123456789abcdef")   # 1: the review is right
    assert second.returncode == 0, second.stderr
    assert "Shall we start?" not in second.stdout        # no new greeting: the same conversation goes on
    assert "Result: based on your answers, you may be able to take part" in second.stdout
    result, events = outcome(db_url, "cli-resume-0123456789abcdef")
    assert result == "likely_eligible"
    assert [e["text"] for e in user_events(events)][:4] == ["/greet", "/affirm", "54",
                                                            '/inform{"diagnosis":"diffuse"}']   # buttons send ids, never words


def test_resuming_shows_the_pending_question_and_its_numbers_work(db_url):
    """A patient who comes back with --sender must see where they are, and "1" must pick
    the first button of that question, as it did before they left."""
    chat(db_url, ["1", "54", "1"], "--sender", "cli-resume-2-0123456789abcdef")
    second = chat(db_url, ["1"], "--sender", "cli-resume-2-0123456789abcdef")
    assert second.returncode == 0, second.stderr
    before_input = second.stdout.split("you: 1")[0]
    assert "Have you already tried other treatment" in before_input, second.stdout
    assert "did not understand" not in second.stdout, second.stdout
    assert "Question 4 of " in second.stdout


def test_not_now_ends_with_the_contact(db_url):
    done = chat(db_url, ["2"], "--sender", "cli-not-now-0123456789abcdef")
    assert done.returncode == 0
    assert CONTACT_ADDRESS in done.stdout and "Thank you for your time" in done.stdout
    assert "Question 1" not in done.stdout


def test_age_17_and_digressions(db_url):
    done = chat(db_url, ["1", "help", "why do you ask?", "17", "1", "1"], "--sender", "cli-17-0123456789abcdef")
    assert "go back" in done.stdout
    assert "Just to check" in done.stdout   # typed, a rule-out is checked back (1: "Yes, that's right")
    assert "This study is only for adults" in done.stdout
    assert "not likely to be able to take part" in done.stdout
    assert outcome(db_url, "cli-17-0123456789abcdef")[0] == "not_eligible"


def test_a_bad_sender_is_refused(db_url):
    done = chat(db_url, ["1"], "--sender", "not a valid id")
    assert done.returncode == 2
    assert "--sender" in done.stderr
    assert done.stdout == ""


def test_the_action_server_down_prints_the_sentence_and_stores_nothing(db_url):
    done = chat(db_url, ["1"], "--sender", "cli-down-0123456789abcdef",
                extra_env={"PRESCREEN_ACTION_ENDPOINT": f"http://127.0.0.1:{free_port()}/webhook"})
    assert "try again" in done.stderr.lower()
    assert "Traceback" not in done.stderr
    result, events = outcome(db_url, "cli-down-0123456789abcdef")
    assert events == []
