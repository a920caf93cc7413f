"""Yes/no questions: one boolean answer, read clause by clause.

Criteria-file fields: `answer`; `names` (the condition's names, so an echo of
the question or a named negation is read: "HIV?? nah none"); `means_yes`,
`means_no`, `means_unknown` (phrases with a fixed meaning; `means_unknown` is
what staff must check); `medicines` (naming one is a yes); `extra_choices`
(buttons besides Yes / No / Not sure); `polarity` ("negative": the question
asks about something that did NOT happen, so "it hasn't helped" means yes,
checked back); `window_days` (an event the reply places before the window is
a no).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, ClassVar

from actions.language.medicines import find_medicines
from actions.language.words import QUESTION_RE, normalize, nphrase
from actions.language.yesno import read_yes_no_reading
from actions.qtypes.base import Known, QuestionType, Report, Standard, check_single_answer, reask
from actions.reading import ACCEPTED, CONFIRM, REASK, Parsed

if TYPE_CHECKING:
    from actions.trial import AnswerSpec, Question, Trial


class YesNo(QuestionType):
    name: ClassVar[str] = "yes_no"
    fields: ClassVar[frozenset[str]] = frozenset({"answer", "names", "means_yes", "means_no", "means_unknown",
                                                  "medicines", "extra_choices", "polarity", "window_days"})

    def check(self, question: Question, answers: dict[str, AnswerSpec], known: Known, report: Report) -> None:
        check_single_answer(question, answers, known, report, "boolean")
        for j, c in enumerate(question.extra_choices):
            if not isinstance(c.value, bool) and c.value is not None:
                report(("extra_choices", j, "value"), "a yes_no choice value must be true, false or null")

    def buttons(self, question: Question, standard: Standard) -> list[tuple[Any, str]]:
        buttons = standard("utter_buttons_yes_no")
        buttons[2:2] = [(c.id, c.title) for c in question.extra_choices]
        return buttons

    def parse(self, trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
        t = normalize(text)
        if QUESTION_RE.match(t) and text.strip().endswith("?"):
            return Parsed(question_back=True)
        value, weak = read_yes_no_reading(text, question, today, names_elsewhere(trial, question))
        if value == REASK and question.medicines:
            named = {m[2] for m in find_medicines(trial, t)}
            if named:  # naming one of this question's medicines is a yes; one asked about elsewhere is not
                value = question.answer in named
        if value == REASK:
            return reask(text, t)
        if value is True and question.medicines and STOPPED.search(t):
            weak = True     # "tocilizumab ended in 2022" to "taking, or recently had": how recent? checked back
        return Parsed({question.answer: value}, CONFIRM if weak else ACCEPTED)


STOPPED = re.compile(r"\b(?:stopped|ended|quit|finished|no longer|not anymore|used to|came off|went off)\b")


def names_elsewhere(trial: Trial, question: Question) -> tuple[str, ...]:
    """The condition names other yes/no questions of the trial ask about (not this one's)."""
    own = {nphrase(n) for n in question.names}
    return tuple(sorted({nphrase(n) for q in trial.questions if q is not question and q.type == YesNo.name
                         for n in q.names} - own))
