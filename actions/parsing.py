"""Reading patients' answers: free text or a button title -> dictionary values.

Pure functions. `parse_answer(trial, question, text, today)` returns a
`Parsed`: the dictionary answers the text gives, and whether to accept them,
check them back with the patient ("confirm"), or ask again ("reask"). Nothing
is guessed: a reply that does not answer the question is asked again.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dateutil.easter import easter
from dateutil.relativedelta import MO, TH, relativedelta
from rapidfuzz import fuzz, process

from actions import context
from actions.evaluator import rules_out
from actions.trial import Question, Trial, question_answer_ids

ACCEPTED, CONFIRM, REASK = "accepted", "confirm", "reask"


@dataclass
class Parsed:
    """What an answer means: dictionary values, a status and an estimate flag.

    `others` holds answers to *other* questions the same message gave
    (question id -> answers), e.g. a second medicine named in passing.
    `fallback` is what a vague reply would mean if the patient cannot be more
    precise (asked once more first). `question_back` marks a question from the
    patient ("what counts as serious?"), which is answered, not counted as an
    unclear answer.
    """

    answers: dict[str, Any] = field(default_factory=dict)
    status: str = REASK
    estimate: bool = False
    others: dict[str, dict[str, Any]] = field(default_factory=dict)
    fallback: dict[str, Any] | None = None
    question_back: bool = False
    choice_value: Any = None

    @property
    def unknown(self) -> bool:
        return self.status == ACCEPTED and bool(self.answers) and all(v is None for v in self.answers.values())


CONTRACTIONS = re.compile(r"\b(didn|don|doesn|isn|wasn|aren|haven|hasn|won|can|couldn|shouldn|wouldn)t\b|"
                          r"\b(i)(m|ve|d|ll)\b")


def _expand(m: re.Match) -> str:
    if m.group(1):
        return m.group(1) + "'t"
    return "i'" + m.group(3)


def normalize(text: str) -> str:
    """Lower-case, straight quotes, apostrophes restored ("didnt"), single spaces, no end punctuation."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("\u2013", "-")
    text = re.sub(r"[^\w'/\-\.,:+ ]+", " ", text)
    text = re.sub(r"(?<=\w)[.,:](?=\s|$)", " ", text)
    text = CONTRACTIONS.sub(_expand, text)
    return re.sub(r"\s+", " ", text).strip(" .,!?:;-")


@lru_cache(maxsize=16384)
def _nphrase(phrase: str) -> str:
    """A configured phrase, normalized once."""
    return normalize(phrase)


@lru_cache(maxsize=16384)
def _pattern(phrase: str) -> re.Pattern:
    return _compiled(_nphrase(phrase))


@lru_cache(maxsize=4096)
def _compiled(phrase: str) -> re.Pattern:
    return re.compile(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])")


def _has(text: str, phrase: str) -> bool:
    return _pattern(phrase).search(text) is not None


def _has_any(text: str, phrases) -> bool:
    """Whether any of the phrases is in the text (as `_has`), in one regular-expression search."""
    return _alternation(tuple(phrases)).search(text) is not None


@lru_cache(maxsize=4096)
def _alternation(phrases: tuple[str, ...]) -> re.Pattern:
    return re.compile(r"(?<![\w])(?:" + "|".join(re.escape(_nphrase(p)) for p in phrases) + r")(?![\w])")


def _longest(text: str, phrases) -> int:
    return max((len(p) for p in phrases if p and _has(text, p)), default=0)


UNSURE = ("not sure", "unsure", "maybe", "idk", "i don't know", "i dont know", "dont know", "don't know", "dunno",
          "do not know", "don't remember", "dont remember", "can't remember", "cant remember", "cannot remember",
          "not certain", "no idea", "perhaps", "possibly", "never been tested", "never tested", "not been tested",
          "haven't been tested", "havent been tested", "unknown", "no clue", "i forget", "i forgot", "not really sure",
          "who knows", "might be", "might have", "could be", "probably", "not 100", "hard to say", "unclear",
          "i think so", "think so", "kind of", "sort of", "kinda", "not positive", "ask my doctor", "no clue",
          "not confirmed", "not officially", "suspected", "suspects", "suspect", "they think", "they suspect",
          "not diagnosed yet", "never had a test", "never been checked", "never checked", "couldn't tell you",
          "can't tell you", "no idea if", "not tested")
NO_HEDGES = ("not that i know of", "not that i'm aware", "not that im aware", "not that i am aware", "i don't think so",
             "i dont think so", "don't think so", "dont think so", "i do not think so", "not as far as i know",
             "not to my knowledge", "none that i know of", "probably not", "i doubt it", "not as far as i'm aware",
             "not as far as i am aware", "not that i've been told", "nobody's told me")
LEAD_YES = {"yes", "yeah", "yep", "yup", "yea", "ya", "y", "yess", "yes.", "yah", "yas", "yesss", "correct", "affirmative",
            "absolutely", "definitely", "sure", "true"}
LEAD_NO = {"no", "nope", "nah", "n", "nop", "noo", "nooo", "never", "negative", "nay", "false", "none"}
NEGATIVE = ("never had", "never have", "never been", "never did", "never", "don't have", "dont have", "do not have",
            "haven't", "havent", "have not", "didn't", "didnt", "did not", "not me", "i'm not", "im not", "i am not",
            "no i don't", "not at all", "none", "nothing like that", "neither", "not really", "i don't", "i dont",
            "i do not", "isn't", "isnt", "aren't", "wasn't", "no way")
AFFIRM_RE = re.compile(r"^(yes|yeah|yep|yup|sure|correct|right|that's right|thats right|true|i do|i have|i am|i did|"
                       r"i have it|i do have it|i have that|i have one|i've had it|ive had it|i had it|affirmative|"
                       r"yes i do|yes i have|yes i am|of course|definitely|absolutely|uh huh|mhm|yes please)$")
TEST_NEGATIVE = re.compile(r"\b(negative|neg|tested negative|came back negative|clear)\b")
NEGATION_RE = re.compile(r"\b(no|not|never|don't|dont|do not|doesn't|haven't|havent|have not|hasn't|didn't|didnt|"
                         r"did not|isn't|isnt|aren't|wasn't|without|nor|neither|free of|negative for|ruled out)\b")
QUESTION_RE = re.compile(r"^(what|why|how|does|do|is|are|can|could|should|which|who|when|where|will|would|whats|what's)\b")


def is_question_back(text: str, raw: str) -> bool:
    """Whether the reply is a question to us rather than an answer."""
    return raw.strip().endswith("?") or bool(QUESTION_RE.match(text))


def _negated(text: str, phrase: str) -> bool:
    """Whether `phrase` appears only under a negation in its clause ("I don't have HIV")."""
    for m in _pattern(phrase).finditer(text):
        clause = re.split(r"[,;.]| but | and | though ", text[:m.start()])[-1]
        if not NEGATION_RE.search(clause):
            return False
    return True


def read_yes_no(text: str, question: Question | None = None):
    """True, False, None (don't know) or REASK for a yes/no question."""
    return read_yes_no_reading(text, question)[0]


BARE_YES = LEAD_YES | {"yes yes", "i do", "i have", "i am", "i did", "uh huh", "mhm", "yes i do", "yes i have", "yes i am"}
BARE_NO = LEAD_NO | {"nada", "nothing", "no no", "nope nope", "not at all", "no never", "never ever", "no sir", "no maam",
                     "no ma'am", "not really", "none at all", "not me", "neither", "no way", "nothing like that"}
FILLER = re.compile(r"\b(?:ok|okay|so|lol|lmao|haha|um+|uh+|hmm+|well|oh|sorry|thanks|thank you|honestly|actually|"
                    r"umm|err|hi|hello|the answer is|answer|that's|thats|that is|it's|its|sir|ma'am|maam|dear)\b")


THUMBS = {"\U0001F44D": "yes", "\U0001F44E": "no"}


def read_yes_no_reading(text: str, question: Question | None = None, today: dt.date | None = None,
                        elsewhere: tuple[str, ...] = ()):
    """(value, weak): value True, False, None (don't know) or REASK; weak when a coordinator would
    check it back (a hedge, clauses that disagree, a reading of the question's restated negative,
    only an echo of the question).

    Read clause by clause (actions/context.py): a cue speaks for its own clause; a clause about
    somebody else says nothing about the patient; an echo of the question ("HIV??") carries no
    answer; an event the reply places before the question's window is a no; a clause about a
    condition another question asks (`elsewhere`: "no, but hep C yes" to hepatitis B) is left out.
    """
    text = "".join(THUMBS.get(ch, ch) for ch in text)
    t = normalize(text)
    if not t:
        return REASK, False
    if question is not None:
        for choice in question.extra_choices:
            if t == _nphrase(choice.title) or _longest(t, [_nphrase(s) for s in choice.synonyms]):
                return choice.value, False
    if _has_any(t, NO_HEDGES):
        return False, False
    own = [_nphrase(n) for n in question.names] if question is not None else []
    readings = [r for r in (_clause_reading(c, question, today) for c in context.clauses(text, normalize)
                            if not (elsewhere and _has_any(c.text, elsewhere) and not (own and _has_any(c.text, own))))
                if r is not None]
    patient = [r for r in readings if r[1] != "other"]
    if any(r[1] == "staff" for r in patient):
        return None, False           # what the criteria file says staff must check ("cured", "antibody")
    primary = [r[0] for r in patient if r[1] in ("specific", "bare") and r[0] is not None and r[0] is not REASK]
    bare = {r[0] for r in patient if r[1] == "bare"}
    # a restated negative ("it hasn't helped") is checked back, unless a plain yes says the same
    flipped = any(r[2] for r in patient) and not (len(bare) == 1 and set(primary) == bare)
    weak = flipped or bool(context.HEDGE.search(t))
    unsure = any(r[0] is None for r in patient)
    if primary:
        if len(set(primary)) == 1:
            return primary[0], weak
        specific = [r[0] for r in patient if r[1] == "specific" and r[0] is not None and r[0] is not REASK]
        return (specific if specific and len(set(specific)) == 1 else primary)[-1], True
    if unsure:
        return None, False
    inferred = [r[0] for r in patient if r[1] == "inferred"]
    if inferred and len(set(inferred)) == 1:
        return inferred[0], weak
    if inferred or any(r[1] == "echo" for r in patient):
        return (inferred[-1] if inferred else True), True    # an echo only ("HIV?"): probably yes, checked
    return REASK, False


def _clause_reading(clause: "context.Clause", question: Question | None, today: dt.date | None):
    """(value, kind, weak) for one clause, or None when it says nothing. kind: "bare" (a yes or a
    no), "specific" (about the condition asked), "staff" (a criteria-file phrase staff must
    check), "inferred" (a negation that may be about something else), "echo" (only the question's
    words), "other" (about somebody else), "none"."""
    c = clause.text
    if MINIMIZER.search(c):
        return False, "specific", True     # "nothing major", "they said it's fine": probably a no, checked back
    words = FILLER.sub(" ", c).split()
    core = " ".join(words)
    if not core:
        return None
    if clause.not_me:
        return False, "specific", False
    if clause.other_person:
        return REASK, "other", False
    if core in BARE_NO or core in ("no " + w for w in ("thank you", "thanks")):
        return False, "bare", False
    if core in BARE_YES:
        return True, "bare", False
    names = [_nphrase(n) for n in question.names] if question is not None else []
    named = any(_has(c, n) for n in names)
    if question is not None:
        meanings = [(_longest_plain(c, question.means_unknown), 2, None),
                    (_longest_plain(c, question.means_no), 1, False),
                    (_longest_plain(c, question.means_yes), 0, True)]
        best = max(meanings, key=lambda m: (m[0], m[1]))
        if best[0]:
            # the question's negative restated ("it hasn't helped") means yes: checked back unless
            # the clause also says a plain yes
            flipped = question.polarity == "negative" and best[2] is True and words[0] not in LEAD_YES
            return best[2], "staff" if best[1] == 2 else "specific", flipped
    if HEDGED_YES.search(core) or HEDGED_YES.search(c):
        return True, "specific", True        # "I think so": probably yes, checked back
    if _has_any(c, UNSURE):
        return None, "specific", False
    if clause.vaccine and (named or len(words) <= 6) or clause.shots and named:
        return False, "specific", False
    if question is not None and question.window_days is not None and (clause.resolved or clause.long_ago or
                                                                       _before_window(c, question, today)):
        return False, "specific", False
    if question is not None and question.polarity == "negative" and clause.negated and EFFECT.search(c) and \
            not (words and words[0] in LEAD_NO and len(words) <= 2):
        return True, "specific", words[0] not in LEAD_YES   # "it hasn't helped": the negative restated
    if NORMAL_RESULT.search(c) and (named or TEST_WORDS.search(c)):
        return False, "specific", False     # "hep b test was fine", "kidney fine"
    if named:
        if clause.negated or TEST_NEGATIVE.search(c):
            return False, "specific", False
        rest = [w for w in words if not any(_has(w, n) for n in names)]
        if not rest or " ".join(words) in names:
            return REASK, "echo", False
        return True, "specific", False
    first = words[0]
    if first in LEAD_NO and not (first == "never" and len(words) > 2):
        return False, "bare", False
    if first in LEAD_YES or AFFIRM_RE.match(core):
        return True, "bare", False
    if _has_any(c, NEGATIVE):   # a negation, perhaps of something else ("never got it treated")
        return False, "inferred", False
    if words[-1] in ("no", "nope", "nah", "none", "never"):
        return False, "bare", False
    if words[-1] in ("yes", "yep", "yeah"):
        return True, "bare", False
    return REASK, "none", False


NORMAL_RESULT = re.compile(r"\b(?:(?:is|are|was|were|came back|all|looks?|looked) (?:fine|normal|ok|okay|good|clear)|"
                           r"(?:fine|normal)$)\b")
TEST_WORDS = re.compile(r"\b(?:tests?|labs?|blood ?work|bloods|results?|numbers|levels|counts?|screening|panel)\b")
EFFECT = re.compile(r"\b(?:help|helps|helped|helping|work|works|worked|working|improve|improved|improvement|"
                    r"improving|better|difference|effect|nothing)\b")
MINIMIZER = re.compile(r"\b(?:nothing major|nothing serious|not serious|nothing bad|minor|mild|just a little|"
                       r"a little (?:high|low)|slightly|(?:dr|doctor|doc|they|he|she) (?:is |was |isn't |wasn't )?not "
                       r"worried|(?:they|dr|doctor|doc) said (?:it's|its|it is|it was) (?:fine|ok|okay|nothing)|"
                       r"nothing to worry about|just a cold)\b")
HEDGED_YES = re.compile(r"^(?:i think|i believe|i guess|i'm pretty sure|pretty sure|probably|most likely) (?:so|yes|yeah|i do|i have)$|"
                        r"^(?:i think|i believe) so$|^yes i think$|^yeah i think$|^probably$")


def _before_window(clause: str, question: Question, today: dt.date | None) -> bool:
    """Whether the clause places its event before the question's window (a date it names)."""
    if today is None or re.search(r"\b(?:due|next|will|coming|expecting|currently|now|right now|am|i'm|still|since)\b",
                                  clause):
        return False
    found = parse_date(clause, today)
    day = found[0] if found else _season(clause, today)
    return day is not None and (today - day).days > question.window_days


def _longest_plain(t: str, phrases) -> int:
    """Longest configured phrase found in t outside a negation ("never got it treated" is not "treated")."""
    return max((len(p) for p in phrases if p and _has(t, _nphrase(p)) and
                not (_negated(t, _nphrase(p)) and not NEGATION_RE.search(_nphrase(p)))), default=0)


# --- choices -----------------------------------------------------------------
def parse_choice(question: Question, text: str):
    """The choice a reply means: exact title, explicit yes/no, then synonyms; or None."""
    t = normalize(text)
    choices = list(question.choices)
    for choice in choices:
        if t == _nphrase(choice.title):
            return choice
    if is_question_back(t, text):
        return None
    no_choice = next((c for c in choices if "no" in [_nphrase(s) for s in c.synonyms]), None)
    parts = context.clauses(text, normalize)
    if no_choice is not None and parts:
        if any(c.not_me for c in parts):
            return no_choice                  # "my sister has scleroderma, not me"
        mine = [c for c in parts if not c.other_person]
        yes_words = [_nphrase(s) for c in choices if c is not no_choice and not c.unknown
                     for s in [c.title] + list(c.synonyms) if _nphrase(s) not in ("yes",)]
        negated = [c for c in mine if c.negated and _has_any(c.text, yes_words)]
        affirmed = [c for c in mine if not c.negated and _has_any(c.text, yes_words)]
        if negated and not affirmed and not any(c.text.split()[0] in LEAD_YES for c in mine if c.text):
            return no_choice                  # "nobody ever said scleroderma"
        t = " , ".join(c.text for c in mine) or t
    first = re.split(r"[ ,.;!]", t, maxsplit=1)[0]
    if first not in LEAD_NO and set(re.findall(r"[a-z]+", t)) & {"yes", "yeah", "yep", "yup"}:
        first = "yes"
    if first not in LEAD_YES and first not in LEAD_NO and _has_any(t, UNSURE):
        return next((c for c in question.choices if c.unknown), None)
    if first in LEAD_NO and no_choice is not None:
        return no_choice
    if first in LEAD_YES and no_choice is not None and \
            _longest(t, [_nphrase(s) for s in no_choice.synonyms if _nphrase(s) not in ("no",)]):
        return no_choice      # "yes, localized scleroderma": the specific term decides (checked back)
    if first in LEAD_YES:
        choices = [c for c in choices if c is not no_choice and not c.unknown]
    scored = []
    for i, choice in enumerate(choices):
        length = _longest(t, [_nphrase(choice.title)] + [_nphrase(s) for s in choice.synonyms])
        if length:
            scored.append((choice.priority, length, -i, choice))
    if scored:
        return max(scored, key=lambda s: s[:3])[3]
    if _has_any(t, UNSURE):
        return next((c for c in question.choices if c.unknown), None)
    return None


def _choice_conflict(question: Question, t: str, chosen) -> bool:
    """Whether the reply also names another choice's words that contradict the one chosen ("yes
    the localized kind": a yes, and the words of "No"): checked back, not guessed."""
    first = re.split(r"[ ,.;!]", t, maxsplit=1)[0]
    for choice in question.choices:
        if choice is chosen or choice.unknown:
            continue
        words = [_nphrase(s) for s in choice.synonyms if _nphrase(s) not in ("yes", "no")]
        opposite = "no" in [_nphrase(s) for s in choice.synonyms] and first in LEAD_YES or \
            "yes" in [_nphrase(s) for s in choice.synonyms] and first in LEAD_NO
        if opposite and _longest(t, words):
            return True
    return False


# --- ages ------------------------------------------------------------------
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen".split())}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}


def _words_to_number(t: str) -> int | None:
    t = re.sub(r"\bfourty\b", "forty", re.sub(r"\bninty\b", "ninety", t))
    m = re.search(r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-](one|two|three|four|five|six|seven|"
                  r"eight|nine|[1-9]))?\b", t)
    if m:
        unit = m.group(2)
        return TENS[m.group(1)] + (int(unit) if unit and unit.isdigit() else NUMBER_WORDS[unit] if unit else 0)
    m = re.search(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", t)
    if m:
        return NUMBER_WORDS[m.group(1)]
    if re.search(r"\b(one|a) hundred\b", t):
        return 100
    return None


def parse_age(text: str, today: dt.date, date_order: str = "MDY") -> int | str:
    """Whole years from "54", "I'm 54", "fifty-four" or a birth date; REASK if unclear."""
    if re.search(r"(^|\s)-\s*\d", text) or re.search(r"\bminus\b", text.lower()):
        return REASK
    t = normalize(text)
    parts = context.clauses(text, normalize)
    mine = [c.text for c in parts if not c.other_person]
    if mine and len(mine) < len(parts):
        t = " , ".join(mine)      # "52. my husband is 60": the husband's age is not asked
    if not t or _has_any(t, UNSURE) or _has_any(t, ("rather not", "prefer not", "none of your")):
        return REASK
    words_age = _words_to_number(t) if re.search(r"\b(?:twenty|thirty|fort|fourty|fifty|sixty|seventy|eighty|ninety|"
                                                 r"ninty)\w* ?-?[1-9]\b", t) else None
    if words_age:
        return words_age          # "fourty 4"
    m = re.match(r"^(\d{1,3}) (?:turning|will be|going to be|gonna be) (\d{1,3})\b", t)
    if m and int(m[2]) == int(m[1]) + 1:
        return int(m[1])          # "66 turning 67 in jan"
    born = _numeric_date(t, date_order, today) or _named_date(t, today)
    full = re.search(r"\b(19|20)\d\d\b", t) and born and born[0].year <= today.year - 1
    if born and (_has_any(t, ("born", "birthday", "dob", "birth", "b.")) or re.fullmatch(r"[\d/\-. ]+", t) or full):
        born_date = born[0]
        if born_date >= today:
            return REASK
        age = today.year - born_date.year - ((today.month, today.day) < (born_date.month, born_date.day))
        return age if 0 < age <= 120 else REASK
    if re.search(r"\d+\s*'?s\b|\b(mid|late|early|over|under|about|around|almost|nearly|roughly|approximately)\b|or so\b", t):
        return REASK
    if re.search(r"(^|\s)-\s*\d", t) or _has(t, "born"):
        return REASK
    stated = re.search(r"\b(?:i'm|i am|im|age|aged|age is|i turned|turned)\s+(\d{1,3})\b", t)
    if stated and 0 < int(stated[1]) <= 120:
        return int(stated[1])
    numbers = re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)(?:\s*(?:yo|y/o|y\.o|yrs?|years?|y))?\b", t)
    if len(numbers) == 1:
        value = float(numbers[0])
        if value != int(value) or not 0 < value <= 120:
            return REASK
        if re.search(r"\b(will be|i'll be|turning|gonna be|going to be|i turn)\s+\d", t) or _has(t, "next birthday") or \
                re.search(r"^\d{1,3} (?:in|on|next|this coming|come) (?:" + MONTH_RE + r"|month|week|year|spring|"
                          r"summer|fall|autumn|winter)\b", t):
            return int(value) - 1     # "72 in january": the age they will be
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
MONTHS.update({"sept": 9, "febuary": 2, "feburary": 2, "janurary": 1, "agust": 8, "augest": 8, "septmber": 9,
               "octber": 10, "novmber": 11, "decmber": 12})
MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
UNIT_DAYS = {"day": 1, "week": 7, "wk": 7}
SEASONS = {"spring": (3, 5), "summer": (6, 8), "fall": (9, 11), "autumn": (9, 11), "winter": (12, 2)}
VAGUE_WORDS = re.compile(r"\b(about|around|roughly|maybe|approximately|approx|like|or so|some|almost|nearly|ish|probably|i think)\b")
COUNT_WORDS = {"a": 1, "an": 1, "one": 1, "a few": 3, "few": 3, "a couple of": 2, "couple of": 2, "a couple": 2,
               "couple": 2, "several": 3, "half a": 0.5}
COUNT_RE = r"(\d+|a few|a couple of|a couple|couple of|couple|several|few|an|a|" + "|".join(
    sorted((w for w in NUMBER_WORDS if w != "zero"), key=len, reverse=True)) + r")"
UNIT_RE = r"(days?|weeks?|wks?|months?|mos?|mths?|years?|yrs?)"


def _last_day(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _minus_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


def _count(word: str) -> float:
    if word.isdigit():
        return int(word)
    return COUNT_WORDS.get(word) or NUMBER_WORDS.get(word, 0)


def _unit(word: str) -> str:
    if word.startswith(("d",)):
        return "day"
    if word.startswith("w"):
        return "week"
    if word.startswith("m"):
        return "month"
    return "year"


def _ago(n: float, unit: str, today: dt.date) -> dt.date:
    if unit in ("day", "week"):
        return today - dt.timedelta(days=round(n * UNIT_DAYS[unit]))
    months = round(n if unit == "month" else n * 12)
    return _minus_months(today, months)


def _numeric_date(t: str, date_order: str, today: dt.date | None = None) -> tuple[dt.date, bool] | None:
    m = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", t)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3])), False
        except ValueError:
            return None
    m = re.search(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b", t)
    if m:
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        if y < 100:
            y += 2000 if today is None or 2000 + y <= today.year else 1900
        month, day = (a, b) if date_order == "MDY" else (b, a)
        try:
            return dt.date(y, month, day), False
        except ValueError:
            return None
    m = re.search(r"\b(\d{1,2})/(\d{4})\b", t)
    if m and 1 <= int(m[1]) <= 12:
        return _last_day(int(m[2]), int(m[1])), True
    m = re.search(r"\b(\d{1,2})/(\d{1,2})\b", t)
    if m and today is not None:
        a, b = int(m[1]), int(m[2])
        month, day = (a, b) if date_order == "MDY" else (b, a)
        try:
            d = dt.date(today.year, month, day)
        except ValueError:
            return None
        return (d if d <= today else d.replace(year=today.year - 1)), False
    return None


def _named_date(t: str, today: dt.date) -> tuple[dt.date, bool] | None:
    m = (re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?({MONTH_RE})\b\.?,?(?: (\d{{4}}))?", t)
         or re.search(rf"\b({MONTH_RE})\b\.?,? (\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*(?:weeks?|days?|months?|years?|wks?|doses?|infusions?|times?))"
                      rf",?(?: (\d{{4}}))?", t))
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
    m = re.search(rf"\b(?:(early|beginning of|start of|mid|middle of|late|end of) ?-?)?({MONTH_RE})\b\.?,? ?(\d{{4}})?", t)
    if m and (m.group(1) or m.group(3) or re.search(rf"\b(in|last|this past|past|since|during|around|about|back in|early|late|mid|end of)\s+(?:-?\s*)?{re.escape(m.group(2))}\b", t) or t.strip() == m.group(2)):
        month = MONTHS[m[2]]
        if m.group(3):
            year = int(m[3])
        else:
            year = today.year if month <= today.month else today.year - 1
            if re.search(rf"\blast {re.escape(m.group(2))}\b", t) and month == today.month:
                year -= 1
        part = m.group(1) or ""
        if part in ("early", "beginning of", "start of"):
            day = dt.date(year, month, 10)
        elif part in ("mid", "middle of"):
            day = dt.date(year, month, 20)
        else:
            day = _last_day(year, month)
        return min(day, today), True
    return None


def _season(t: str, today: dt.date) -> dt.date | None:
    m = re.search(r"\b(spring|summer|fall|autumn|winter)\b(?: of)?(?: (\d{4}))?", t)
    if not m:
        return None
    first, last = SEASONS[m[1]]
    if m[2]:
        year = int(m[2]) + (1 if last < first else 0)
    else:
        year = today.year
        end = _last_day(year, last) if last >= first else _last_day(year, last)
        if dt.date(year, first, 1) > today and last >= first:
            year -= 1
        elif last < first and dt.date(year - 1, first, 1) > today:
            year -= 1
        if re.search(r"\blast (spring|summer|fall|autumn|winter)\b", t) and dt.date(year, first if last >= first else 1, 1) <= today <= (end if last >= first else _last_day(year, last)):
            year -= 1
    return min(_last_day(year, last), today)


def parse_date(text: str, today: dt.date, date_order: str = "MDY") -> tuple[dt.date, bool] | None:
    """A date and whether it is an estimate (its latest plausible day), or None."""
    t = normalize(text)
    vague = bool(VAGUE_WORDS.search(t))
    if _has(t, "today") or _has(t, "this morning"):
        return today, False
    if re.search(r"\bday before yesterday\b", t):
        return today - dt.timedelta(days=2), False
    if _has(t, "yesterday"):
        return today - dt.timedelta(days=1), False
    m = re.search(r"\b(a|one|two|\d+) fortnights? ago\b", t)
    if m:
        return today - dt.timedelta(days=14 * int(_count(m[1]) or 1)), False
    if re.search(r"\bweek before last\b", t):
        return today - dt.timedelta(days=14), True
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    m = re.search(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday) (?:of )?last week\b", t)
    if m:
        monday_last_week = today - dt.timedelta(days=today.weekday() + 7)
        return monday_last_week + dt.timedelta(days=days.index(m[1])), False
    m = re.search(r"\b(last|this past|past|on|this) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", t) \
        or re.search(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?: just gone| gone)?$", t)
    if m:
        name = m.groups()[-1]
        target = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"].index(name)
        back = (today.weekday() - target) % 7 or 7
        return today - dt.timedelta(days=back), False
    m = re.search(r"\b(?:on )?the (\d{1,2})(?:st|nd|rd|th)? of (this|last) month\b", t)
    if m:
        base = today if m[2] == "this" else _minus_months(today, 1)
        try:
            d = base.replace(day=int(m[1]))
        except ValueError:
            return None
        return (d, False) if d <= today else None
    m = re.search(r"\b(half a)\s+" + UNIT_RE + r"\s+(?:ago|back)\b", t) or \
        re.search(COUNT_RE + r"\s*(?:and a half\s+)?" + UNIT_RE + r"\s+(?:ago|back|before)\b", t)
    if m:
        n = _count(m[1]) + (0.5 if "and a half" in m.group(0) else 0)
        unit = _unit(m[2])
        estimate = vague or unit in ("month", "year") or n != int(n) or \
            m[1] in ("a few", "few", "a couple of", "a couple", "couple of", "couple", "several")
        return _ago(n, unit, today), estimate
    if _has(t, "last week"):
        return today - dt.timedelta(days=7), True
    holiday = _holiday(t, today)
    if holiday:
        return holiday, True
    m = re.search(r"\b(early|mid|middle of|late|end of|beginning of|start of) (this year|last year|(?:19|20)\d\d)\b", t)
    if m:
        year = today.year if m[2] == "this year" else today.year - 1 if m[2] == "last year" else int(m[2])
        month = {"early": 3, "beginning of": 3, "start of": 3, "mid": 7, "middle of": 7}.get(m[1], 12)
        day = min(_last_day(year, month), today)
        return day, True
    m = re.search(r"\b(a|one|two|\d+) (year|month)s? and a half ago\b", t)
    if m:
        n = (_count(m[1]) or 1) + 0.5
        return _ago(n, m[2], today), True
    m = re.search(r"\b((?:19|20)\d\d) ?(?:-|to|through|until|till) ?((?:19|20)\d\d)\b", t)
    if m and int(m[2]) <= today.year:      # "infliximab 2017-2020": it ended in 2020
        return min(dt.date(int(m[2]), 12, 31), today), True
    m = re.search(r"\b(" + MONTH_RE + r")\.? '(\d\d)\b", t)
    if m:                                   # "jan '25"
        year = 2000 + int(m[2])
        if year <= today.year:
            return min(_last_day(year, MONTHS[m[1]]), today), True
    m = re.search(r"\b(first|second|third|fourth|last) week of (" + MONTH_RE + r")\b", t)
    if m:
        month = MONTHS[m[2]]
        year = today.year if month <= today.month else today.year - 1
        end = {"first": 7, "second": 14, "third": 21, "fourth": 28}.get(m[1], _last_day(year, month).day)
        return min(dt.date(year, month, end), today), True
    if _has(t, "last month"):
        return _last_day(*_minus_months(today, 1).timetuple()[:2]), True
    if _has(t, "last year"):
        return dt.date(today.year - 1, 12, 31), True
    found = _numeric_date(t, date_order, today) or _named_date(t, today)
    if found:
        return found[0], found[1] or vague
    m = re.search(r"\b(?:in|back in|since|during|of|stopped in|ended in|year)\s+((?:19|20)\d\d)\b", t) or \
        re.fullmatch(r"((?:19|20)\d\d)", t)
    if m and int(m[1]) <= today.year:
        return min(dt.date(int(m[1]), 12, 31), today), True
    return None


def _holiday(t: str, today: dt.date) -> dt.date | None:
    """The last past date of a US holiday named in the text ("around easter", "before thanksgiving last
    year"), or None."""
    days = {
        r"christmas eve|xmas eve": lambda y: dt.date(y, 12, 24),
        r"new year'?s? eve": lambda y: dt.date(y, 12, 31),
        r"christmas|xmas": lambda y: dt.date(y, 12, 25),
        r"thanksgiving": lambda y: dt.date(y, 11, 1) + relativedelta(weekday=TH(4)),
        r"easter": easter,
        r"memorial day": lambda y: dt.date(y, 5, 31) + relativedelta(weekday=MO(-1)),
        r"labou?r day": lambda y: dt.date(y, 9, 1) + relativedelta(weekday=MO(1)),
        r"(?:the )?(?:4th|fourth) of july|july (?:4th|4|fourth)|independence day": lambda y: dt.date(y, 7, 4),
        r"new year'?s?(?: day| eve)?": lambda y: dt.date(y, 1, 1),
        r"halloween": lambda y: dt.date(y, 10, 31),
        r"valentine'?s?(?: day)?": lambda y: dt.date(y, 2, 14),
    }
    for pattern, day_of in days.items():
        if re.search(r"\b(?:" + pattern + r")\b", t):
            year = today.year - 1 if re.search(r"\blast (?:year|" + pattern + r")\b|\b(?:" + pattern +
                                               r") last year\b", t) else today.year
            shift = -1 if re.search(r"\bday before\b", t) else 1 if re.search(r"\bday after\b", t) else 0
            day = day_of(year) + dt.timedelta(days=shift)
            if day > today:
                day = day_of(year - 1) + dt.timedelta(days=shift)
            return day
    return None


def _dateparser(text: str, today: dt.date) -> dt.date | None:
    """Last resort for phrasings our rules miss (English only: never reads "no" as a date)."""
    t = normalize(text)
    if not re.search(r"\d{1,4}[/.\-]\d{1,2}|\b(" + MONTH_RE + r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", t):
        return None  # bare numbers are not dates (dateparser would read "0" or "12" as one)
    import dateparser
    parsed = dateparser.parse(t, languages=["en"], settings={
        "RELATIVE_BASE": dt.datetime(today.year, today.month, today.day),
        "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False, "STRICT_PARSING": False})
    return parsed.date() if parsed else None


# --- medicines ---------------------------------------------------------------
@dataclass(frozen=True)
class MedicineIndex:
    """Every medicine name of a trial -> the question and answer it belongs to."""

    names: tuple[str, ...]
    owners: tuple[tuple[str, str], ...]   # (question id, answer id) per name


_index_cache: dict[int, MedicineIndex] = {}


def medicine_index(trial: Trial) -> MedicineIndex:
    """The trial's medicine names: last-dose questions' `medicines`, other-biologic `names`."""
    index = _index_cache.get(id(trial))
    if index is None:
        names, owners = [], []
        for q in trial.questions:
            for w in q.medicines:
                names.append(normalize(w))
                owners.append((q.id, q.answer))
        index = _index_cache[id(trial)] = MedicineIndex(tuple(names), tuple(owners))
    return index


def find_medicines(trial: Trial, t: str) -> list[tuple[int, str, str, bool]]:
    """Medicines named in normalized text: (position, question id, answer id, exact)."""
    index = medicine_index(trial)
    found: dict[str, tuple[int, str, str, bool]] = {}
    taken: list[tuple[int, int]] = []
    for name, (qid, aid) in sorted(zip(index.names, index.owners), key=lambda x: -len(x[0])):
        for m in _pattern(name).finditer(t):
            if any(a <= m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            if aid not in found or m.start() < found[aid][0]:
                found[aid] = (m.start(), qid, aid, True)
    for m in re.finditer(r"[a-z][a-z\-]{5,}", t):
        if any(a <= m.start() < b for a, b in taken):
            continue
        best = process.extract(m.group(0), index.names, scorer=fuzz.ratio, limit=3, score_cutoff=80)
        if not best:
            continue
        top_owner = index.owners[best[0][2]]
        rivals = [b for b in best[1:] if index.owners[b[2]][1] != top_owner[1] and b[1] >= best[0][1] - 6]
        if rivals:
            continue  # two different medicines about as close: never guess
        qid, aid = top_owner
        if aid not in found:
            found[aid] = (m.start(), qid, aid, False)
    return sorted(found.values())


CURRENT = ("still taking", "still on", "still getting", "still get", "still take", "currently", "i take it",
           "i'm on it", "im on it", "i am on it", "on it now", "every week", "every month", "every 2", "every two",
           "every few", "every other", "every 4", "every 6", "every 8", "every three", "every four", "every six",
           "right now", "ongoing", "still do", "i get it every", "take it every", "on it still", "still using",
           "taking it now", "getting it now", "i'm taking", "im taking", "i am taking", "i get infusions",
           "get infusions", "my next dose", "next infusion", "weekly", "monthly", "biweekly", "every other week")
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
    n = _count(count or "1")
    u = _unit(unit)
    return n * {"day": 1, "week": 7, "month": 30, "year": 365}[u]


EVERY_RE = re.compile(r"\b(every|each|once a|twice a|once every)\s*(\d+|few|other|couple of|couple|two|three|four|five|six|"
                      r"seven|eight|day|week|month|year|morning|night)|\b(daily|weekly|monthly|biweekly|maintenance|"
                      r"been on \w+ since|on it since)\b")


def read_dose(trial: Trial, answer_id: str, segment: str, today: dt.date, date_order: str) -> Parsed:
    """One medicine's last dose from a piece of text."""
    t = normalize(segment)
    window = _window_days(trial, answer_id) or 0
    if not t:
        return Parsed()
    if _has_any(t, ("not sure", "don't remember", "can't remember", "no idea",
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
    if (_has_any(t, CURRENT) or EVERY_RE.search(t) or re.search(r"\bon (?:\w+ )?(?:now|right now|currently)\b", t)) and \
            not re.search(r"\b(stopped|quit|ended|ending|finished|completed|no longer|not anymore|used to|course)\b", t):
        return Parsed({answer_id: "current"}, ACCEPTED)
    m = MORE_THAN.search(t)
    if m:
        if _span_days(m[2], m[3]) >= window:
            return Parsed({answer_id: "not_recent"}, ACCEPTED)
        n, unit = _count(m[2] or "1"), _unit(m[3])
        return Parsed({answer_id: _ago(n, unit, today).isoformat()}, ACCEPTED, estimate=True)
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
        if estimate and _has_any(t, ("not sure", "don't remember", "can't remember", "no idea", "idk", "don't know")):
            return Parsed({answer_id: None}, ACCEPTED)
        return Parsed({answer_id: day.isoformat()}, ACCEPTED, estimate)
    season = _season(t, today)
    if season:
        return Parsed(fallback={answer_id: season.isoformat()})
    if _has_any(t, NEVER) or re.search(r"\b(?:wants? me to|going to|will|plan(?:s|ning)? to|about to) start\b", t) and \
            not re.search(r"\b(?:again|restart|back on)\b", t):
        return Parsed({answer_id: "never"}, ACCEPTED)
    first = re.split(r"[ ,.;!]", t, maxsplit=1)[0]
    if first in LEAD_NO or t in ("no", "nope", "nah", "n"):
        return Parsed({answer_id: "never"}, ACCEPTED)
    if _has_any(t, UNSURE):
        return Parsed({answer_id: None}, ACCEPTED)
    other = _dateparser(t, today)
    if other and other <= today:
        return Parsed({answer_id: other.isoformat()}, CONFIRM)
    return Parsed()


def parse_last_dose(trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
    """A last-dose answer: this medicine's, plus any other medicine named in passing."""
    order = trial.model.site.date_order
    aid = question.answer
    t = normalize(text)
    for choice in question.choices:
        if t == _nphrase(choice.title):
            return Parsed({aid: choice.value}, ACCEPTED)
    parts = context.clauses(text, normalize)
    if parts and all(c.other_person for c in parts if c.text):
        return Parsed()                       # only about somebody else: asked again
    mentions = find_medicines(trial, t)
    if mentions and any(c.text in BARE_NO for c in parts) and not any(
            parse_date(c.text, today, order) or _has_any(c.text, CURRENT) for c in parts):
        return Parsed({aid: "never"}, ACCEPTED)   # "Cytoxan? no": an echo of the question, then a no
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
    for _, qid, other_aid, exact in reversed(mentions):  # "Humira and IVIG 3 weeks ago": both 3 weeks
        if trial.answers[other_aid].type == "boolean":  # a "have you had any of these medicines?" question
            results[other_aid] = Parsed({other_aid: True}, ACCEPTED if exact else CONFIRM)
            continue
        piece = read_dose(trial, other_aid, pieces[other_aid], today, order)
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
    if own is None:
        own = read_dose(trial, aid, prefix, today, order) if prefix.strip() else Parsed()
    by_answer = {q.answer: q.id for q in trial.questions if q.answer}
    own.others = {by_answer[a]: p.answers for a, p in results.items()
                  if p.status == ACCEPTED and a in by_answer and a != aid}
    if own.status == REASK and own.others:
        own.estimate = any(p.estimate for p in results.values())
    return own


def _choice_by_synonym(question: Question, t: str):
    for choice in question.choices:
        if _longest(t, [_nphrase(s) for s in choice.synonyms]):
            return choice
    return None


# --- grouped questions -------------------------------------------------------
def parse_multi(question: Question, text: str) -> Parsed:
    """A grouped question: each option named is yes; "none" is no to all."""
    t = normalize(text)
    ids = [o.answer for o in question.options]
    for option in question.options:
        if t == _nphrase(option.title):
            return Parsed({a: (True if a == option.answer else None) for a in ids}, ACCEPTED)
    if question.none and t == _nphrase(question.none.title):
        return Parsed({a: False for a in ids}, ACCEPTED)
    if is_question_back(t, text):
        return Parsed(question_back=True)
    if re.search(r"\b(all of them|all of these|all of those|all four|all three|every one of them)\b", t) and \
            not re.search(r"\b(except|but not|apart from|other than)\b", t):
        return Parsed({a: True for a in ids}, ACCEPTED)
    values: dict[str, Any] = {}
    parts = context.clauses(text, normalize)
    mine = " , ".join(c.text for c in parts if not c.other_person) if parts else t
    not_me = any(c.not_me for c in parts)
    for o in question.options:
        phrases = [_nphrase(x) for x in [o.title] + list(o.synonyms)]
        hits = [p for p in phrases if _has(mine, p)]
        if hits:
            values[o.answer] = False if all(_negated(mine, p) for p in hits) else True
        elif not_me and any(_has(t, p) for p in phrases):
            values[o.answer] = False      # "my dad has heart failure, not me"
    whole, t = t, mine
    for m in re.finditer(r"\bthe ([a-z ]{3,30}?) one\b", whole):   # "the skin one": a word of the button's title
        for o in question.options:
            if _has(_nphrase(o.title), m[1]) and o.answer not in values:
                values[o.answer] = True
    if values:
        values = _read_segments(question, t, values)
    excepted = re.search(r"\b(?:all|everything|all of them|all of these|all of those|all four|all three)\b.*?"
                         r"\b(?:except|but not|apart from|other than)\b(.*)", whole)
    if excepted:
        named_after = excepted[1]
        values = {a: True for a in ids}
        for o in question.options:
            words = re.sub(r"\b(?:the|one|ones|a|an)\b", " ", named_after).split()
            if any(_has(named_after, _nphrase(x)) for x in [o.title] + list(o.synonyms)) or \
                    (words and _has(_nphrase(o.title), " ".join(words))):
                values[o.answer] = False
    if question.uncontrolled:
        out_of_control = re.search(r"\b(not|un|isn't|aren't|never|poorly|badly|out of|neither one is|neither is|"
                                   r"none of them are|hard to)[ -]?(really |well |very well )?(under )?(control|controlled|managed)|"
                                   r"can't get it (down|under control)|really high|too high|very high|sky high|high even", t) \
            or bool(UNCONTROLLED.search(t))
        controlled = CONTROLLED.search(t)
        if _has_any(t, UNSURE) and values:
            return Parsed({a: None for a in ids}, ACCEPTED)
        if controlled and not out_of_control and not any(values.values()):
            # "it's all under control" / "my blood pressure is high but well controlled": none is out of control
            return Parsed({a: False for a in ids}, ACCEPTED)
    yn = read_yes_no(text)
    if not question.uncontrolled and values and _has_any(t, UNSURE) and yn is not True:
        return Parsed({a: None for a in ids}, ACCEPTED)
    if values:
        if yn is False and not any(values.values()) or all(v is False for v in values.values()):
            return Parsed({a: values.get(a) for a in ids}, ACCEPTED)
        return Parsed({a: values.get(a) for a in ids}, ACCEPTED)
    none_words = [_nphrase(x) for x in ([question.none.title] + list(question.none.synonyms))] if question.none else []
    if yn is False or (none_words and _longest(t, none_words)):
        return Parsed({a: False for a in ids}, ACCEPTED)
    if yn is None:
        return Parsed({a: None for a in ids}, ACCEPTED)
    return Parsed(question_back=is_question_back(t, text))


CONTROLLED = re.compile(r"\b(under control|controlled|well managed|managed well|stable|normal now|doing fine|fine now|"
                        r"(?:on|take|taking|takes)(?: \w+){0,3} (?:pills?|meds|medications?|medicines?|tablets?)(?! but)|"
                        r"is fine|are fine|fine with|ok now|okay now|good now|in check|normal with|happy with|no problems|"
                        r"no issues|no trouble|managed|well treated|all good|all fine|everything is fine|everything's fine|"
                        r"all normal|all under control|all ok|all okay)\b")
UNCONTROLLED = re.compile(r"\b(uncontrolled|not controlled|neither (one )?is controlled|none of them (are|is) controlled|not under control|out of control|isn't controlled|"
                          r"not well controlled|poorly controlled|can't get it (down|under control)|really high|too high|"
                          r"very high|sky high|high even|not managed|struggling|even on|even with|despite)\b")


SEGMENT_NO = re.compile(r"^\W*(?:\w+\W+){0,3}?(?:no|nope|none|never|not really)\b(?! (?:longer|under|controlled|control))")
IMPROVING = re.compile(r"\b(?:softening|softer|improving|getting better|better now|healed(?: up)?|went away|gone now|"
                       r"cleared up)\b")
SEGMENT_YES = re.compile(r"\b(?:yes|yeah|yep|sometimes|on and off|off and on|definitely|def)\b")
SEGMENT_CONTROLLED = re.compile(r"\b(?:fine|normal|good|ok|okay|stable|in range|borderline)\b")
SEGMENT_UNCONTROLLED = re.compile(r"\b(?:still (?:adjusting|swelling|high|having)|waiting (?:on|for) (?:a |my )?"
                                  r"(?:bypass|stent|surgery)|just started a new|new pill|can't breathe)\b")


def _read_segments(question: Question, t: str, values: dict[str, Any]) -> dict[str, Any]:
    """Read each option's own part of the reply, from its name to the next option's ("skin yes,
    lungs no"; for "uncontrolled" groups: "HTN uncontrolled, CHF controlled")."""
    spots = []
    for o in question.options:
        for p in [_nphrase(x) for x in [o.title] + list(o.synonyms)]:
            m = _pattern(p).search(t)
            if m:
                spots.append((m.start(), o.answer))
                break
    spots.sort()
    out = dict(values)
    for i, (start, answer) in enumerate(spots):
        end = spots[i + 1][0] if i + 1 < len(spots) else len(t)
        part = t[start:end]
        if values.get(answer) is False:
            continue
        name_end = next((m.end() for p in _option_phrases(question, answer) for m in [_pattern(p).search(part)] if m),
                        0)
        after = part[name_end:]
        if i + 1 < len(spots):   # a "no" just before the next option's name is that option's ("ILD but no PAH")
            after = re.sub(r"(?:\b(?:no|not|never|nope|none|without|but)\W*)+$", "", after.rstrip(" ,.;"))
        if SEGMENT_NO.search(after) and not UNCONTROLLED.search(after) or \
                not question.uncontrolled and (context.RESOLVED.search(after) or IMPROVING.search(after)):
            out[answer] = False   # denied, healed, or getting better: not (or no longer) present
        elif question.uncontrolled:
            part = re.split(r"[,;.]", t[:start])[-1] + part   # "on two pills for my blood pressure"
            if UNCONTROLLED.search(part) or SEGMENT_UNCONTROLLED.search(part):
                out[answer] = True
            elif CONTROLLED.search(part) or SEGMENT_CONTROLLED.search(after) or context.RESOLVED.search(part) or \
                    re.search(r"\bno (?:problems|issues|trouble) since\b", part):
                out[answer] = False
        elif SEGMENT_YES.search(after):
            out[answer] = True
    return out


def _option_phrases(question: Question, answer: str) -> list[str]:
    option = next(o for o in question.options if o.answer == answer)
    return sorted((_nphrase(x) for x in [option.title] + list(option.synonyms)), key=len, reverse=True)


# --- entry point -------------------------------------------------------------
def parse_answer(trial: Trial, question: Question, text: str, today: dt.date, tapped: bool = False) -> Parsed:
    """Read `text` as an answer to `question` (free text, or the title of a button `tapped`).

    Nothing rules a patient out silently: a typed reading that by itself makes a criterion fail
    (a yes to HIV, a no to the diagnosis, an age under 18) is checked back before it counts.
    """
    parsed = _read_answer(trial, question, text, today)
    if parsed.status == ACCEPTED and not tapped and rules_out(trial, parsed.answers):
        parsed.status = CONFIRM
    return parsed


def _read_answer(trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
    order = trial.model.site.date_order
    t = normalize(text)
    if question.type == "age":
        value = parse_age(text, today, order)
        spec = trial.answers.get(question.answer)
        if value != REASK and spec is not None and (spec.min is not None and value < spec.min or
                                                     spec.max is not None and value > spec.max):
            value = REASK      # outside what the data dictionary allows: asked again
        if value == REASK:
            return Parsed(question_back=is_question_back(t, text))
        return Parsed({question.answer: value}, ACCEPTED)
    if question.type == "last_dose":
        return parse_last_dose(trial, question, text, today)
    if question.type == "multi":
        return parse_multi(question, text)
    if question.type == "choice":
        choice = parse_choice(question, text)
        if choice is None:
            return Parsed(question_back=is_question_back(t, text))
        return Parsed(dict(choice.sets), CONFIRM if _choice_conflict(question, t, choice) else ACCEPTED,
                      choice_value=choice.value)
    if QUESTION_RE.match(t) and text.strip().endswith("?"):
        return Parsed(question_back=True)
    value, weak = read_yes_no_reading(text, question, today, names_elsewhere(trial, question))
    if value == REASK and question.medicines:
        named = {m[2] for m in find_medicines(trial, t)}
        if named:  # naming one of this question's medicines is a yes; one asked about elsewhere is not
            value = question.answer in named
    if value == REASK:
        return Parsed(question_back=is_question_back(t, text))
    return Parsed({question.answer: value}, CONFIRM if weak else ACCEPTED)


def names_elsewhere(trial: Trial, question: Question) -> tuple[str, ...]:
    """The condition names other yes/no questions of the trial ask about (not this one's)."""
    own = {_nphrase(n) for n in question.names}
    return tuple(sorted({_nphrase(n) for q in trial.questions if q is not question and q.type == "yes_no"
                         for n in q.names} - own))


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
