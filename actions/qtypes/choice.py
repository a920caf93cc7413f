"""Choice questions: one button among several, each setting dictionary answers.

Criteria-file fields: `choices` (title, synonyms, the answers it `sets`, its
`value`, `unknown` for "Not sure", and a `priority` that decides between two
choices the same reply names).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, ClassVar

from actions.language import context
from actions.language.words import LEAD_NO, LEAD_YES, UNSURE, has_any, is_question_back, longest, normalize, nphrase
from actions.qtypes.base import Known, QuestionType, Report, Standard, reask
from actions.reading import ACCEPTED, CONFIRM, Parsed

if TYPE_CHECKING:
    from actions.trial import AnswerSpec, Question, Trial


class ChoiceType(QuestionType):
    name: ClassVar[str] = "choice"
    fields: ClassVar[frozenset[str]] = frozenset({"choices"})

    def answer_ids(self, question: Question) -> list[str]:
        return list(dict.fromkeys(k for c in question.choices for k in c.sets))

    def check(self, question: Question, answers: dict[str, AnswerSpec], known: Known, report: Report) -> None:
        if len(question.choices) < 2:
            report(("choices",), "a choice question needs at least two choices")
        for j, c in enumerate(question.choices):
            for aid, value in c.sets.items():
                if known(aid, ("choices", j, "sets", aid)):
                    why = answers[aid].problem(value)
                    if why:
                        report(("choices", j, "sets", aid), why)

    def buttons(self, question: Question, standard: Standard) -> list[tuple[Any, str]]:
        return [(c.id, c.title) for c in question.choices]

    def parse(self, trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
        choice = parse_choice(question, text)
        t = normalize(text)
        if choice is None:
            return reask(text, t)
        return Parsed(dict(choice.sets), CONFIRM if _choice_conflict(question, t, choice) else ACCEPTED,
                      choice_value=choice.value)


def parse_choice(question: Question, text: str):
    """The choice a reply means: exact title, explicit yes/no, then synonyms; or None."""
    t = normalize(text)
    choices = list(question.choices)
    for choice in choices:
        if t == nphrase(choice.title):
            return choice
    if is_question_back(t, text):
        return None
    no_choice = next((c for c in choices if "no" in [nphrase(s) for s in c.synonyms]), None)
    parts = context.clauses(text, normalize)
    if no_choice is not None and parts:
        if any(c.not_me for c in parts):
            return no_choice                  # "my sister has scleroderma, not me"
        mine = [c for c in parts if not c.other_person]
        yes_words = [nphrase(s) for c in choices if c is not no_choice and not c.unknown
                     for s in [c.title] + list(c.synonyms) if nphrase(s) not in ("yes",)]
        negated = [c for c in mine if c.negated and has_any(c.text, yes_words)]
        affirmed = [c for c in mine if not c.negated and has_any(c.text, yes_words)]
        if negated and not affirmed and not any(c.text.split()[0] in LEAD_YES for c in mine if c.text):
            return no_choice                  # "nobody ever said scleroderma"
        t = " , ".join(c.text for c in mine) or t
    first = re.split(r"[ ,.;!]", t, maxsplit=1)[0]
    if first not in LEAD_NO and set(re.findall(r"[a-z]+", t)) & {"yes", "yeah", "yep", "yup"}:
        first = "yes"
    if first not in LEAD_YES and first not in LEAD_NO and has_any(t, UNSURE):
        return next((c for c in question.choices if c.unknown), None)
    if first in LEAD_NO and no_choice is not None:
        return no_choice
    if first in LEAD_YES and no_choice is not None and \
            longest(t, [nphrase(s) for s in no_choice.synonyms if nphrase(s) not in ("no",)]):
        return no_choice      # "yes, localized scleroderma": the specific term decides (checked back)
    if first in LEAD_YES:
        choices = [c for c in choices if c is not no_choice and not c.unknown]
    scored = []
    for i, choice in enumerate(choices):
        length = longest(t, [nphrase(choice.title)] + [nphrase(s) for s in choice.synonyms])
        if length:
            scored.append((choice.priority, length, -i, choice))
    if scored:
        return max(scored, key=lambda s: s[:3])[3]
    if has_any(t, UNSURE):
        return next((c for c in question.choices if c.unknown), None)
    return None


def _choice_conflict(question: Question, t: str, chosen) -> bool:
    """Whether the reply also names another choice's words that contradict the one chosen ("yes
    the localized kind": a yes, and the words of "No"): checked back, not guessed."""
    first = re.split(r"[ ,.;!]", t, maxsplit=1)[0]
    for choice in question.choices:
        if choice is chosen or choice.unknown:
            continue
        words = [nphrase(s) for s in choice.synonyms if nphrase(s) not in ("yes", "no")]
        opposite = "no" in [nphrase(s) for s in choice.synonyms] and first in LEAD_YES or \
            "yes" in [nphrase(s) for s in choice.synonyms] and first in LEAD_NO
        if opposite and longest(t, words):
            return True
    return False


