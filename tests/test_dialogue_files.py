"""The dialogue files load, and anything the engine does not support fails at start."""

import shutil
from pathlib import Path

import pytest

from actions.trial import load_trial
from bot.dialogue import DialogueError, load_dialogue

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def dialogues(tmp_path):
    folder = tmp_path / "dialogues"
    shutil.copytree(ROOT / "dialogues", folder)
    return folder


@pytest.fixture(scope="module")
def real_trial():
    return load_trial(ROOT / "criteria.yaml")


def test_the_real_dialogue_loads_with_one_form_slot_per_question(real_trial):
    dialogue = load_dialogue(ROOT / "dialogues", real_trial)
    required = dialogue.domain["forms"]["prescreen_form"]["required_slots"]
    assert required == [q.id for q in real_trial.questions]
    assert dialogue.completions["prescreen_form"] == ["action_review_answers"]   # the review before the result
    assert "emergency" in dialogue.examples


@pytest.mark.parametrize("file, edit, expected", [
    ("domain.yml", lambda s: s + "\nentities_extra: []\n", "domain.yml: key(s) ['entities_extra'] not supported"),
    ("rules.yml", lambda s: s.replace("    conversation_start: true", "    conversation_start: true\n    priority: 1", 1),
     "key(s) ['priority'] not supported"),
    ("rules.yml", lambda s: s.replace("      - active_loop: null", "      - slot_was_set: [x: 1]", 1),
     "not supported; supported: active_loop"),
    ("rules.yml", lambda s: s.replace("      - action: utter_greet", "      - action: utter_does_not_exist", 1),
     "action 'utter_does_not_exist' is not in the domain"),
    ("rules.yml", lambda s: s.replace("      - intent: greet", "      - intent: no_such_intent", 1),
     "intent 'no_such_intent' is not in the domain's intents"),
    ("rules.yml", lambda s: s.replace("      - intent: greet", "      - checkpoint: x", 1), "step {'checkpoint': 'x'} not supported"),
    ("nlu.yml", lambda s: s + "  - intent: made_up\n    examples: |\n      - hi\n", "intent 'made_up' is not in the domain's intents"),
    ("nlu.yml", lambda s: s + "  - regex: phone\n    examples: |\n      - 555\n", "supported keys are intent and examples"),
    ("domain.yml", lambda s: s.replace("version: \"3.1\"", "version: \"3.1\"\nstories: []", 1), "not supported"),
])
def test_unsupported_dialogue_content_fails_naming_file_and_key(dialogues, real_trial, file, edit, expected):
    path = dialogues / file
    path.write_text(edit(path.read_text()))
    with pytest.raises(DialogueError) as err:
        load_dialogue(dialogues, real_trial)
    assert file in str(err.value)
    assert expected in str(err.value)


def test_a_question_id_that_clashes_with_a_domain_slot_is_refused(dialogues, real_trial, tmp_path):
    text = (ROOT / "criteria.yaml").read_text().replace("  - id: labs\n", "  - id: requested_slot\n", 1)
    bad = tmp_path / "criteria.yaml"
    bad.write_text(text)
    with pytest.raises(DialogueError, match="clashes with a question id"):
        load_dialogue(dialogues, load_trial(bad))
