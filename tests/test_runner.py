"""The in-process runner: rasa-sdk's executor, stepped by hand when the action never
waits (ours), and finished on an event loop when it does (anyone else's)."""

from __future__ import annotations

import asyncio

import pytest

from bot.runner import ActionFailed, InProcessRunner
from chatkit import CRITERIA


def call(name: str, slots: dict | None = None) -> dict:
    tracker = {"sender_id": "runner-test", "slots": slots or {}, "latest_message": {}, "events": [],
               "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": None}
    return {"next_action": name, "sender_id": "runner-test", "tracker": tracker, "domain": {}, "version": "3"}


def test_an_action_that_never_waits_runs_without_the_event_loop():
    runner = InProcessRunner(CRITERIA)
    loop = runner._loop()
    result = runner.run(call("action_session_start"))
    names = [e.get("name") for e in result["events"]]
    assert result["events"][0]["event"] == "session_started" and "study_title" in names
    assert not loop.is_running()
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()   # no loop is left marked as running in this thread


def test_an_action_that_waits_is_finished_on_the_event_loop():
    runner = InProcessRunner(CRITERIA, package="waiting_actions")
    for _ in range(3):   # and the loop is reusable afterwards
        result = runner.run(call("action_waits"))
        assert [r.get("text") for r in result["responses"]] == ["waited 42"]
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_an_action_that_fails_after_waiting_is_action_failed():
    runner = InProcessRunner(CRITERIA, package="waiting_actions")
    with pytest.raises(ActionFailed, match="action_waits_then_fails"):
        runner.run(call("action_waits_then_fails"))
    assert runner.run(call("action_waits"))["responses"][0]["text"] == "waited 42"


def test_called_inside_a_running_event_loop_it_still_answers():
    runner = InProcessRunner(CRITERIA, package="waiting_actions")

    async def inside():
        return runner.run(call("action_waits"))

    assert asyncio.run(inside())["responses"][0]["text"] == "waited 42"
