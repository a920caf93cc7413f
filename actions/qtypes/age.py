"""Age questions: one whole number of years, from "54", "fifty-four" or a birth date.

Criteria-file fields: `answer` (an integer answer; its `min` and `max` bound
what is accepted: a reading outside them is asked again).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, ClassVar

from actions.language import context
from actions.language.dates import MONTH_RE, named_date, numeric_date
from actions.language.numbers import words_to_number
from actions.language.words import UNSURE, has, has_any, normalize
from actions.qtypes.base import Known, QuestionType, Report, check_single_answer, reask
from actions.reading import ACCEPTED, REASK, Parsed

if TYPE_CHECKING:
    from actions.trial import AnswerSpec, Question, Trial


FEELS = re.compile(r"\b(?:feel|feels|felt|look|looks|act|acts)\b")


class Age(QuestionType):
    name: ClassVar[str] = "age"
    fields: ClassVar[frozenset[str]] = frozenset({"answer"})

    def check(self, question: Question, answers: dict[str, AnswerSpec], known: Known, report: Report) -> None:
        check_single_answer(question, answers, known, report, "integer")

    def parse(self, trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
        value = parse_age(text, today, trial.model.site.date_order)
        spec = trial.answers.get(question.answer)
        if value != REASK and spec is not None and (spec.min is not None and value < spec.min or
                                                     spec.max is not None and value > spec.max):
            value = REASK      # outside what the data dictionary allows: asked again
        if value == REASK:
            return reask(text, normalize(text))
        return Parsed({question.answer: value}, ACCEPTED)


def parse_age(text: str, today: dt.date, date_order: str = "MDY") -> int | str:
    """Whole years from "54", "I'm 54", "fifty-four" or a birth date; REASK if unclear."""
    if re.search(r"(^|\s)-\s*\d", text) or re.search(r"\bminus\b", text.lower()):
        return REASK
    t = normalize(text)
    parts = context.clauses(text, normalize)
    # "52. my husband is 60": the husband's age is not asked; "28 but I feel 80": a feeling is not an age
    mine = [c.text for c in parts if not c.other_person and not FEELS.search(c.text)]
    if mine and len(mine) < len(parts):
        t = " , ".join(mine)
    if not t or has_any(t, UNSURE) or has_any(t, ("rather not", "prefer not", "none of your")):
        return REASK
    words_age = words_to_number(t) if re.search(r"\b(?:twenty|thirty|fort|fourty|fifty|sixty|seventy|eighty|ninety|"
                                                 r"ninty)\w* ?-?[1-9]\b", t) else None
    if words_age:
        return words_age          # "fourty 4"
    m = re.match(r"^(\d{1,3}) (?:turning|will be|going to be|gonna be) (\d{1,3})\b", t)
    if m and int(m[2]) == int(m[1]) + 1:
        return int(m[1])          # "66 turning 67 in jan"
    born = numeric_date(t, date_order, today) or named_date(t, today)
    full = re.search(r"\b(19|20)\d\d\b", t) and born and born[0].year <= today.year - 1
    if born and (has_any(t, ("born", "birthday", "dob", "birth", "b.")) or re.fullmatch(r"[\d/\-. ]+", t) or full):
        born_date = born[0]
        if born_date >= today:
            return REASK
        age = today.year - born_date.year - ((today.month, today.day) < (born_date.month, born_date.day))
        return age if 0 < age <= 120 else REASK
    # "I will be 70 on december 10": the day of a date is not an age (a birth date was read above)
    t = re.sub(rf"\b(?:(?:on|in) )?(?:the )?(?:(?:{MONTH_RE})\.? \d{{1,2}}(?:st|nd|rd|th)?|"
               rf"\d{{1,2}}(?:st|nd|rd|th)? (?:of )?(?:{MONTH_RE}))\b", " on a day ", t)
    t = re.sub(r"\s+", " ", t).strip()
    if re.search(r"\d+\s*'?s\b|\b(mid|late|early|over|under|about|around|almost|nearly|roughly|approximately)\b|or so\b", t):
        return REASK
    if re.search(r"(^|\s)-\s*\d", t) or has(t, "born"):
        return REASK
    stated = re.search(r"\b(?:i'm|i am|im|age|aged|age is|i turned|turned)\s+(\d{1,3})\b", t)
    if stated and 0 < int(stated[1]) <= 120:
        return int(stated[1])
    numbers = re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)(?:\s*(?:yo|y/o|y\.o|yrs?|years?|y))?\b", t)
    if len(numbers) == 1:
        value = float(numbers[0])
        if value != int(value) or not 0 < value <= 120:
            return REASK
        if re.search(r"\b(will be|i'll be|turning|gonna be|going to be|i turn)\s+\d", t) or has(t, "next birthday") or \
                re.search(r"^\d{1,3} (?:in|on|next|this coming|come) (?:" + MONTH_RE + r"|month|week|year|spring|"
                          r"summer|fall|autumn|winter|a day)\b", t):
            return int(value) - 1     # "72 in january": the age they will be
        return int(value)
    if len(numbers) > 1:
        return REASK
    value = words_to_number(t)
    if value is not None and 0 < value <= 120:
        return value
    return REASK


