"""The dialogue engine: one patient turn, from message to events and replies.

The conversation's state is derived from its event log (Rasa's event types).
A turn parses the message, picks the matching rule (or lets the active form
take the message as an answer), runs the actions, and returns the new events
and the replies in the Rasa REST channel's shape. It does no I/O of its own:
the store loads and saves the events, the runner runs the custom actions.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import rasa_sdk
from rasa_sdk.events import ActiveLoop, Restarted, SessionStarted, SlotSet

from actions.placeholders import fill_placeholders, pick_variation
from actions.translations import LANGUAGE_SLOT   # the conversation's language, kept across restarts
from bot.dialogue import Dialogue, Rule
from bot.events import Event, Reply
from bot.jsoncodec import dumps, loads
from bot.nlu import NLU

if TYPE_CHECKING:
    from bot.runner import ActionRunner

LISTEN = "action_listen"
SDK_VERSION = rasa_sdk.__version__


@dataclass
class State:
    """What the event log says now: slots, active loop, latest message and action.

    `initial` holds the slot values a restart or a new session goes back to (the
    domain's initial values). `State.fold` is the one fold of an event log into
    slots: the engine's replay and the staff record both use it.
    """

    slots: dict[str, Any]
    active_loop: str | None = None
    latest_message: dict[str, Any] = field(default_factory=dict)
    latest_action: str | None = None
    latest_bot_action: str | None = None
    events: list[Event] = field(default_factory=list)
    initial: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fold(cls, events: Iterable[Event], initial: Mapping[str, Any]) -> State:
        """The state after these events, from (and, on a restart or a new session, back to)
        the slot values `initial`. Pure: `events` and `initial` are not changed."""
        state = cls(slots=dict(initial), initial=dict(initial))
        for event in events:
            state.apply(event)
        return state

    def apply(self, event: Event) -> None:
        """Fold one event into the state (Rasa's tracker semantics)."""
        kind = event.get("event")
        self.events.append(event)
        if kind == "user":
            self.latest_message = {k: event.get(k) for k in ("text", "intent", "entities", "metadata")}
            self.latest_message.update(event.get("parse_data") or {})
            self.latest_message["metadata"] = event.get("metadata") or {}
        elif kind == "slot":
            self.slots[event["name"]] = event.get("value")
        elif kind == "active_loop":
            self.active_loop = event.get("name")
        elif kind == "action":
            self.latest_action = event.get("name")
            if event.get("name") != LISTEN:
                self.latest_bot_action = event.get("name")
        elif kind in ("restart", "session_started"):
            language = self.slots.get(LANGUAGE_SLOT)
            self.slots = dict(self.initial)
            if language:        # a restart or a new session keeps the conversation's language
                self.slots[LANGUAGE_SLOT] = language
            self.active_loop = None

    def to_json(self) -> str:
        """The state to store beside the log (everything but the events)."""
        return dumps({"slots": self.slots, "active_loop": self.active_loop,
                      "latest_message": self.latest_message, "latest_action": self.latest_action,
                      "latest_bot_action": self.latest_bot_action})

    def tracker(self, sender: str) -> dict[str, Any]:
        """The tracker dict rasa-sdk reads."""
        return {
            "sender_id": sender, "slots": dict(self.slots), "latest_message": self.latest_message,
            "events": list(self.events), "paused": False, "followup_action": None,
            "active_loop": {"name": self.active_loop} if self.active_loop else {},
            "latest_action_name": self.latest_action,
        }


def initial_slots(dialogue: Dialogue) -> dict[str, Any]:
    """The domain's slots with their initial values (what a restart goes back to)."""
    return {name: spec.get("initial_value") for name, spec in dialogue.domain.get("slots", {}).items()}


def initial_state(dialogue: Dialogue) -> State:
    """The state of a conversation that has no events yet."""
    return State.fold((), initial_slots(dialogue))


def replay(dialogue: Dialogue, events: Iterable[Event]) -> State:
    """The state after these events (the log is the record; a snapshot is only a shortcut)."""
    return State.fold(events, initial_slots(dialogue))


def restore(dialogue: Dialogue, snapshot: str) -> State:
    """The state from a stored snapshot (State.to_json); its event list starts empty."""
    data = loads(snapshot)
    state = initial_state(dialogue)
    state.slots.update(data.get("slots") or {})
    state.active_loop = data.get("active_loop")
    state.latest_message = data.get("latest_message") or {}
    state.latest_action = data.get("latest_action")
    state.latest_bot_action = data.get("latest_bot_action")
    return state


@dataclass
class Turn:
    """What one turn produced: events to append, replies, and requests to the store."""

    events: list[Event] = field(default_factory=list)
    messages: list[Reply] = field(default_factory=list)
    delete: bool = False
    state: State | None = None


class Engine:
    """Runs turns of the conversation described by a Dialogue."""

    def __init__(self, dialogue: Dialogue, runner: ActionRunner,
                 answer_reader: Callable[[str, str, dict[str, Any]], bool] | None = None,
                 languages: Iterable[str] = ("en",)) -> None:
        """`answer_reader(question_id, text, metadata)`: whether the text is a confident answer to
        the question being asked; such a reply is an answer even when it is shaped like a request.
        `languages`: those a message's `metadata.language` may set (the trial's offered ones)."""
        self.dialogue = dialogue
        self.runner = runner
        self.nlu = NLU(dialogue.examples, dialogue.intents)
        self.domain = dialogue.domain
        self.answer_reader = answer_reader
        self.languages = tuple(languages)

    # -- one turn --------------------------------------------------------------
    def handle(self, sender: str, text: str, state: State | list[Event] | None,
               metadata: dict[str, Any] | None = None, now: float | None = None) -> Turn:
        """Run one user message on the conversation's state (or its past events; None: a new one).

        The custom actions see the events of this turn, not the whole log: what
        they need of the past is in the slots.
        """
        new = state is None or state == []
        if isinstance(state, list):
            state = replay(self.dialogue, state)
        state = state or initial_state(self.dialogue)
        state.events = []
        run = _Run(self, sender, state, now or time.time())
        first = not state.latest_message
        if new:
            run.action("action_session_start")
        language = (metadata or {}).get("language")
        if language in self.languages and language != (run.state.slots.get(LANGUAGE_SLOT) or "en"):
            run.add({"event": "slot", "name": LANGUAGE_SLOT, "value": language})   # the client's language
        language = run.state.slots.get(LANGUAGE_SLOT) or "en"
        asked = state.slots.get("requested_slot") if state.active_loop == "prescreen_form" else None
        is_answer = (lambda words: self.answer_reader(asked, words, {**(metadata or {}), "language": language})) \
            if asked and self.answer_reader else None
        parse = self.nlu.parse(text, is_answer)
        user = {"event": "user", "text": text, "parse_data": parse, "input_channel": "rest",
                "metadata": metadata or {}}
        if metadata and metadata.get("message_id"):
            user["message_id"] = str(metadata["message_id"])
        run.add(user)
        intent = parse["intent"]["name"]
        rule = self.match(run.state, intent, first)
        if rule is None and run.state.active_loop:
            run.answer_form(parse)
        else:
            rule = rule or self.match(run.state, "nlu_fallback", first)
            if rule:
                run.steps(rule.steps)
        run.add({"event": "action", "name": LISTEN})
        run.turn.state = run.state
        return run.turn

    def match(self, state: State, intent: str, first: bool) -> Rule | None:
        """The most specific rule for this intent in this state."""
        best = None
        for rule in self.dialogue.rules:
            if rule.intent != intent or (rule.conversation_start and not first):
                continue
            if rule.active_loop == "any":
                if state.active_loop:
                    continue
            elif rule.active_loop != state.active_loop:
                continue
            if rule.after is not None and rule.after != state.latest_bot_action:
                continue
            if best is None or rule.specificity > best.specificity:
                best = rule
        return best


class _Run:
    """The events and replies of one turn as it runs."""

    def __init__(self, engine: Engine, sender: str, state: State, now: float) -> None:
        self.engine, self.sender, self.state, self.now = engine, sender, state, now
        self.turn = Turn()
        self.domain = engine.domain

    def add(self, event: Event) -> None:
        event.setdefault("timestamp", self.now)
        self.turn.events.append(event)
        self.state.apply(event)

    def steps(self, steps) -> None:
        for kind, name in steps:
            if kind == "action":
                self.action(name)
            elif kind == "active_loop" and name is None and self.state.active_loop:
                self.add(ActiveLoop(None, self.now))

    # -- actions -----------------------------------------------------------------
    def action(self, name: str) -> None:
        if name in self.domain.get("forms", {}):
            return self.form(name)
        if name == "action_restart":
            self.add({"event": "action", "name": name})
            self.add(Restarted(self.now))
            return
        if name == "action_deactivate_loop":
            self.add({"event": "action", "name": name})
            if self.state.active_loop:
                self.add(ActiveLoop(None, self.now))
            return
        if name == "action_delete_conversation":
            self.turn.delete = True
            return
        if name == "action_session_start" and name not in self.domain.get("actions", []):
            self.add(SessionStarted(self.now))
            self.add({"event": "action", "name": LISTEN})
            return
        if name.startswith("utter_") and name in self.domain.get("responses", {}):
            self.add({"event": "action", "name": name})
            self.utter({"response": name})
            return
        self.custom(name)

    def custom(self, name: str, extra_events: list[Event] | None = None) -> list[Event]:
        tracker = self.state.tracker(self.sender)
        if extra_events:
            tracker["events"] = tracker["events"] + extra_events
        call = {"next_action": name, "sender_id": self.sender, "tracker": tracker,
                "domain": self.domain, "version": SDK_VERSION}
        result = self.engine.runner.run(call)
        self.add({"event": "action", "name": name})
        followups = []
        for event in result.get("events") or []:
            if event.get("event") == "followup":
                followups.append(event["name"])
                continue
            event = {k: v for k, v in event.items() if k != "timestamp" or v}
            if event.get("event") == "session_started":
                self.add(dict(event))
                continue
            if event.get("event") == "action" and event.get("name") == LISTEN:
                continue
            self.add(dict(event))
        for response in result.get("responses") or []:
            self.utter(response)
        for followup in followups:
            self.action(followup)
        return result.get("events") or []

    def utter(self, response: dict[str, Any]) -> None:
        """Render one response (a domain template and/or direct fields) as replies."""
        response = dict(response)
        name = response.pop("response", None) or response.pop("template", None)
        message: dict[str, Any] = {}
        if name:
            variations = self.domain["responses"].get(name)
            if not variations:
                return
            message = copy.deepcopy(pick_variation(variations, self.state.slots))
            message.pop("condition", None)
            message.pop("metadata", None)
            values = {**{k: v for k, v in self.state.slots.items() if not isinstance(v, (dict, list))}, **response}
            if message.get("text"):
                message["text"] = fill_placeholders(message["text"], values)
        for key in ("text", "buttons", "custom", "image", "attachment"):
            if response.get(key):
                message[key] = response[key] if key != "buttons" else message.get("buttons", []) + response[key]
        if response.get("json_message"):
            message["custom"] = response["json_message"]
        text = message.get("text")
        data = {k: message[k] for k in ("buttons", "custom", "image", "attachment") if message.get(k)}
        self.add({"event": "bot", "text": text, "data": data, "metadata": {"utter_action": name} if name else {}})
        if text and not data:
            parts = [p.strip() for p in text.strip().split("\n\n") if p.strip()]
        else:
            parts = [text]
        for i, part in enumerate(parts):
            item = {"recipient_id": self.sender}
            if part:
                item["text"] = part
            if i == len(parts) - 1:
                item.update(data)
            if len(item) > 1:
                self.turn.messages.append(item)

    # -- forms -------------------------------------------------------------------
    def form(self, name: str, candidate: list[Event] | None = None) -> None:
        """Run a form: validate the candidate, then ask the next slot or finish."""
        self.add({"event": "action", "name": name})
        if self.state.active_loop != name:
            self.add(ActiveLoop(name, self.now))
        validator = f"validate_{name}"
        if validator in self.domain.get("actions", []):
            # what the validator sees before the candidate (not stored: no key order to keep)
            pre = [SlotSet("requested_slot", self.state.slots.get("requested_slot"), self.now),
                   {"event": "action", "name": name, "timestamp": self.now}]
            returned = self.custom(validator, pre + (candidate or []))
            if not any(e.get("event") == "slot" and e.get("name") == "requested_slot" for e in returned):
                self.add({"event": "slot", "name": "requested_slot", "value": self._first_empty(name)})
        else:
            for event in candidate or []:
                self.add(dict(event))
            self.add({"event": "slot", "name": "requested_slot", "value": self._first_empty(name)})
        requested = self.state.slots.get("requested_slot")
        if requested:
            self.ask(name, requested)
            return
        self.add(ActiveLoop(None, self.now))
        for follow in self.engine.dialogue.completions.get(name, []):
            self.action(follow)

    def _first_empty(self, form: str) -> str | None:
        required = self.domain["forms"][form].get("required_slots", [])
        return next((s for s in required if self.state.slots.get(s) is None), None)

    def ask(self, form: str, slot: str) -> None:
        for candidate in (f"action_ask_{form}_{slot}", f"utter_ask_{form}_{slot}", f"action_ask_{slot}",
                          f"utter_ask_{slot}", "action_ask_question"):
            if candidate in self.domain.get("actions", []) or candidate in self.domain["responses"]:
                self.action(candidate)
                return

    def answer_form(self, parse: dict[str, Any]) -> None:
        """The active form takes the message as the answer to its requested slot."""
        form = self.state.active_loop
        slot = self.state.slots.get("requested_slot")
        entities = {e["entity"]: e.get("value") for e in parse.get("entities") or []}
        is_payload = parse["text"].strip().startswith("/") and parse["intent"]["name"] != "nlu_fallback"
        if slot in entities:
            value = entities[slot]
        elif not is_payload:
            value = parse["text"]
        else:
            value = None
            self.utter({"response": "utter_stale_button"})
        candidate = [] if value is None or slot is None else [
            {"event": "slot", "name": slot, "value": value, "timestamp": self.now}]
        self.form(form, candidate)
