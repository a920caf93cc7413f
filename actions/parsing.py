"""Reading patients' answers: free text or a button title -> dictionary values.

Pure functions. `parse_answer(trial, question, text, today)` returns a
`Parsed` (actions/reading.py): the dictionary answers the text gives, and
whether to accept them, check them back with the patient ("confirm"), or ask
again ("reask"). Nothing is guessed: a reply that does not answer the question
is asked again. Each question type reads its own replies (actions/qtypes/);
this module adds what holds for every type.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from actions.evaluator import rules_out
from actions.language.words import QUESTION_RE, normalize
from actions.qtypes import QUESTION_TYPES
from actions.reading import ACCEPTED, CONFIRM, REASK, Parsed
from actions.trial import Question, Trial, question_answer_ids

__all__ = ["ACCEPTED", "CONFIRM", "REASK", "Parsed", "parse_answer", "parse_for_answer", "question_for_answer"]


def parse_answer(trial: Trial, question: Question, text: str, today: dt.date, tapped: bool = False) -> Parsed:
    """Read `text` as an answer to `question` (free text, or the title of a button `tapped`).

    Nothing rules a patient out silently: a typed reading that by itself makes a criterion fail
    (a yes to HIV, a no to the diagnosis, an age under 18) is checked back before it counts.
    """
    text = HUGE_NUMBER.sub(" ", text)   # no age, date or count has 9 digits or more (a 309-digit "age")
    if not tapped and ASKS_WHAT_COUNTS.search(normalize(text)):
        return Parsed(question_back=True)     # "not sure what counts as serious": answered with the help
    parsed = QUESTION_TYPES[question.type].parse(trial, question, text, today)
    if parsed.status == ACCEPTED and not tapped and (rules_out(trial, parsed.answers) or _asks_back(text)):
        parsed.status = CONFIRM               # "is that chemo? I had chemo in 2012": checked back
    return parsed


HUGE_NUMBER = re.compile(r"\d{9,}")
ASKS_WHAT_COUNTS = re.compile(r"\b(?:not sure|unsure|don't know|dont know|no idea) (?:what|if|whether|how|which) "
                              r"(?:\w+ )?(?:counts|means|is meant|you mean|qualifies|you're asking|youre asking)\b")


def _asks_back(text: str) -> bool:
    """Whether the reply also asks us a question ("is that chemo?", "I'm on IVIG, does that count?"),
    beside its answer: a sentence or clause before a question mark that starts like a question."""
    return any(QUESTION_RE.match(normalize(re.split(r"[,.;:!]", part)[-1]))
               for part in text.split("?")[:-1])


def confident_answer(trial: Trial, question_id: str, text: str, today: dt.date) -> bool:
    """Whether a typed reply reads, with no doubt, as an answer to this question (accepted, and not
    only "don't know"): then it is taken as the answer even if it is also shaped like a request
    ("I had the hep B shots for work (nurse)" is a no, not a wish to talk to a nurse)."""
    question = trial.questions_by_id.get(question_id)
    if question is None:
        return False
    parsed = parse_answer(trial, question, text, today)
    return parsed.status == ACCEPTED and any(v is not None for v in parsed.answers.values())


def question_for_answer(trial: Trial, answer_id: str) -> Question | None:
    """The question that fills a dictionary answer id (or has that question id)."""
    for q in trial.questions:
        if q.id == answer_id:
            return q
    for q in trial.questions:
        if answer_id in question_answer_ids(q):
            return q
    return None


def parse_for_answer(trial: Trial, answer_id: str, text: str, today: dt.date) -> dict[str, Any]:
    """`prescreen parse`: how a reply is read for one answer id (or question id).

    `{"answer_id", "value", "status", "estimate"}`; `value` null with
    "accepted" means the patient said they do not know.
    """
    question = question_for_answer(trial, answer_id)
    if question is None:
        raise KeyError(answer_id)
    parsed = parse_answer(trial, question, text, today)
    if parsed.status == REASK:
        return {"answer_id": answer_id, "value": None, "status": REASK, "estimate": False}
    if answer_id == question.id and answer_id not in parsed.answers:
        value = parsed.choice_value
    else:
        value = parsed.answers.get(answer_id)
    return {"answer_id": answer_id, "value": value, "status": parsed.status, "estimate": parsed.estimate}

