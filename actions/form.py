"""The prescreen form's logic, free of rasa-sdk: which questions, in what order.

A question's slot holds what the patient said, once answered:
`{"answers": {answer_id: value}, "text": words, "status": "accepted" |
"unknown", "estimate": bool}` (never None once asked, so "don't know" is not
"not asked"). The dictionary answers are the merge of the answered slots of
the questions that apply, in question order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from actions.evaluator import evaluate, rules_out
from actions.trial import Question, Trial


@dataclass(frozen=True)
class Step:
    """One question on the way through the form."""

    question: Question
    applies: bool | None      # its ask_if on the answers before it
    answer: dict | None       # its slot value when answered


def walk(trial: Trial, slots: Mapping[str, Any]) -> Iterator[Step]:
    """Each question in order, with whether it applies (on earlier answers only)."""
    answers: dict[str, Any] = {}
    for q in trial.questions:
        cond = trial.ask_if.get(q.id)
        applies = True if cond is None else cond.evaluate(answers)
        value = slots.get(q.id)
        answer = value if isinstance(value, dict) else None
        yield Step(q, applies, answer)
        if applies is True and answer is not None:
            answers.update(answer.get("answers", {}))


def merged_answers(trial: Trial, slots: Mapping[str, Any]) -> dict[str, Any]:
    """The dictionary answers given so far (questions that apply, in order)."""
    answers: dict[str, Any] = {}
    for step in walk(trial, slots):
        if step.applies is True and step.answer is not None:
            answers.update(step.answer.get("answers", {}))
    return answers


def estimates(trial: Trial, slots: Mapping[str, Any]) -> list[str]:
    """Answer ids the patient gave only as an estimate."""
    return [a for s in walk(trial, slots) if s.applies is True and s.answer and s.answer.get("estimate")
            for a in s.answer.get("answers", {})]


def next_question(trial: Trial, slots: Mapping[str, Any]) -> str | None:
    """The first question that applies and is not answered yet, in one pass over the questions;
    None when there is none, and also (unless the trial asks every question) as soon as the
    answers rule the person out: the outcome can no longer become eligible."""
    answers: dict[str, Any] = {}
    first_open = None
    for q in trial.questions:
        cond = trial.ask_if.get(q.id)
        if cond is not None and cond.evaluate(answers) is not True:
            continue
        value = slots.get(q.id)
        if isinstance(value, dict):
            answers.update(value.get("answers", {}))
        elif first_open is None:
            first_open = q.id
    if first_open is not None and not trial.model.ask_every_question and rules_out(trial, answers):
        return None
    return first_open


def progress(trial: Trial, slots: Mapping[str, Any], question_id: str) -> tuple[int, int]:
    """(step, total) for "Question N of M" (DESIGN §5): the questions the patient answers, in order;
    N is this question's place among them (it goes back when the patient goes back, and no number
    is skipped going forward), M counts those answered or still able to apply, so it only shrinks.
    A question answered in passing (given with another) is never asked, so never counted."""
    counted = [s.question.id for s in walk(trial, slots) if s.applies is not False and (
        s.question.id == question_id or s.answer is None or not s.answer.get("given_with"))]
    step = counted.index(question_id) + 1 if question_id in counted else len(counted)
    return step, max(len(counted), step)


def result_for(trial: Trial, slots: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    """The prescreen result of the answers in these slots."""
    return evaluate(trial, merged_answers(trial, slots), today, estimates(trial, slots))
