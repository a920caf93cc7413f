"""Shared helpers for the robustness tests: the PostgreSQL and Redis servers the
tests need, the "no half turn" rule, a server in a subprocess, and patients who
talk to a real server over HTTP.

    from dbkit import postgres_url, redis_url       # pytest fixtures
    assert_whole_turns(store.events(sender))

The PostgreSQL and Redis tests read PRESCREEN_TEST_POSTGRES_URL and
PRESCREEN_TEST_REDIS_URL (.ci/run exports both). Without them the tests skip
locally with the reason, and fail in CI (CI=1), where a missing server is a
broken set-up, not a reason to skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable

import pytest

from chatkit import free_port  # noqa: F401  (tests import it from here too)

ROOT = Path(__file__).resolve().parent.parent
CRITERIA = str(ROOT / "criteria.yaml")
WEBHOOK = "/webhooks/rest/webhook"
LISTEN = "action_listen"

# one prefix per test run: tests on the shared PostgreSQL database never see each other's senders
RUN = uuid.uuid4().hex[:10]


def run_sender(label: str) -> str:
    """A sender id unique to this run and this label (valid by docs/ARCHITECTURE.md, "The channel")."""
    return f"t{RUN}-{label}-{uuid.uuid4().hex[:8]}"


# -- servers the tests need ------------------------------------------------------------


def _need(variable: str, what: str) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    reason = f"{variable} is not set: no {what} to test against"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (in CI a missing {what} is a failure; see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """PRESCREEN_TEST_POSTGRES_URL (postgresql://...); skip locally, fail in CI when unset."""
    return _need("PRESCREEN_TEST_POSTGRES_URL", "PostgreSQL server")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """PRESCREEN_TEST_REDIS_URL (redis://...); skip locally, fail in CI when unset."""
    url = _need("PRESCREEN_TEST_REDIS_URL", "Redis server")
    import redis
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # set but unreachable: the set-up is broken everywhere
        pytest.fail(f"PRESCREEN_TEST_REDIS_URL={url} is set but Redis does not answer: {exc}")
    return url


@contextmanager
def postgres_schema(url: str, prefix: str):
    """A PostgreSQL URL whose tables live in a new schema of their own (dropped afterwards):
    for tests that need an empty database or see the whole of it."""
    from sqlalchemy import create_engine
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


# -- the event log's shape -------------------------------------------------------------------


def half_turn_problems(events: list[dict[str, Any]]) -> list[str]:
    """What breaks the rule "only whole turns": every user event is followed by
    events ending in an action_listen before the next user event (and the log ends
    with one). The first turn may start with the session-start events."""
    problems = []
    if not events:
        return problems
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if not users:
        return [f"{len(events)} event(s) but no user event"]
    for before, after in zip(users, users[1:]):
        previous = events[after - 1]
        if not (previous.get("event") == "action" and previous.get("name") == LISTEN):
            problems.append(f"user event at {after} follows {previous.get('event')}:{previous.get('name')}, "
                            f"not action_listen (turn from {before} is not whole)")
    last = events[-1]
    if not (last.get("event") == "action" and last.get("name") == LISTEN):
        problems.append(f"the log ends with {last.get('event')}:{last.get('name')}, not action_listen")
    for i, e in enumerate(events[:users[0]]):
        if e.get("event") not in ("action", "session_started", "slot"):
            problems.append(f"event {i} before the first user event is {e.get('event')}")
    return problems


def assert_whole_turns(events: list[dict[str, Any]], who: str = "") -> None:
    problems = half_turn_problems(events)
    assert not problems, f"half-stored turn {who}: {problems}"


def assert_unchanged_or_whole_turns(before: list[dict], after: list[dict], who: str = "") -> None:
    """The log is unchanged, or grew by whole turns only."""
    if after == before:
        return
    assert after[:len(before)] == before, f"earlier events of {who} changed"
    assert_whole_turns(after, who)


def user_message_ids(events: Iterable[dict]) -> list[str | None]:
    return [e.get("message_id") for e in events if e.get("event") == "user"]


# -- a server in a subprocess ------------------------------------------------------------------


class ServerProcess:
    """A server (`prescreen serve`, gunicorn, ...) started as a subprocess; waits for /health."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, log_path: Path,
                 timeout: float = 30.0) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "ab")
        # no stray PRESCREEN_* of the test run reaches the server: only what the test passes
        full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("PRESCREEN_")}, **env}
        self.proc = subprocess.Popen(argv, cwd=str(ROOT), env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        import requests
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the server did not answer /health within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-8000:]

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and any workers it forked)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if not self._log.closed:
            self._log.close()


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)]


def gunicorn_command(port: int, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "bot:create_app()"]


def booted_gunicorn(env: dict[str, str], log_path: Path, what: str, workers: int = 4) -> ServerProcess:
    """gunicorn on a new database: every worker creates the schema at once, and all must come up."""
    port = free_port()
    try:
        server = ServerProcess(gunicorn_command(port, workers=workers), env, port, log_path, timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"gunicorn did not come up on {what}: {exc}") from None
    time.sleep(2)   # let every worker finish booting (or fail)
    log = server.log()
    if "Traceback" in log or "Worker failed to boot" in log or server.proc.poll() is not None:
        server.stop()
        raise AssertionError(f"a worker failed to boot on {what} (schema creation raced):\n{log}")
    return server


# -- patients over HTTP ------------------------------------------------------------------------


class HttpResponse:
    """A requests response with the Flask test response's methods that chatkit.Patient uses."""

    def __init__(self, response) -> None:
        self.raw = response
        self.status_code = response.status_code
        self.headers = response.headers

    def get_json(self):
        return self.raw.json()

    def get_data(self, as_text: bool = False):
        return self.raw.text if as_text else self.raw.content


class HttpClient:
    """Enough of Flask's test client for chatkit.Patient, over real HTTP."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        import requests
        self.base_url = base_url
        self.timeout = timeout
        self.session = requests.Session()

    def post(self, path: str, json: Any = None, **kwargs):
        return HttpResponse(self.session.post(self.base_url + path, json=json, timeout=self.timeout))


# Typed answers that lead to "likely_eligible" (tests/test_conversation.py, by typing)
TYPED = {
    "age": "I'm 54",
    "diagnosis": "limited",
    "refractory": "yes it didn't help enough",
    "features": "ulcers on my fingers",
    "heart": "all under control",
    "hiv": "no",
    "hepatitis_b": "nope",
    "hepatitis_c": "no I don't",
    "serious_infection": "not that I know of",
    "labs": "no",
    "ivig": "never had it",
    "ig_route": "into a vein",
    "cyclophosphamide": "never",
    "biologic": "never taken any of them",
    "rituximab": "no never",
    "other_biologic": "no",
    "pregnancy": "I'm a man",
}


def next_message(patient, answers: dict[str, str]) -> str | None:
    """What the patient sends next (a button's payload or typed words); None once the result came."""
    if patient.result is not None:
        return None
    if not patient.replies:
        return "hi"
    if patient.review is not None:     # the answers as given: show the result
        return "/affirm"
    qid = patient.asked
    if qid is None:
        return patient.button("Start")["payload"]
    step = answers[qid]
    return patient.button(step[4:])["payload"] if step.startswith("tap:") else step


def isolated_app(tmp_path_factory, name: str):
    """An app for one test module on its own SQLite file, with the PRESCREEN_* limits at their
    defaults (whatever the environment says); yields the app, then closes its database."""
    from chatkit import CRITERIA, make_app, store_of
    mp = pytest.MonkeyPatch()
    mp.setenv("PRESCREEN_CRITERIA", CRITERIA)
    for variable in ("PRESCREEN_TRUSTED_PROXIES", "PRESCREEN_RATE_LIMITS", "PRESCREEN_MAX_MESSAGE_LENGTH",
                     "PRESCREEN_MAX_BODY_BYTES"):
        mp.delenv(variable, raising=False)
    application = make_app(tmp_path_factory.mktemp(name) / f"{name}.sqlite3")
    yield application
    store_of(application).engine.dispose()
    mp.undo()
