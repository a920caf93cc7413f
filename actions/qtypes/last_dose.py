"""Last-dose questions: when a medicine was last given (a date, never, current, not recent).

Criteria-file fields: `answer` (a last_dose answer), `medicines` (its names and
brands; another question's medicine named in passing fills that question too),
`choices` (buttons whose `value` is never, current, not_recent or null). The
washout of the criterion that reads the answer decides what "more than N weeks
ago" means.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, ClassVar

from actions.language import context
from actions.language.dates import (COUNT_RE, UNIT_RE, count_of, date_ago, fuzzy_date, parse_date, season_end,
                                    unit_of)
from actions.language.medicines import find_medicines
from actions.language.words import LEAD_NO, UNSURE, has_any, is_question_back, longest, normalize, nphrase
from actions.language.yesno import BARE_NO
from actions.qtypes.base import Known, QuestionType, Report, Standard, check_single_answer
from actions.reading import ACCEPTED, CONFIRM, REASK, Parsed

if TYPE_CHECKING:
    from actions.trial import AnswerSpec, Question, Trial

LAST_DOSE_WORDS = ("never", "current", "not_recent")


class LastDose(QuestionType):
    name: ClassVar[str] = "last_dose"
    fields: ClassVar[frozenset[str]] = frozenset({"answer", "medicines", "choices"})

    def check(self, question: Question, answers: dict[str, AnswerSpec], known: Known, report: Report) -> None:
        check_single_answer(question, answers, known, report, "last_dose")
        for j, c in enumerate(question.choices):
            if c.value not in LAST_DOSE_WORDS and c.value is not None:
                report(("choices", j, "value"), "a last_dose choice value must be never, current, not_recent or null")

    def buttons(self, question: Question, standard: Standard) -> list[tuple[Any, str]]:
        return [(c.id, c.title) for c in question.choices]

    def parse(self, trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
        parsed = parse_last_dose(trial, question, text, today)
        if parsed.status == ACCEPTED and parsed.estimate and context.HEDGE.search(normalize(text)):
            parsed.status = CONFIRM     # "a month ago maybe": the date decides the washout, so checked back
        return parsed


CURRENT = ("still taking", "still on", "still getting", "still get", "still take", "currently", "i take it",
           "i'm on it", "im on it", "i am on it", "on it now", "every week", "every month", "every 2", "every two",
           "every few", "every other", "every 4", "every 6", "every 8", "every three", "every four", "every six",
           "right now", "ongoing", "still do", "i get it every", "take it every", "on it still", "still using",
           "taking it now", "getting it now", "i'm taking", "im taking", "i am taking", "i get infusions",
           "get infusions", "my next dose", "next infusion", "weekly", "monthly", "biweekly", "every other week")
NOT_THIS = re.compile(r"\b(?:not|no|never|but not|never had|never took)\s*$")
ON_IT = re.compile(r"^(?:i'm |im |i am |still |currently )?(?:on|taking|getting) (?:it|them|one)(?: still| now)?$|"
                   r"\b(?:getting|taking|on) (?:it|them) still\b")
ON_NEXT = re.compile(r"\b(?:i'm|im|i am|currently|still) (?:on|taking|getting)\s*$")   # "I'm on" Humira
NEVER = ("never", "not ever", "haven't had", "havent had", "have not had", "never had", "never taken", "never been on",
         "none", "not had", "never used", "never received", "don't take", "dont take", "do not take", "didn't have",
         "nope", "nah", "not taken")
LONG_AGO = re.compile(r"\b(years ago|yrs ago|many years|a long time ago|long time ago|ages ago|long ago|decades ago|"
                      r"(a few|several|couple of|a couple of|couple|many) (years|yrs) ago|since i was a (kid|child|teenager)|"
                      r"as a (kid|child)|in the (19)?[5-9]0s|back in the (19)?[5-9]0s)\b")
MORE_THAN = re.compile(r"\b(more than|more then|over|longer than|at least|greater than|>)\s*" + COUNT_RE + r"\s*" + UNIT_RE)
NOT_WITHIN = re.compile(r"\bnot (?:in|within|during) the (?:last|past)\s*" + COUNT_RE + r"?\s*" + UNIT_RE)
WITHIN = re.compile(r"\b(?:within|in) the (?:last|past)\s*" + COUNT_RE + r"?\s*" + UNIT_RE)


def _window_days(trial: Trial, answer_id: str) -> int | None:
    """The washout window of a last-dose answer, in days (months count as 31)."""
    for _, crit in trial.criteria():
        if crit.washout and crit.washout.answer == answer_id:
            return crit.washout.days or (crit.washout.months or 0) * 30
    return None


def _span_days(count: str, unit: str) -> float:
    n = count_of(count or "1")
    u = unit_of(unit)
    return n * {"day": 1, "week": 7, "month": 30, "year": 365}[u]


EVERY_RE = re.compile(r"\b(every|each|once a|twice a|once every)\s*(\d+|few|other|couple of|couple|two|three|four|five|six|"
                      r"seven|eight|day|week|month|year|morning|night)|\b(daily|weekly|monthly|biweekly|maintenance|"
                      r"been on \w+ since|on it since)\b|"
                      r"\b(?:i'm on|i am on|i use|i take|i get|using|taking) (?:\w+ )?since\b")   # "on humira since 2019"


def read_dose(trial: Trial, answer_id: str, segment: str, today: dt.date, date_order: str) -> Parsed:
    """One medicine's last dose from a piece of text."""
    t = normalize(segment)
    window = _window_days(trial, answer_id) or 0
    if not t:
        return Parsed()
    if has_any(t, ("not sure", "don't remember", "can't remember", "no idea",
                    "idk", "don't know", "not certain", "unsure", "i forget", "no clue")) and \
            not parse_date(t, today, date_order):
        return Parsed({answer_id: None}, ACCEPTED)
    m = NOT_WITHIN.search(t)
    if m and _span_days(m[1], m[2]) >= window:
        return Parsed({answer_id: "not_recent"}, ACCEPTED)
    if re.search(r"\bnext (?:\w+ )?(?:dose|infusion|one|round|shot|injection|treatment|\w+ is)\b.*"
                 r"\b(?:scheduled|due|booked|is in|is on)\b", t):
        return Parsed({answer_id: "current"}, ACCEPTED)     # still being treated: the next dose is booked
    if re.search(r"\b(?:until|till|til|up to|through)\b", t):   # "humira until 2023": the end is the last dose
        after = re.split(r"\b(?:until|till|til|up to|through)\b", t, maxsplit=1)[1]
        year = re.match(r"\s*((?:19|20)\d\d)\b", after)
        ended = (min(dt.date(int(year[1]), 12, 31), today), True) if year else parse_date(after, today, date_order)
        if ended and ended[0] <= today:
            return Parsed({answer_id: ended[0].isoformat()}, ACCEPTED, ended[1])
    if (has_any(t, CURRENT) or EVERY_RE.search(t) or ON_IT.search(t) or
            re.search(r"\bon (?:\w+ )?(?:now|right now|currently)\b", t)) and \
            not re.search(r"\b(stopped|quit|ended|ending|finished|completed|no longer|not anymore|used to|course)\b", t):
        return Parsed({answer_id: "current"}, ACCEPTED)
    m = MORE_THAN.search(t)
    if m:
        if _span_days(m[2], m[3]) >= window:
            return Parsed({answer_id: "not_recent"}, ACCEPTED)
        n, unit = count_of(m[2] or "1"), unit_of(m[3])
        return Parsed({answer_id: date_ago(n, unit, today).isoformat()}, ACCEPTED, estimate=True)
    numbered = re.search(r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|a) (years|yrs) ago\b", t)
    if LONG_AGO.search(t) and not numbered and 365 >= window:
        return Parsed({answer_id: "not_recent"}, ACCEPTED)
    m = WITHIN.search(t)
    if m and not re.search(r"\bnot\b", t[:m.start()]):
        return Parsed({answer_id: today.isoformat()}, ACCEPTED, estimate=True)
    found = parse_date(t, today, date_order)
    if found:
        day, estimate = found
        if day > today:
            return Parsed()
        if estimate and has_any(t, ("not sure", "don't remember", "can't remember", "no idea", "idk", "don't know")):
            return Parsed({answer_id: None}, ACCEPTED)
        return Parsed({answer_id: day.isoformat()}, ACCEPTED, estimate)
    season = season_end(t, today)
    if season:
        return Parsed(fallback={answer_id: season.isoformat()})
    if has_any(t, NEVER) or re.search(r"\b(?:wants? me to|going to|will|plan(?:s|ning)? to|about to) start\b", t) and \
            not re.search(r"\b(?:again|restart|back on)\b", t):
        return Parsed({answer_id: "never"}, ACCEPTED)
    first = re.split(r"[ ,.;!]", t, maxsplit=1)[0]
    if first in LEAD_NO or t in ("no", "nope", "nah", "n"):
        return Parsed({answer_id: "never"}, ACCEPTED)
    if has_any(t, UNSURE):
        return Parsed({answer_id: None}, ACCEPTED)
    other = fuzzy_date(t, today)
    if other and other <= today:
        return Parsed({answer_id: other.isoformat()}, CONFIRM)
    return Parsed()


def parse_last_dose(trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
    """A last-dose answer: this medicine's, plus any other medicine named in passing."""
    t = normalize(text)
    for choice in question.choices:
        if t == nphrase(choice.title):
            return Parsed({question.answer: choice.value}, ACCEPTED)
    parts = context.clauses(text, normalize)
    parsed = _read_last_dose(trial, question, text, t, parts, today)
    if parts and all(c.other_person for c in parts if c.text) and parsed.status == ACCEPTED:
        # only about somebody else ("my wife finished Cytoxan in March"): most often someone typing
        # for the patient, so read as the patient's and checked back; nothing filled in passing
        parsed.status, parsed.others = CONFIRM, {}
    return parsed


def _read_last_dose(trial: Trial, question: Question, text: str, t: str, parts: list, today: dt.date) -> Parsed:
    order = trial.model.site.date_order
    aid = question.answer
    mentions = find_medicines(trial, t)
    own_at = next((m[0] for m in mentions if m[2] == aid), None)
    denied = own_at is not None and bool(NOT_THIS.search(t[:own_at]))   # "I'm on cellcept, not cytoxan"
    if (mentions or "?" in text) and any(c.text in BARE_NO for c in parts) and not any(
            parse_date(c.text, today, order) or has_any(c.text, CURRENT) for c in parts):
        return Parsed({aid: "never"}, ACCEPTED)   # "Cytoxan? no", "chemo? no": an echo or a question, then a no
    if not mentions:
        parsed = read_dose(trial, aid, t, today, order)
        if parsed.status == REASK and parsed.fallback is None:
            choice = _choice_by_synonym(question, t)
            if choice is not None:
                return Parsed({aid: choice.value}, ACCEPTED)
            parsed.question_back = is_question_back(t, text)
        return parsed
    bounds = [m[0] for m in mentions] + [len(t)]
    pieces = {m[2]: t[bounds[i]:bounds[i + 1]] for i, m in enumerate(mentions)}
    prefix = t[:bounds[0]]
    results: dict[str, Parsed] = {}
    last_good: Parsed | None = None
    for at, qid, other_aid, exact in reversed(mentions):  # "Humira and IVIG 3 weeks ago": both 3 weeks
        if trial.answers[other_aid].type == "boolean":  # a "have you had any of these medicines?" question
            results[other_aid] = Parsed({other_aid: True}, ACCEPTED if exact else CONFIRM)
            continue
        piece = read_dose(trial, other_aid, pieces[other_aid], today, order)
        if piece.status == REASK and piece.fallback is None and at == bounds[0] and ON_NEXT.search(prefix):
            piece = Parsed({other_aid: "current"}, ACCEPTED)
        if piece.status == REASK and piece.fallback is None and last_good is not None:
            piece = Parsed({other_aid: next(iter(last_good.answers.values()))}, last_good.status, last_good.estimate)
        if piece.status == REASK and piece.fallback is None and prefix.strip():
            piece = read_dose(trial, other_aid, prefix, today, order)
        if piece.status == REASK and piece.fallback is None:
            piece = read_dose(trial, other_aid, t, today, order)
        if not exact and piece.status == ACCEPTED:
            piece.status = CONFIRM
        if piece.status != REASK:
            last_good = piece
        results[other_aid] = piece
    own = results.pop(aid, None)
    if denied:
        own = Parsed({aid: "never"}, ACCEPTED)
    elif own is None:
        own = read_dose(trial, aid, prefix, today, order) if prefix.strip() else Parsed()
    by_answer = {q.answer: q.id for q in trial.questions if q.answer}
    own.others = {by_answer[a]: p.answers for a, p in results.items()
                  if p.status == ACCEPTED and a in by_answer and a != aid}
    if own.status == REASK and own.others:
        own.estimate = any(p.estimate for p in results.values())
    return own


def _choice_by_synonym(question: Question, t: str):
    for choice in question.choices:
        if longest(t, [nphrase(s) for s in choice.synonyms]):
            return choice
    return None


