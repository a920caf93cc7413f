"""The protocol every question type follows.

A question type owns, for the questions of its kind: which criteria-file fields
they may use and how those are checked, the data-dictionary answers they fill,
their buttons, and how a typed reply (or a tapped button's title) is read.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from actions.language.words import is_question_back
from actions.reading import Parsed

if TYPE_CHECKING:
    from actions.trial import AnswerSpec, Question, Trial

# reports a problem at a path inside the question: add(path, message)
Report = Callable[[tuple, str], None]
# whether an answer id is in the data dictionary (reporting it at `path` if not): known(aid, path)
Known = Callable[[str, tuple], bool]
# the buttons a dialogue response offers, as (id, title) pairs: standard("utter_buttons_yes_no")
Standard = Callable[[str], list[tuple[Any, str]]]

COMMON_FIELDS = frozenset({"id", "type", "text", "help", "ask_if"})


class QuestionType:
    """One kind of question (yes_no, age, choice, multi, last_dose, ...): each type is a subclass,
    registered in actions/qtypes/__init__.py. The defaults fit a question that fills one answer."""

    name: ClassVar[str]
    # the question fields this type uses, beyond id, type, text, help and ask_if
    fields: ClassVar[frozenset[str]]

    def answer_ids(self, question: Question) -> list[str]:
        """The data-dictionary answers a question of this type fills."""
        return [question.answer] if question.answer else []

    def check(self, question: Question, answers: dict[str, AnswerSpec], known: Known, report: Report) -> None:
        """Report what is wrong with a question of this type in a criteria file."""
        raise NotImplementedError

    def buttons(self, question: Question, standard: Standard) -> list[tuple[Any, str]]:
        """The question's quick-reply buttons as (id, title): the id is what the button sends, the
        same in every language (DESIGN: payloads carry stable ids, never words); empty: typed only."""
        return []

    def from_payload(self, question: Question, value: Any) -> Parsed | None:
        """A button value that is not text (a multi question's list of ids), or None."""
        return None

    def parse(self, trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
        """Read a reply (typed, or a tapped button's title) as an answer to the question."""
        raise NotImplementedError


def check_single_answer(question: Question, answers: dict[str, AnswerSpec], known: Known, report: Report,
                        answer_type: str) -> None:
    """A question that fills one dictionary answer of `answer_type` names it in `answer`."""
    if question.answer is None:
        report((), f"a {question.type} question needs 'answer' (the dictionary id it fills)")
    elif known(question.answer, ("answer",)) and answers[question.answer].type != answer_type:
        report(("answer",), f"a {question.type} question fills a {answer_type} answer; "
                            f"{question.answer!r} is {answers[question.answer].type}")


def reask(text: str, t: str) -> Parsed:
    """No reading: asked again (answered first when the reply is a question back)."""
    return Parsed(question_back=is_question_back(t, text))
