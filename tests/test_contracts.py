"""The typed contracts (actions/contracts.py) and the published JSON Schema agree:
same keys, same required keys, same enumerations."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from actions.contracts import CriterionResult, PrescreenResult, QuestionMetadata
from actions.evaluator import Outcome, Verdict

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "prescreen_result.schema.json")
                    .read_text(encoding="utf-8"))


def generated(kind) -> dict:
    return TypeAdapter(kind).json_schema()


def test_result_type_names_the_published_keys():
    ours = generated(PrescreenResult)
    assert set(ours["properties"]) == set(SCHEMA["properties"])
    assert set(ours["required"]) == set(SCHEMA["required"])


def test_criterion_type_names_the_published_keys():
    ours = generated(CriterionResult)
    published = SCHEMA["properties"]["criteria"]["items"]
    assert set(ours["properties"]) == set(published["properties"])
    assert set(ours["required"]) == set(published["required"])
    assert set(ours["properties"]["verdict"]["enum"]) == set(published["properties"]["verdict"]["enum"]) \
        == {v.value for v in Verdict}


def test_outcomes_are_the_evaluators_enum():
    assert set(generated(PrescreenResult)["properties"]["outcome"]["enum"]) == {o.value for o in Outcome} \
        == set(SCHEMA["properties"]["outcome"]["enum"])


def test_question_metadata_keys():
    assert set(generated(QuestionMetadata)["required"]) == {"id", "answer_ids", "type", "step", "total"}
