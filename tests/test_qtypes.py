"""One home per question type (issue 12, item 2): actions/qtypes/ registers each type by name; a
criteria file names a registered type, uses only the fields that type owns, and a new type is one
new module plus its test file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

import pytest

from actions import qtypes
from actions.parsing import parse_answer
from actions.qtypes import COMMON_FIELDS, QUESTION_TYPES
from actions.qtypes.base import QuestionType, check_single_answer, reask
from actions.reading import ACCEPTED, Parsed
from actions.trial import TrialError, load_trial, parse_trial
from actions.prescreen import question_buttons

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 25)


def test_every_type_of_both_trials_is_registered_and_follows_the_protocol(trial, fictional_trial):
    assert set(QUESTION_TYPES) == {"yes_no", "age", "choice", "multi", "last_dose"}
    for name, qtype in QUESTION_TYPES.items():
        assert qtype.name == name
        assert not qtype.fields & COMMON_FIELDS
        assert isinstance(qtype, QuestionType)
        assert type(qtype).check is not QuestionType.check and type(qtype).parse is not QuestionType.parse
    for t in (trial, fictional_trial):
        for q in t.questions:
            assert q.type in QUESTION_TYPES
            assert set(q.model_fields_set) - COMMON_FIELDS <= QUESTION_TYPES[q.type].fields, q.id


def _criteria_with(question_yaml: str) -> str:
    """The real criteria file with its age question replaced by `question_yaml`."""
    text = (ROOT / "criteria.yaml").read_text(encoding="utf-8")
    start = text.index("  - id: age\n")
    end = text.index("  - id: diagnosis\n")
    return text[:start] + question_yaml + text[end:]


def test_an_unknown_type_is_named_with_its_line():
    with pytest.raises(TrialError) as err:
        parse_trial(_criteria_with("  - id: age\n    type: slider\n    text: How old?\n    help: Your age.\n"
                                   "    answer: age\n"), "c.yaml")
    message = str(err.value)
    assert "unknown question type 'slider'" in message and "yes_no" in message
    assert message.startswith("c.yaml:")


def test_a_field_another_type_owns_is_an_error():
    with pytest.raises(TrialError) as err:
        parse_trial(_criteria_with("  - id: age\n    type: age\n    text: {en: \"How old are you?\", es: \"¿Qué edad tiene?\"}\n"
                                   "    help: {en: Your age., es: Su edad.}\n"
                                   "    answer: age\n    polarity: negative\n"), "c.yaml")
    assert "'polarity' does not apply to an age question (it may use: answer)" in str(err.value)


class Scale(QuestionType):
    """A made-up type, registered only in this test: a number from 0 to 10 ("pain score")."""

    name: ClassVar[str] = "scale"
    fields: ClassVar[frozenset[str]] = frozenset({"answer"})

    def check(self, question, answers, known, report) -> None:
        check_single_answer(question, answers, known, report, "integer")

    def buttons(self, question, standard) -> list[tuple[str, str]]:
        return [(str(n), str(n)) for n in range(0, 11)]

    def parse(self, trial, question, text, today) -> Parsed:
        word = text.strip()
        if word.isdigit() and int(word) <= 10:
            return Parsed({question.answer: int(word)}, ACCEPTED)
        return reask(text, word)


def test_a_new_type_is_one_registered_module(monkeypatch, tmp_path):
    monkeypatch.setitem(qtypes.QUESTION_TYPES, "scale", Scale())
    path = tmp_path / "c.yaml"
    path.write_text(_criteria_with("  - id: age\n    type: scale\n    text: {en: \"How old are you, from 0 to 10?\", es: \"¿Qué edad tiene, de 0 a 10?\"}\n"
                                   "    help: {en: A number., es: Un número.}\n    answer: age\n"), encoding="utf-8")
    trial = load_trial(path)
    question = trial.questions_by_id["age"]
    assert parse_answer(trial, question, "7", TODAY).answers == {"age": 7}
    assert parse_answer(trial, question, "eleventy", TODAY).status == "reask"
    titles = [b["title"] for b in question_buttons(question, {"responses": {}})]
    assert titles[0] == "0" and titles[-1] == "10"
