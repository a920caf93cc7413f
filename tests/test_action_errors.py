"""Errors in the custom actions: a bug (ActionFailed) is told apart from an outage
(ActionServerError); either way the patient gets 503 "try again" and the turn is rolled
back, and the log tells the developer where the bug is (the exception's type and the
traceback's frames) without ever writing what the patient typed."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rasa_sdk.interfaces import ActionExecutionRejection


import actions.prescreen as prescreen
from bot.chat import RETRY_MESSAGE
from bot.runner import ActionFailed, ActionNotRun, ActionRunner, ActionServerError, HttpRunner, InProcessRunner
from chatkit import CRITERIA, Patient, free_port, make_app, store_of

THIS_FILE = os.path.basename(__file__)


@pytest.fixture(autouse=True)
def criteria_env(monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    monkeypatch.delenv("PRESCREEN_ACTION_ENDPOINT", raising=False)


@pytest.fixture
def word() -> str:
    """A word that appears nowhere but in what the 'patient' sends."""
    return f"zebra-{uuid.uuid4().hex}"


@pytest.fixture
def all_logs(caplog):
    """Every logger at DEBUG, every record captured (also from loggers that do not propagate)."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    added = []
    for logger in loggers:
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=logger.name)
            if not logger.propagate:
                logger.addHandler(caplog.handler)
                added.append(logger)
    yield caplog
    for logger in added:
        logger.removeHandler(caplog.handler)


def everything_logged(caplog, capfd) -> str:
    """All that was logged or printed: records (message, args, exception info), stdout, stderr."""
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.msg), repr(record.args), str(record.exc_info),
                  str(record.exc_text), str(record.stack_info)]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    out, err = capfd.readouterr()
    return "\n".join(parts + [out, err])


def call(name: str, domain: dict | None = None, slots: dict | None = None) -> dict:
    tracker = {"sender_id": "errors-test", "slots": slots or {}, "latest_message": {}, "events": [],
               "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": None}
    return {"next_action": name, "sender_id": "errors-test", "tracker": tracker, "domain": domain,
            "version": "3"}


# --- how the actions fail: raised where a real bug would be --------------------------------------


def explode_in_parser(trial, question, text, today, tapped=False):
    """parse_answer with a bug that quotes the answer (as a KeyError of a dict lookup does)."""
    raise KeyError(text)


def explode_reading_answer(self, trial, question, text, dispatcher, tracker, domain):
    raise ValueError(f"bad {text}")


def explode_chained(trial, question, text, today, tapped=False):
    try:
        {}[text]
    except KeyError as exc:
        raise ValueError(f"could not read {text}") from exc


FAILURES = {
    # name: (the patch, the exception's type, the function that raised it)
    "KeyError in the parser": (lambda mp: mp.setattr(prescreen, "parse_answer", explode_in_parser),
                               "KeyError", "explode_in_parser"),
    "ValueError in the form's validation": (
        lambda mp: mp.setattr(prescreen.ValidatePrescreenForm, "read_answer", explode_reading_answer),
        "ValueError", "explode_reading_answer"),
    "ValueError raised from a KeyError": (lambda mp: mp.setattr(prescreen, "parse_answer", explode_chained),
                                          "ValueError", "explode_chained"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failing_action_is_503_stores_nothing_and_logs_where_but_not_what(
        tmp_path, monkeypatch, all_logs, capfd, word, failure):
    patch, kind, function = FAILURES[failure]
    app = make_app(tmp_path / "errors.sqlite3")
    store = store_of(app)
    patient = Patient(app.test_client())
    patient.start()
    assert patient.asked == "age"
    before, summary = store.events(patient.sender), store.conversation(patient.sender)
    assert before
    capfd.readouterr()
    all_logs.clear()

    with monkeypatch.context() as mp:
        patch(mp)
        response = patient.post(f"I am 54 {word}", message_id="fails-1")

    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json() == {"error": RETRY_MESSAGE, "retry": True}
    assert word not in response.get_data(as_text=True)
    # rolled back: not one event of the turn, and the summary row as it was
    assert len(store.events(patient.sender)) == len(before)
    assert store.events(patient.sender) == before
    assert store.conversation(patient.sender) == summary

    logged = everything_logged(all_logs, capfd)
    assert word not in logged, "what the patient typed was logged"
    errors = [r for r in all_logs.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["prescreen.actions"], [(r.name, r.getMessage()[:200]) for r in errors]
    message = errors[0].getMessage()
    assert "validate_prescreen_form" in message
    assert kind in message
    assert f'"{__file__}"' in message and f"in {function}" in message, message
    if failure == "ValueError raised from a KeyError":
        assert "KeyError" in message and "direct cause" in message
    assert all(r.exc_info is None for r in all_logs.records), "exc_info prints the exception's message"
    assert "Traceback" in message and message.count("Traceback") == (2 if "from a KeyError" in failure else 1)
    assert "Traceback" not in all_logs.text.replace(message, ""), "a second traceback was logged"

    # the patient tries again and the form goes on from where it was
    patient.replies = patient.says("54", message_id="fails-1")
    assert patient.asked == "diagnosis"
    store.engine.dispose()


def test_the_turn_raises_action_failed_without_the_original_exception(tmp_path, monkeypatch, all_logs, capfd,
                                                                     word):
    app = make_app(tmp_path / "direct.sqlite3")
    conversations, store = app.extensions["prescreen"], store_of(app)
    sender = f"direct-{uuid.uuid4().hex}"
    conversations.message(sender, "hi")
    conversations.message(sender, "/affirm")
    before = store.events(sender)
    monkeypatch.setattr(prescreen, "parse_answer", explode_in_parser)
    with pytest.raises(ActionFailed) as raised:
        conversations.message(sender, f"54 {word}")
    exc = raised.value
    assert not isinstance(exc, ActionServerError)
    assert exc.action == "validate_prescreen_form" and exc.kind == "KeyError"
    assert str(exc) == "action 'validate_prescreen_form' failed: KeyError"
    # nothing chained: Flask, gunicorn or a log.exception upstream could not print the original
    assert exc.__cause__ is None and exc.__context__ is None and not exc.args[1:]
    assert word not in everything_logged(all_logs, capfd)
    assert len([r for r in all_logs.records if r.name == "prescreen.actions"]) == 1
    assert store.events(sender) == before
    store.engine.dispose()


def test_an_action_failing_after_waiting_is_action_failed_too(all_logs, capfd):
    runner = InProcessRunner(CRITERIA, package="waiting_actions")
    with pytest.raises(ActionFailed, match="action_waits_then_fails.*RuntimeError"):
        runner.run(call("action_waits_then_fails", domain={}))

    async def inside():  # and from inside a running event loop (the runner's thread-pool path)
        return runner.run(call("action_waits_then_fails", domain={}))

    with pytest.raises(ActionFailed):
        asyncio.run(inside())
    records = [r.getMessage() for r in all_logs.records if r.name == "prescreen.actions"]
    assert len(records) == 2   # once per call
    for message in records:
        # the frame that raised, with its source line (code, not data), and the type last
        assert 'waiting_actions/__init__.py", line' in message and "in run" in message
        assert message.endswith("\nRuntimeError")


# --- rasa-sdk's refusals in process: configuration errors, not outages ----------------------------


def test_an_unknown_action_is_action_not_run_404(all_logs):
    runner = InProcessRunner(CRITERIA)
    with pytest.raises(ActionNotRun) as raised:
        runner.run(call("action_nobody_wrote", domain={}))
    assert raised.value.status == 404 and "404" in str(raised.value)
    assert isinstance(raised.value, ActionFailed) and not isinstance(raised.value, ActionServerError)
    assert "ActionNotFoundException" in all_logs.text


def test_a_call_without_a_domain_is_action_not_run_449():
    runner = InProcessRunner(CRITERIA)
    with pytest.raises(ActionNotRun) as raised:
        runner.run(call("action_session_start", domain=None))
    assert raised.value.status == 449 and "449" in str(raised.value)


def test_a_rejected_action_is_action_not_run_400_and_its_message_is_not_logged(all_logs, capfd, word):
    runner = InProcessRunner(CRITERIA)

    def rejects(dispatcher, tracker, domain):
        raise ActionExecutionRejection("action_rejects", f"cannot use {word}")

    runner.executor.register_function("action_rejects", rejects)
    with pytest.raises(ActionNotRun) as raised:
        runner.run(call("action_rejects", domain={}))
    assert raised.value.status == 400 and "400" in str(raised.value)
    assert word not in str(raised.value)
    logged = everything_logged(all_logs, capfd)
    assert word not in logged
    assert "ActionExecutionRejection" in logged and "in rejects" in logged


# --- over HTTP: the transport's answers ------------------------------------------------------------


class FakeActionServer:
    """Answers POST /webhook with a set status and body (the body quotes the call, as rasa-sdk's 500 does)."""

    def __init__(self) -> None:
        self.status, self.body = 200, b'{"events": [], "responses": []}'
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = server.body.replace(b"CALL", json.dumps(sent.decode()).encode())
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_server():
    server = FakeActionServer()
    yield server
    server.stop()


@pytest.mark.parametrize("status", [404, 400, 449])
def test_an_action_server_refusing_the_call_is_action_not_run_with_the_status(fake_server, all_logs, capfd, word,
                                                                              status):
    fake_server.status, fake_server.body = status, b'{"error": "refused", "request_body": CALL}'
    runner = HttpRunner(fake_server.url, timeout=5)
    with pytest.raises(ActionNotRun) as raised:
        runner.run(call("action_session_start", domain={}, slots={"age": word}))
    assert raised.value.status == status and str(status) in str(raised.value)
    assert "action_session_start" in str(raised.value)
    assert not isinstance(raised.value, ActionServerError)
    logged = everything_logged(all_logs, capfd)
    assert word not in logged and word not in str(raised.value)
    assert str(status) in logged


@pytest.mark.parametrize("status, body", [(500, b'{"error": "boom", "request_body": CALL}'),
                                          (503, b"Service Unavailable"), (200, b"<html>not json</html>"),
                                          (200, b'["not", "an", "object"]')])
def test_an_action_server_failing_is_action_server_error(fake_server, all_logs, capfd, word, status, body):
    fake_server.status, fake_server.body = status, body
    runner = HttpRunner(fake_server.url, timeout=5)
    with pytest.raises(ActionServerError) as raised:
        runner.run(call("action_session_start", domain={}, slots={"age": word}))
    assert not isinstance(raised.value, ActionFailed)
    assert word not in str(raised.value) and word not in everything_logged(all_logs, capfd)


def test_an_unreachable_action_server_is_action_server_error():
    runner = HttpRunner(f"http://127.0.0.1:{free_port()}/webhook", timeout=1)
    with pytest.raises(ActionServerError, match="unreachable"):
        runner.run(call("action_session_start", domain={}))


def test_an_unreachable_action_server_is_503_through_the_webhook(tmp_path, all_logs, capfd, word):
    app = make_app(tmp_path / "down.sqlite3", ACTION_ENDPOINT=f"http://127.0.0.1:{free_port()}/webhook",
                   ACTION_TIMEOUT=1)
    store = store_of(app)
    patient = Patient(app.test_client())
    response = patient.post(f"hi {word}", message_id="down-1")
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json() == {"error": RETRY_MESSAGE, "retry": True}
    assert store.events(patient.sender) == [] and store.conversation(patient.sender) is None
    logged = everything_logged(all_logs, capfd)
    assert word not in logged
    assert "turn rolled back: ActionServerError: action server unreachable" in logged
    assert not [r for r in all_logs.records if r.levelno >= logging.ERROR], "an outage is not a bug"
    store.engine.dispose()


def test_both_runners_are_action_runners():
    assert ActionRunner in InProcessRunner.__mro__ and ActionRunner in HttpRunner.__mro__
    assert not issubclass(ActionFailed, ActionServerError) and not issubclass(ActionServerError, ActionFailed)
