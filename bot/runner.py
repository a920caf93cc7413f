"""Running custom actions: in process through rasa-sdk's executor, or over HTTP
against the stock rasa-sdk action server (its real webhook protocol)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import traceback
from typing import Any, Coroutine, Protocol

import requests
import rasa_sdk
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionMissingDomainException, ActionNotFoundException

from actions.loader import serving
from actions.trial import Trial, load_trial
from bot.events import ActionCall, ActionResult

log = logging.getLogger("prescreen.actions")


class ActionRunner(Protocol):
    """What the engine calls to run one custom action (InProcessRunner, HttpRunner)."""

    def run(self, call: ActionCall) -> ActionResult:
        """Run one action and return what it did.

        `call` is rasa-sdk's webhook request: {"next_action": the action's name, "sender_id",
        "tracker": the tracker dict (slots, latest_message, this turn's events, active_loop, ...),
        "domain": the domain dict, "version": the rasa-sdk version}.
        The result is {"events": the events the action returns (Rasa's event dicts),
        "responses": the messages it dispatched}, both lists (possibly empty).

        Raises ActionServerError when the actions could not be reached (an outage: worth a retry),
        and ActionFailed when they were reached and the action failed (a bug or a configuration error).
        """
        ...


class ActionServerError(Exception):
    """The actions could not be reached: the action server is down, too slow, answered an error
    (500) or something that is not JSON. The message never holds anything the patient sent."""


class ActionFailed(Exception):
    """The action ran and raised (a bug, not an outage). The message holds the action's name and
    the exception's type only, never its message (which may quote what the patient typed);
    the runner has already logged the traceback's frames on `prescreen.actions`."""

    def __init__(self, action: str | None, kind: str, detail: str = "failed") -> None:
        self.action, self.kind = action, kind
        super().__init__(f"action {action!r} {detail}: {kind}")


class ActionNotRun(ActionFailed):
    """rasa-sdk would not run the action: unknown (404), rejected (400) or no domain sent (449);
    `status` is the HTTP status the action server answers (or would answer) for it."""

    REASONS = {404: "unknown action", 400: "action rejected", 449: "no domain in the call"}

    def __init__(self, action: str | None, status: int, cause: str | None = None) -> None:
        self.status = status
        kind = f"{status} {self.REASONS[status]}" + (f" ({cause})" if cause else "")
        super().__init__(action, kind, detail="not run")


# rasa-sdk's own refusals, and the status its HTTP server answers for each (rasa_sdk/endpoint.py)
_NOT_RUN: dict[type[Exception], int] = {
    ActionNotFoundException: 404,
    ActionExecutionRejection: 400,
    ActionMissingDomainException: 449,
}

MAX_FRAMES = 60


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def frames_only(exc: BaseException) -> str:
    """The traceback of `exc` (and of the exceptions it was raised from) as Python prints it,
    without any exception's message or args, and without local values."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    note = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, note))
        if current.__cause__ is not None:
            current, note = current.__cause__, "The above exception was the direct cause of the following exception:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, note = current.__context__, "During handling of the above exception, another exception occurred:"
        else:
            current = None
    lines: list[str] = []
    for current, note in reversed(chain):
        stack = traceback.extract_tb(current.__traceback__)  # a StackSummary: no locals unless asked
        shown = list(stack)
        if len(shown) > MAX_FRAMES:
            half = MAX_FRAMES // 2
            shown = shown[:half] + [None] + shown[-half:]  # type: ignore[list-item]
        lines.append("Traceback (most recent call last; message withheld):")
        for frame in shown:
            if frame is None:
                lines.append(f"  ... {len(stack) - MAX_FRAMES} frames left out ...")
                continue
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line.strip()}")
        lines.append(_type_name(current))
        if note:  # `note` tells how this exception led to the next one in the chain
            lines.append("")
            lines.append(note)
            lines.append("")
    return "\n".join(lines).rstrip()


def _log_failure(action: str | None, exc: BaseException) -> None:
    """One ERROR record: the action, the exception's type and the frames; never its message,
    args or locals (a parser's error often quotes the patient's answer: health data)."""
    log.error("action %r failed: %s\n%s", action, _type_name(exc), frames_only(exc))


class InProcessRunner(ActionRunner):
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

    def run(self, call: ActionCall) -> ActionResult:
        """The action's `{"events", "responses"}` for one call."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop runs in this thread (the usual case)
            running = False
        else:
            running = True
        if running:  # called from inside a running event loop (e.g. a test driving a browser): run beside it
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                return pool.submit(self._run, call).result()
        return self._run(call)  # outside the except block: an action's exception is not chained to it

    def _run(self, call: ActionCall) -> ActionResult:
        """One call; whatever the action raises becomes ActionFailed (ActionNotRun for rasa-sdk's
        refusals), logged here once with its frames but never its message."""
        action = call.get("next_action")
        token = serving.set(self.trial)
        try:
            result = self._complete(self.executor.run(call))
        except tuple(_NOT_RUN) as exc:  # rasa-sdk's refusals: the HTTP server's 404/400/449
            _log_failure(action, exc)
            status = next(code for kind, code in _NOT_RUN.items() if isinstance(exc, kind))
            failure: ActionFailed = ActionNotRun(action, status, _type_name(exc))
        except Exception as exc:  # last-resort boundary: an action is arbitrary code and any bug in it
            # must end the turn as ActionFailed (rolled back, 503), as the HTTP server's 500 does
            _log_failure(action, exc)
            failure = ActionFailed(action, _type_name(exc))
        else:
            return result.model_dump() if result is not None else {"events": [], "responses": []}
        finally:
            serving.reset(token)
        # raised outside the except blocks, so it carries no __context__: nothing upstream can print
        # the original exception (its message) along with it
        raise failure from None

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


class HttpRunner(ActionRunner):
    """Calls a rasa-sdk action server's POST /webhook."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.session = requests.Session()

    def run(self, call: ActionCall) -> ActionResult:
        """The action's `{"events", "responses"}` for one call; ActionServerError when the server
        cannot be reached or fails (500: the action raised, the server logged it), ActionNotRun
        when it refuses the call (404 unknown action, 400 rejected, 449 no domain).
        The server's error body is never read: it quotes the action's exception and the call."""
        action = call.get("next_action")
        try:
            response = self.session.post(self.endpoint, json=call, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ActionServerError(f"action server unreachable: {type(exc).__name__}") from exc
        if response.status_code in ActionNotRun.REASONS:
            failure = ActionNotRun(action, response.status_code)
            log.error("action %r not run: the action server answered %s", action, failure.kind)
            raise failure
        if response.status_code != 200:
            raise ActionServerError(f"action server answered {response.status_code} for {action!r}")
        try:
            data = response.json()
        except ValueError as exc:  # requests' JSONDecodeError (its message quotes no body)
            raise ActionServerError(f"action server answered something that is not JSON for {action!r}") from exc
        if data is None:  # rasa-sdk's answer to a call without an action name
            data = {}
        if not isinstance(data, dict):
            raise ActionServerError(f"action server answered JSON that is not an object for {action!r}")
        return {"events": data.get("events") or [], "responses": data.get("responses") or []}


SDK_VERSION = rasa_sdk.__version__
