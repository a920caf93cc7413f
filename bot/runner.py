"""Running custom actions: in process through rasa-sdk's executor, or over HTTP
against the stock rasa-sdk action server (its real webhook protocol)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine

import requests
import rasa_sdk
from rasa_sdk.executor import ActionExecutor

from actions.loader import serving
from actions.trial import Trial, load_trial


class ActionServerError(Exception):
    """The actions could not run (server down, slow, or refusing the call)."""


class InProcessRunner:
    """Runs the `actions` package with rasa-sdk's ActionExecutor in this process, for
    `trial` (the Trial the app loaded, or the path of a criteria file)."""

    def __init__(self, trial: Trial | str, package: str = "actions") -> None:
        self.executor = ActionExecutor()
        self.executor.register_package(package)
        self.trial = load_trial(trial) if isinstance(trial, str) else trial
        self._local = threading.local()

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
        return loop

    def run(self, call: dict[str, Any]) -> dict[str, Any]:
        """The action's `{"events", "responses"}` for one call."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run(call)
        # called from inside a running event loop (e.g. a test driving a browser): run beside it
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(self._run, call).result()

    def _run(self, call: dict[str, Any]) -> dict[str, Any]:
        token = serving.set(self.trial)
        try:
            result = self._complete(self.executor.run(call))
        except Exception as exc:  # the HTTP server maps these to 400/404/449/500
            raise ActionServerError(f"action {call.get('next_action')!r} failed: {type(exc).__name__}") from exc
        finally:
            serving.reset(token)
        return result.model_dump() if result is not None else {"events": [], "responses": []}

    def _complete(self, coro: Coroutine) -> Any:
        """Run the executor's coroutine to its end. The actions never wait on anything, so one
        step finishes it, without the event loop's scheduling (a tenth of an action call);
        a coroutine that does wait is finished by this thread's event loop."""
        loop = self._loop()
        asyncio._set_running_loop(loop)  # an action that waits makes its futures on this loop
        try:
            pending = coro.send(None)
        except StopIteration as done:
            return done.value
        finally:
            asyncio._set_running_loop(None)
        return loop.run_until_complete(_resume(coro, pending))


async def _resume(coro: Coroutine, pending: Any) -> Any:
    return await _Stepped(coro, pending)


class _Stepped:
    """Awaiting it goes on with a coroutine stepped by hand up to `pending` (what it waits for)."""

    def __init__(self, coro: Coroutine, pending: Any) -> None:
        self.coro, self.pending = coro, pending

    def __await__(self):
        pending = self.pending
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # the task cancelled, or the awaited future failed
                resume, arg = self.coro.throw, exc
            else:
                resume, arg = self.coro.send, value
            try:
                pending = resume(arg)
            except StopIteration as done:
                return done.value


class HttpRunner:
    """Calls a rasa-sdk action server's POST /webhook."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.session = requests.Session()

    def run(self, call: dict[str, Any]) -> dict[str, Any]:
        """The action's `{"events", "responses"}` for one call, or ActionServerError."""
        try:
            response = self.session.post(self.endpoint, json=call, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ActionServerError(f"action server unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise ActionServerError(f"action server answered {response.status_code} for {call.get('next_action')!r}")
        try:
            data = response.json()
        except ValueError as exc:
            raise ActionServerError("action server answered something that is not JSON") from exc
        return {"events": data.get("events") or [], "responses": data.get("responses") or []}


SDK_VERSION = rasa_sdk.__version__
