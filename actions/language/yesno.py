"""A yes / no / don't-know reading of a reply, clause by clause.

Used by yes/no questions, by grouped questions for a reply without option
names, and by check-backs. Each cue speaks for its own clause (`context`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

from actions.language import context
from actions.language.dates import parse_date, season_end
from actions.reading import REASK
from actions.language.words import (AFFIRM_RE, LEAD_NO, LEAD_YES, NEGATIVE, NO_HEDGES, TEST_NEGATIVE, UNSURE,
                                    has, has_any, longest, longest_plain, normalize, nphrase)

if TYPE_CHECKING:
    from actions.trial import Question

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

    Read clause by clause (actions/language/context.py): a cue speaks for its own clause; a clause about
    somebody else says nothing about the patient; an echo of the question ("HIV??") carries no
    answer; an event the reply places before the question's window is a no; a clause about a
    condition another question asks (`elsewhere`: "no, but hep C yes" to hepatitis B) is left out.
    """
    text = THUMBS.get(text.strip(), text)     # a thumb alone is an answer; beside words, an emoji
    t = normalize(text)
    if not t:
        return REASK, False
    if question is not None:
        for choice in question.extra_choices:
            if t == nphrase(choice.title) or longest(t, [nphrase(s) for s in choice.synonyms]):
                return choice.value, False
    if has_any(t, NO_HEDGES):
        return False, False
    own = [nphrase(n) for n in question.names] if question is not None else []
    parts = [c for c in context.clauses(text, normalize)
             if not (elsewhere and has_any(c.text, elsewhere) and not (own and has_any(c.text, own)))]
    readings = [r for r in (_clause_reading(c, question, today) for c in parts) if r is not None]
    patient = [r for r in readings if r[1] != "other"]
    if readings and not patient:
        # only about somebody else ("my mom has been on so many meds..."): most often a relative
        # typing for the patient, so read as the patient's and always checked back
        value, _ = _reading_of([r for r in (_clause_reading(replace(c, other_person=False), question, today)
                                            for c in parts) if r is not None], t)
        return value, value is not REASK and value is not None
    return _reading_of(patient, t)


def _reading_of(patient: list, t: str):
    """(value, weak) from the clause readings about the patient."""
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
            # "pregnant, not breastfeeding": a name alone beside a named negation, checked back
            echoed = primary[0] is False and any(r[1] == "echo" for r in patient) and \
                any(r[1] == "specific" for r in patient)
            return primary[0], weak or echoed
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
    if words and words[0] in ("and", "but"):
        words = words[1:]                    # "and no she's not"
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
    names = [nphrase(n) for n in question.names] if question is not None else []
    named = any(has(c, n) for n in names)
    if question is not None:
        meanings = [(longest_plain(c, question.means_unknown), 2, None),
                    (longest_plain(c, question.means_no), 1, False),
                    (longest_plain(c, question.means_yes), 0, True)]
        best = max(meanings, key=lambda m: (m[0], m[1]))
        if best[0]:
            # the question's negative restated ("it hasn't helped") means yes: checked back unless
            # the clause also says a plain yes
            flipped = question.polarity == "negative" and best[2] is True and words[0] not in LEAD_YES
            return best[2], "staff" if best[1] == 2 else "specific", flipped
    if HEDGED_YES.search(core) or HEDGED_YES.search(c):
        return True, "specific", True        # "I think so": probably yes, checked back
    if has_any(c, UNSURE):
        return None, "specific", False
    if clause.vaccine and (named or len(words) <= 6) or clause.shots and named:
        return False, "specific", False
    if question is not None and question.window_days is not None and (clause.resolved or clause.long_ago or
                                                                       _before_window(c, question, today)):
        return False, "specific", False
    if question is not None and question.polarity == "negative" and clause.negated and EFFECT.search(c) and \
            not (words and words[0] in LEAD_NO and len(words) <= 2):
        return True, "specific", words[0] not in LEAD_YES   # "it hasn't helped": the negative restated
    if NORMAL_RESULT.search(c) and (named or TEST_WORDS.search(c) or
                                    question is not None and has_any(c, _name_words(tuple(question.names)))):
        return False, "specific", False     # "hep b test was fine", "kidneys are ok now", "liver fine"
    if clause.resolved and question is not None and has_any(c, _name_words(tuple(question.names))):
        return False, "specific", False     # "kidneys recovered"
    if set(words) <= LEAD_YES | LEAD_NO | {"and", "or", "but", "also"} and set(words) & LEAD_YES and set(words) & LEAD_NO:
        return REASK, "none", False         # "yes and no": both, so neither
    if named or len(words) <= 6 and question is not None and question.names:
        if not clause.negated and TEST_POSITIVE.search(c) and not TEST_NEGATIVE.search(c):
            return True, "specific", False  # "positive since 2005"
    if named:
        if clause.negated or TEST_NEGATIVE.search(c):
            return False, "specific", False
        rest = [w for w in words if not any(has(w, n) for n in names)]
        if not rest or " ".join(words) in names:
            return REASK, "echo", False
        return True, "specific", False
    first = words[0]
    if first in LEAD_NO and not (first == "never" and len(words) > 2):
        return False, "bare", False
    if first in LEAD_YES or AFFIRM_RE.match(core):
        return True, "bare", False
    if has_any(c, NEGATIVE):   # a negation, perhaps of something else ("never got it treated")
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
                       r"nothing to worry about|(?:said )?not to worry|no need to worry|just a cold)\b")
TEST_POSITIVE = re.compile(r"\b(?:tested positive|came back positive|positive|pos)\b")
HEDGED_YES = re.compile(r"^(?:i think|i believe|i guess|i'm pretty sure|pretty sure|probably|most likely) (?:so|yes|yeah|i do|i have)$|"
                        r"^(?:i think|i believe) so$|^yes i think$|^yeah i think$|^probably$")


@lru_cache(maxsize=256)
def _name_words(names: tuple[str, ...]) -> tuple[str, ...]:
    """The longer single words of a question's condition names ("kidney" from "kidney disease")."""
    return tuple(sorted({w for n in names for w in nphrase(n).split() if len(w) >= 4 and w.isalpha()}))


def _before_window(clause: str, question: Question, today: dt.date | None) -> bool:
    """Whether the clause places its event before the question's window (a date it names)."""
    if today is None or re.search(r"\b(?:due|next|will|coming|expecting|currently|now|right now|am|i'm|still|since)\b",
                                  clause):
        return False
    found = parse_date(clause, today)
    day = found[0] if found else season_end(clause, today)
    return day is not None and (today - day).days > question.window_days


