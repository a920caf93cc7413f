"""The conversation as data: dialogues/domain.yml, rules.yml and nlu.yml.

`load_dialogue(folder, trial)` reads the three files, refuses anything the
engine does not support (naming the file, the key and what is supported),
and adds one form slot per question of the trial.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from actions.trial import Trial

SUPPORTED = {
    "domain.yml": {"version", "session_config", "intents", "entities", "slots", "forms", "actions", "responses"},
    "rules.yml": {"version", "rules"},
    "nlu.yml": {"version", "nlu"},
}
RULE_KEYS = {"rule", "steps", "condition", "conversation_start", "wait_for_user_input"}
STEP_KEYS = {"intent", "action", "active_loop"}
BUILTIN_ACTIONS = {"action_listen", "action_restart", "action_deactivate_loop", "action_session_start",
                   "action_delete_conversation"}


class DialogueError(Exception):
    """A dialogue file the engine cannot run; the message says where and why."""


@dataclass(frozen=True)
class Rule:
    """A rule: when `intent` follows `after` under `active_loop`, run `steps`."""

    name: str
    intent: str | None
    steps: tuple[tuple[str, Any], ...]      # ("action", name) | ("active_loop", name|None)
    active_loop: Any = "any"                 # "any" = no condition; None = no loop active
    after: str | None = None                 # the bot action just before the message
    conversation_start: bool = False

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (self.after is not None, self.active_loop != "any", self.conversation_start)


@dataclass
class Dialogue:
    """Domain, rules and intent examples, ready for the engine."""

    domain: dict[str, Any]
    rules: list[Rule]
    examples: dict[str, list[str]]
    completions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        return self.domain.get("intents", [])

    def has_action(self, name: str) -> bool:
        return name in self.domain.get("actions", []) or name in self.domain.get("responses", {}) \
            or name in self.domain.get("forms", {}) or name in BUILTIN_ACTIONS


def _read(folder: Path, name: str) -> dict:
    path = folder / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DialogueError(f"{path}: cannot read: {exc}")
    if not isinstance(data, dict):
        raise DialogueError(f"{path}: expected a mapping at the top level")
    extra = set(data) - SUPPORTED[name]
    if extra:
        raise DialogueError(f"{path}: key(s) {sorted(extra)} not supported; supported: {sorted(SUPPORTED[name])}")
    return data


def load_dialogue(folder: str | Path, trial: Trial) -> Dialogue:
    """Load and check the dialogue files, adding the trial's question slots."""
    folder = Path(folder)
    domain = _read(folder, "domain.yml")
    rules_data = _read(folder, "rules.yml")
    nlu_data = _read(folder, "nlu.yml")
    domain = copy.deepcopy(domain)
    for key in ("intents", "actions"):
        domain[key] = [i if isinstance(i, str) else next(iter(i)) for i in domain.get(key, [])]
    slots = domain.setdefault("slots", {})
    for q in trial.questions:
        if q.id in slots:
            raise DialogueError(f"{folder / 'domain.yml'}: slot {q.id!r} clashes with a question id of {trial.path}")
        slots[q.id] = {"type": "any", "influence_conversation": False, "mappings": [{"type": "custom"}]}
    forms = domain.setdefault("forms", {})
    if "prescreen_form" in forms:
        forms["prescreen_form"] = {"required_slots": [q.id for q in trial.questions]}
    domain.setdefault("responses", {})

    examples: dict[str, list[str]] = {}
    for i, item in enumerate(nlu_data.get("nlu") or []):
        if not isinstance(item, dict) or "intent" not in item or set(item) - {"intent", "examples"}:
            raise DialogueError(f"{folder / 'nlu.yml'}: nlu item {i}: supported keys are intent and examples")
        if item["intent"] not in domain["intents"]:
            raise DialogueError(f"{folder / 'nlu.yml'}: intent {item['intent']!r} is not in the domain's intents")
        lines = [ln.strip()[1:].strip() for ln in str(item.get("examples", "")).splitlines() if ln.strip().startswith("-")]
        examples.setdefault(item["intent"], []).extend(lines)

    dialogue = Dialogue(domain=domain, rules=[], examples=examples)
    for i, raw in enumerate(rules_data.get("rules") or []):
        dialogue.rules.append(_rule(raw, i, folder / "rules.yml", dialogue))
    for rule in dialogue.rules:
        if rule.intent is None:
            kinds = [s for s in rule.steps]
            if len(kinds) >= 2 and kinds[0][0] == "action" and kinds[1] == ("active_loop", None):
                dialogue.completions[kinds[0][1]] = [n for k, n in kinds[2:] if k == "action"]
    return dialogue


def _rule(raw: Any, index: int, path: Path, dialogue: Dialogue) -> Rule:
    where = f"{path}: rule {index}"
    if not isinstance(raw, dict):
        raise DialogueError(f"{where}: expected a mapping")
    extra = set(raw) - RULE_KEYS
    if extra:
        raise DialogueError(f"{where} ({raw.get('rule')!r}): key(s) {sorted(extra)} not supported; supported: {sorted(RULE_KEYS)}")
    where = f"{path}: rule {raw.get('rule', index)!r}"
    active_loop: Any = "any"
    for cond in raw.get("condition") or []:
        if not isinstance(cond, dict) or set(cond) != {"active_loop"}:
            raise DialogueError(f"{where}: condition {cond!r} not supported; supported: active_loop")
        active_loop = cond["active_loop"]
    after, intent, steps = None, None, []
    for step in raw.get("steps") or []:
        if not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in STEP_KEYS:
            raise DialogueError(f"{where}: step {step!r} not supported; supported: {sorted(STEP_KEYS)}")
        key, value = next(iter(step.items()))
        if key == "intent":
            if intent is not None:
                raise DialogueError(f"{where}: only one intent per rule is supported")
            if value not in dialogue.intents:
                raise DialogueError(f"{where}: intent {value!r} is not in the domain's intents")
            intent = value
        elif key == "action":
            if not dialogue.has_action(value):
                raise DialogueError(f"{where}: action {value!r} is not in the domain (actions, responses or forms)")
            if intent is None and not steps and after is None and active_loop == "any":
                after = value
                continue
            steps.append(("action", value))
        else:
            steps.append(("active_loop", value))
    if after is not None and intent is None:
        steps.insert(0, ("action", after))
        after = None
    return Rule(name=str(raw.get("rule", index)), intent=intent, steps=tuple(steps), active_loop=active_loop,
                after=after, conversation_start=bool(raw.get("conversation_start")))
