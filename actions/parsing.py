"""Reading patients' answers: free text or a button payload -> a dictionary value.

Pure functions. `parse_answer(trial, question, text, today)` returns a
`Parsed`: the dictionary answers the text gives, and whether to accept them,
check them back with the patient ("confirm"), or ask again ("reask").
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from actions.trial import Question, Trial, question_answer_ids

ACCEPTED, CONFIRM, REASK = "accepted", "confirm", "reask"


@dataclass
class Parsed:
    """What an answer means: dictionary values, a status and an estimate flag."""

    answers: dict[str, Any] = field(default_factory=dict)
    status: str = REASK
    estimate: bool = False

    @property
    def unknown(self) -> bool:
        return self.status == ACCEPTED and all(v is None for v in self.answers.values())


def normalize(text: str) -> str:
    """Lower-case, straight quotes, single spaces, no punctuation at the ends."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[^\w'/\-\.,: ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip(" .,!?:;-")


def _has(text: str, phrase: str) -> bool:
    return re.search(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", text) is not None


def _has_any(text: str, phrases) -> bool:
    return any(_has(text, p) for p in phrases)


UNSURE = ("not sure", "unsure", "maybe", "idk", "i don't know", "i dont know", "dont know", "don't know",
          "do not know", "don't remember", "dont remember", "can't remember", "cant remember", "cannot remember",
          "not certain", "no idea", "perhaps", "possibly", "never been tested", "never tested", "unknown",
          "no clue", "i forget", "i forgot", "not really sure", "dunno", "who knows", "might be", "might have",
          "could be", "probably")
NO_HEDGES = ("not that i know of", "not that i'm aware", "not that i am aware", "i don't think so",
             "i dont think so", "don't think so", "dont think so", "i do not think so")
YES_WORDS = ("yes", "yeah", "yea", "yep", "yup", "y", "sure", "correct", "affirmative", "definitely", "of course",
             "true", "right", "i do", "i have", "i am", "i did", "absolutely", "ya", "yes i do", "yess", "ok", "okay")
NO_WORDS = ("no", "nope", "nah", "n", "never", "not", "none", "negative", "false", "i don't", "i dont", "i do not",
            "i haven't", "i havent", "i have not", "i'm not", "im not", "i am not", "i didn't", "i did not",
            "no i don't", "nop", "noo", "not at all", "neither")


def parse_yes_no(text: str) -> bool | None | str:
    """True, False, None (don't know) or REASK, from a plain yes/no reply."""
    t = normalize(text)
    if not t:
        return REASK
    if _has_any(t, NO_HEDGES):
        return False
    first = re.split(r"[ ,.;!]", t, maxsplit=1)[0]
    if first in ("yes", "yeah", "yep", "yup", "yea", "ya", "y", "yess", "sure", "correct"):
        return True
    if first in ("no", "nope", "nah", "n", "nop", "noo", "never", "negative"):
        return False
    if _has_any(t, UNSURE):
        return None
    if _has_any(t, ("never had", "never have", "never been", "never did", "don't have", "dont have",
                    "do not have", "haven't", "havent", "have not", "didn't", "didnt", "not me")):
        return False
    if t in YES_WORDS or _has_any(t, ("i have", "i do", "i am", "i did", "i've had", "ive had", "i had")):
        return True
    if t in NO_WORDS:
        return False
    return REASK


def _choice_score(t: str, phrases) -> int:
    """Length of the longest phrase found in t (0 if none)."""
    return max((len(p) for p in phrases if _has(t, normalize(p))), default=0)


def parse_choice_title(question: Question, text: str):
    """The choice whose title or synonym best matches the text, or None."""
    t = normalize(text)
    best, score = None, 0
    for choice in list(question.choices) + list(question.extra_choices):
        phrases = [choice.title] + list(choice.synonyms)
        if t == normalize(choice.title):
            return choice
        s = _choice_score(t, phrases)
        if s > score:
            best, score = choice, s
    return best


# --- ages ------------------------------------------------------------------
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen".split())}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}


def _words_to_number(t: str) -> int | None:
    m = re.search(r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-](one|two|three|four|five|six|seven|eight|nine))?\b", t)
    if m:
        return TENS[m.group(1)] + (NUMBER_WORDS[m.group(2)] if m.group(2) else 0)
    m = re.search(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", t)
    if m:
        return NUMBER_WORDS[m.group(1)]
    if re.search(r"\bone hundred\b|\ba hundred\b", t):
        return 100
    return None


def parse_age(text: str, today: dt.date, date_order: str = "MDY") -> int | None | str:
    """Whole years from "54", "I'm 54", "fifty-four" or a birth date; REASK if unclear."""
    t = normalize(text)
    if _has_any(t, UNSURE) or t in ("i'd rather not say", "prefer not to say"):
        return REASK
    born = _parse_numeric_date(t, date_order) or _parse_named_date(t, today)
    if born and (_has_any(t, ("born", "birthday", "dob", "birth")) or re.fullmatch(r"[\d/\-. ]+", t)):
        born_date = born[0]
        if born_date >= today:
            return REASK
        age = today.year - born_date.year - ((today.month, today.day) < (born_date.month, born_date.day))
        return age if 0 < age <= 120 else REASK
    if re.search(r"\d+\s*'?s\b|\bmid\b|\blate\b|\bearly\b|\bover\b|\bunder\b|\babout\b|\baround\b|\bor so\b", t):
        return REASK
    if re.search(r"-\s*\d", t):
        return REASK
    numbers = re.findall(r"\b\d+(?:\.\d+)?\b", t)
    if len(numbers) == 1:
        value = float(numbers[0])
        if value != int(value) or not 0 < value <= 120:
            return REASK
        return int(value)
    if len(numbers) > 1:
        return REASK
    value = _words_to_number(t)
    if value is not None and 0 < value <= 120:
        return value
    return REASK


# --- dates -----------------------------------------------------------------
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "wk": 7, "wks": 7}


def _last_day(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _parse_numeric_date(t: str, date_order: str) -> tuple[dt.date, bool] | None:
    m = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", t)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3])), False
        except ValueError:
            return None
    m = re.search(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})\b", t)
    if m:
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        if y < 100:
            y += 2000 if y < 50 else 1900
        month, day = (a, b) if date_order == "MDY" else (b, a)
        try:
            return dt.date(y, month, day), False
        except ValueError:
            return None
    return None


def _parse_named_date(t: str, today: dt.date) -> tuple[dt.date, bool] | None:
    # 14 sept 2026 / september 14, 2026 / sept 14
    m = (re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?({MONTH_RE})\.?,?(?: (\d{{4}}))?\b", t)
         or re.search(rf"\b({MONTH_RE})\.? (\d{{1,2}})(?:st|nd|rd|th)?,?(?: (\d{{4}}))?\b", t))
    if m:
        if m.group(1).isdigit():
            day, month, year = int(m[1]), MONTHS[m[2]], m[3]
        else:
            month, day, year = MONTHS[m[1]], int(m[2]), m[3]
        try:
            if year:
                return dt.date(int(year), month, day), False
            d = dt.date(today.year, month, day)
            return (d if d <= today else dt.date(today.year - 1, month, day)), False
        except ValueError:
            return None
    # august 2026 / in august / last march
    m = re.search(rf"\b({MONTH_RE})\.?,? (\d{{4}})\b", t)
    if m:
        month, year = MONTHS[m[1]], int(m[2])
        return min(_last_day(year, month), today), True
    m = re.search(rf"\b(?:in |last |this past |past )?({MONTH_RE})\b", t)
    if m and (m.group(0) != m.group(1) or t.strip() == m.group(1)):
        month = MONTHS[m[1]]
        year = today.year if month <= today.month else today.year - 1
        if m.group(0).startswith("last") and month == today.month:
            year -= 1
        return min(_last_day(year, month), today), True
    return None


def parse_date(text: str, today: dt.date, date_order: str = "MDY") -> tuple[dt.date, bool] | None:
    """A past date and whether it is an estimate, or None when no date is found."""
    t = normalize(text)
    if _has(t, "today"):
        return today, False
    if _has(t, "yesterday"):
        return today - dt.timedelta(days=1), False
    m = re.search(r"\b(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a few|a couple of|couple of|a couple)\s+(days?|weeks?|wks?|months?|years?|yrs?)\s+ago\b", t)
    if m:
        n = {"a": 1, "an": 1, "a few": 3, "a couple of": 2, "couple of": 2, "a couple": 2}.get(m[1])
        if n is None:
            n = int(m[1]) if m[1].isdigit() else NUMBER_WORDS[m[1]]
        unit = m[2].rstrip("s")
        vague = bool(re.search(r"\b(about|around|roughly|maybe|approximately|approx|like|or so|some)\b", t)) or m[1] in ("a few", "a couple of", "couple of", "a couple")
        if unit in ("day", "week", "wk"):
            return today - dt.timedelta(days=n * UNITS[unit + "s"] if unit != "wk" else n * 7), vague
        months = n if unit == "month" else n * 12
        y, mo = divmod(today.year * 12 + today.month - 1 - months, 12)
        day = min(today.day, calendar.monthrange(y, mo + 1)[1])
        return dt.date(y, mo + 1, day), True if unit in ("year", "yr") else vague
    if _has(t, "last week"):
        return today - dt.timedelta(days=7), True
    if _has(t, "last month"):
        y, mo = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        return _last_day(y, mo), True
    return _parse_numeric_date(t, date_order) or _parse_named_date(t, today)


CURRENT = ("still taking", "still on", "still getting", "still get", "currently", "i take it", "i'm on it",
           "im on it", "i am on it", "on it now", "every week", "every month", "every 2", "every two",
           "every few", "every other", "right now", "ongoing", "still do", "i get it every", "take it every")
NEVER = ("never", "not ever", "no never", "haven't had", "havent had", "have not had", "never had", "never taken",
         "never been on", "none", "not had")


def parse_last_dose(question: Question, text: str, today: dt.date, date_order: str = "MDY") -> Parsed:
    """A last-dose answer: a date, never, current, not_recent, don't know, or REASK."""
    aid = question.answer
    choice = parse_choice_title(question, text) if question.choices else None
    t = normalize(text)
    if choice is not None and normalize(choice.title) == t:
        return Parsed({aid: choice.value}, ACCEPTED)
    if _has_any(t, CURRENT):
        return Parsed({aid: "current"}, ACCEPTED)
    found = parse_date(text, today, date_order)
    if found:
        day, estimate = found
        if day > today:
            return Parsed({}, REASK)
        return Parsed({aid: day.isoformat()}, ACCEPTED, estimate)
    if choice is not None:
        return Parsed({aid: choice.value}, ACCEPTED)
    if _has_any(t, NEVER) or parse_yes_no(text) is False:
        return Parsed({aid: "never"}, ACCEPTED)
    if _has_any(t, UNSURE):
        return Parsed({aid: None}, ACCEPTED)
    return Parsed({}, REASK)


def parse_multi(question: Question, text: str) -> Parsed:
    """A grouped question: each option named is yes; "none" is no to all."""
    t = normalize(text)
    ids = [o.answer for o in question.options]
    for option in question.options:
        if t == normalize(option.title):
            return Parsed({a: (True if a == option.answer else None) for a in ids}, ACCEPTED)
    if question.none and t == normalize(question.none.title):
        return Parsed({a: False for a in ids}, ACCEPTED)
    if question.uncontrolled and re.search(r"\b(well[ -])?(under control|controlled)\b", t) and not re.search(r"\b(not|un|isn't|isnt|poorly)[ -]?(well )?(under )?control", t):
        return Parsed({a: False for a in ids}, ACCEPTED)
    named = [o.answer for o in question.options if _choice_score(t, [o.title] + list(o.synonyms))]
    yn = parse_yes_no(text)
    if named and yn is not False:
        return Parsed({a: (True if a in named else None) for a in ids}, ACCEPTED)
    if question.none and _choice_score(t, [question.none.title] + list(question.none.synonyms)) or yn is False:
        return Parsed({a: False for a in ids}, ACCEPTED)
    if yn is None:
        return Parsed({a: None for a in ids}, ACCEPTED)
    return Parsed({}, REASK)


def parse_answer(trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
    """Read `text` as an answer to `question` (free text or a button title)."""
    order = trial.model.site.date_order
    if question.type == "age":
        value = parse_age(text, today, order)
        if value == REASK:
            return Parsed({}, REASK)
        return Parsed({question.answer: value}, ACCEPTED)
    if question.type == "last_dose":
        return parse_last_dose(question, text, today, order)
    if question.type == "multi":
        return parse_multi(question, text)
    choice = parse_choice_title(question, text)
    if question.type == "choice":
        if choice is None:
            yn = parse_yes_no(text)
            if yn is None:
                choice = next((c for c in question.choices if c.unknown), None)
        if choice is None:
            return Parsed({}, REASK)
        return Parsed(dict(choice.sets), ACCEPTED)
    # yes_no
    if choice is not None and normalize(text) == normalize(choice.title):
        return Parsed({question.answer: choice.value}, ACCEPTED)
    value = parse_yes_no(text)
    if value == REASK and question.names and _has_any(normalize(text), question.names):
        value = True
    if value == REASK and choice is not None:
        value = choice.value
    if value == REASK:
        return Parsed({}, REASK)
    return Parsed({question.answer: value}, ACCEPTED)


def question_for_answer(trial: Trial, answer_id: str) -> Question | None:
    """The first question that fills a dictionary answer id (or has that question id)."""
    for q in trial.questions:
        if q.id == answer_id or answer_id in question_answer_ids(q):
            return q
    return None
