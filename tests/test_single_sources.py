"""Logic that exists once: the slot fold (engine and staff record), placeholder filling
(engine and actions), the outcome names (the evaluator's enum), and an engine that does
no I/O (no bot.store, no bot.runner at run time; its built-in events keep their shape).
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import pytest

from actions.evaluator import Outcome
from actions.placeholders import fill_placeholders
from actions.prescreen import response_text
from bot.dialogue import load_dialogue
from bot.engine import Engine, State, initial_slots, replay
from bot.jsoncodec import dumps, loads
from bot.runner import InProcessRunner
from bot.staff.transcript import record

ROOT = Path(__file__).resolve().parent.parent


# -- the slot fold ------------------------------------------------------------------

@pytest.fixture(scope="module")
def dialogue_with_initial_value(trial):
    """The real dialogue, with one slot that does not start as None (as a domain may say)."""
    dialogue = load_dialogue(ROOT / "dialogues", trial)
    dialogue.domain = copy.deepcopy(dialogue.domain)
    dialogue.domain["slots"]["contact_requested"]["initial_value"] = False
    return dialogue


def talk(engine: Engine, texts: list[str]) -> tuple[list[dict], State]:
    events: list[dict] = []
    state = None
    for n, text in enumerate(texts):
        turn = engine.handle("fold-test", text, state, {"today": "2026-11-25"}, now=1_000.0 + n)
        events += turn.events
        state = turn.state
    return events, state


def test_the_staff_records_slots_after_a_restart_are_the_engines(trial, dialogue_with_initial_value):
    dialogue = dialogue_with_initial_value
    engine = Engine(dialogue, InProcessRunner(trial))
    first = trial.questions[0].id
    events, state = talk(engine, ["hi", "/affirm", "54", "start over", "hi"])
    assert any(e["event"] == "restart" for e in events)
    before_restart = events[:next(i for i, e in enumerate(events) if e["event"] == "restart")]
    assert isinstance(State.fold(before_restart, initial_slots(dialogue)).slots[first], dict)  # answered...

    rec = record(trial, events, initial=initial_slots(dialogue))

    assert rec.slots == state.slots == replay(dialogue, events).slots
    assert rec.slots[first] is None                       # ...and forgotten by the restart
    assert rec.slots["contact_requested"] is False        # back to the domain's initial value, not dropped


def test_a_record_without_the_dialogue_folds_from_nothing(trial):
    events = [{"event": "slot", "name": "contact_name", "value": "Ann"}, {"event": "restart"},
              {"event": "slot", "name": "trial_id", "value": "T1"}]
    assert record(trial, events, initial={}).slots == {"trial_id": "T1"}
    assert State.fold(events, {"contact_name": None}).slots == {"contact_name": None, "trial_id": "T1"}


def test_fold_changes_neither_its_events_nor_its_initial_values():
    events = [{"event": "slot", "name": "a", "value": 1}, {"event": "session_started"}]
    initial = {"a": 0}
    kept = copy.deepcopy((events, initial))
    assert State.fold(events, initial).slots == {"a": 0}
    assert (events, initial) == kept


# -- placeholders ---------------------------------------------------------------------

@pytest.mark.parametrize("text, values, filled", [
    ("Hello {name}!", {"name": "Ann"}, "Hello Ann!"),
    ("Question {step} of about {total}", {"step": 2, "total": 9}, "Question 2 of about 9"),
    ("{unknown} stays", {"name": "Ann"}, "{unknown} stays"),
    ("{name} {name}", {"name": "Ann"}, "Ann Ann"),
    ("none: {x}", {"x": None}, "none: None"),
    ("not a placeholder: {a-b} { name } {}", {"name": "Ann", "a": 1}, "not a placeholder: {a-b} { name } {}"),
    ("{{name}}", {"name": "Ann"}, "{Ann}"),
    ("no placeholders", {}, "no placeholders"),
])
def test_fill_placeholders(text, values, filled):
    assert fill_placeholders(text, values) == filled


def test_the_actions_and_the_engine_fill_placeholders_alike(trial):
    dialogue = load_dialogue(ROOT / "dialogues", trial)
    assert response_text(dialogue.domain, "utter_unclear", help="Why.") == fill_placeholders(
        dialogue.domain["responses"]["utter_unclear"][0]["text"], {"help": "Why."})
    assert response_text({"responses": {"r": [{"text": "{a} {b}"}]}}, "r", a=1) == "1 {b}"
    events, _ = talk(Engine(dialogue, InProcessRunner(trial)), ["hi"])
    greeting = next(e["text"] for e in events if e["event"] == "bot" and e["metadata"].get("utter_action") == "utter_greet")
    assert trial.model.title in greeting and "{study_title}" not in greeting


def test_placeholders_are_filled_in_one_place():
    pattern = re.compile(r"""re\.sub\(\s*r?["']\\\{""")
    found = [str(p.relative_to(ROOT)) for folder in ("bot", "actions") for p in (ROOT / folder).rglob("*.py")
             if pattern.search(p.read_text(encoding="utf-8"))]
    assert found == []


# -- outcome names ----------------------------------------------------------------------

def test_the_staff_outcomes_are_the_evaluators():
    from bot.staff.queries import OUTCOME_LABELS, OUTCOMES
    from bot.staff.seed import OUTCOME_MIX

    assert list(OUTCOMES) == [o.value for o in reversed(Outcome)]
    assert all(type(key) is str for key in OUTCOMES)      # the templates and SQL labels print them
    assert set(OUTCOME_LABELS) == set(Outcome) == set(OUTCOME_MIX)


# -- the engine does no I/O ---------------------------------------------------------------

def test_the_engine_imports_neither_the_store_nor_the_runner():
    tree = ast.parse((ROOT / "bot" / "engine.py").read_text(encoding="utf-8"))
    type_checking = [n for n in ast.walk(tree) if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    only_for_types = {id(n) for block in type_checking for n in ast.walk(block)}
    imported = {n.module if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in only_for_types
                for a in n.names}
    assert not imported & {"bot.store", "bot.runner"}


@pytest.mark.parametrize("value", [{"a": [1, "é", None]}, "lone \ud800 surrogate", [1.5, True]])
def test_jsoncodec_round_trips(value):
    assert loads(dumps(value)) == value
    assert loads(dumps(value).encode("utf-8", "surrogatepass")) == value


def test_jsoncodec_writes_what_the_store_writes():
    from bot import store
    for value in ({"event": "slot", "name": "x", "value": "é"}, "lone \ud800 surrogate"):
        assert dumps(value) == store.dumps(value)


def test_the_engines_built_in_events_keep_their_stored_shape(trial):
    dialogue = load_dialogue(ROOT / "dialogues", trial)
    dialogue.domain = copy.deepcopy(dialogue.domain)
    dialogue.domain["actions"].remove("action_session_start")  # the engine's own session start
    events, _ = talk(Engine(dialogue, InProcessRunner(trial)), ["hi", "/affirm", "start over"])
    stored = [dumps(e) for e in events if e["event"] in ("session_started", "restart")]
    assert stored[0] == '{"event":"session_started","timestamp":1000.0}'
    assert '{"event":"restart","timestamp":1002.0}' in stored
    loops = [dumps(e) for e in events if e["event"] == "active_loop"]
    assert loops and all(re.fullmatch(r'\{"event":"active_loop","name":("\w+"|null),"timestamp":100\d\.0\}', s)
                         for s in loops)
