"""Words: normalizing a reply, finding configured phrases in it, and the common answer words.

A configured phrase (a synonym, a condition name) matches on word boundaries of
the normalized text; phrases and their patterns are normalized and compiled once.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from actions.language.spanish import gloss

CONTRACTIONS = re.compile(r"\b(didn|don|doesn|isn|wasn|aren|haven|hasn|won|can|couldn|shouldn|wouldn)t\b|"
                          r"\b(i)(m|ve|d|ll)\b")


def _expand(m: re.Match) -> str:
    if m.group(1):
        return m.group(1) + "'t"
    return "i'" + m.group(3)


def normalize(text: str) -> str:
    """Lower-case, no accents, straight quotes, apostrophes restored ("didnt"), single spaces, no end
    punctuation, Spanish answer words as the reader's own (actions/language/spanish.py)."""
    text = strip_accents(text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("\u2013", "-"))
    text = re.sub(r"[^\w'/\-\.,:+ ]+", " ", text)
    text = re.sub(r"(?<=\w)[.,:](?=\s|$)", " ", text)
    text = CONTRACTIONS.sub(_expand, text)
    return gloss(re.sub(r"\s+", " ", text).strip(" .,!?:;-"))


def strip_accents(text: str) -> str:
    """"tomé" -> "tome", "año" -> "ano": patients often type Spanish without accents."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=16384)
def nphrase(phrase: str) -> str:
    """A configured phrase, normalized once."""
    return normalize(phrase)


@lru_cache(maxsize=16384)
def phrase_pattern(phrase: str) -> re.Pattern:
    return _compiled(nphrase(phrase))


@lru_cache(maxsize=4096)
def _compiled(phrase: str) -> re.Pattern:
    return re.compile(r"(?<![\w])" + _with_plural(phrase) + r"(?![\w])")


def _with_plural(phrase: str) -> str:
    """The phrase as a pattern that also matches its plural ("kidney" finds "kidneys")."""
    last = phrase.rsplit(" ", 1)[-1]
    if len(last) >= 4 and last.isalpha() and not last.endswith("s"):
        return re.escape(phrase) + "(?:s|es)?"
    return re.escape(phrase)


def has(text: str, phrase: str) -> bool:
    return phrase_pattern(phrase).search(text) is not None


def has_any(text: str, phrases) -> bool:
    """Whether any of the phrases is in the text (as `has`), in one regular-expression search."""
    return _alternation(tuple(phrases)).search(text) is not None


@lru_cache(maxsize=4096)
def _alternation(phrases: tuple[str, ...]) -> re.Pattern:
    return re.compile(r"(?<![\w])(?:" + "|".join(_with_plural(nphrase(p)) for p in phrases) + r")(?![\w])")


def longest(text: str, phrases) -> int:
    return max((len(p) for p in phrases if p and has(text, p)), default=0)


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
             "not as far as i am aware", "not that i've been told", "nobody's told me", "not that anyone told me",
             "not that anyone said")
LEAD_YES = {"yes", "yeah", "yep", "yup", "yea", "ya", "y", "yess", "yes.", "yah", "yas", "yesss", "correct", "affirmative",
            "absolutely", "definitely", "sure", "true", "si", "sí"}
LEAD_NO = {"no", "nope", "nah", "n", "nop", "noo", "nooo", "never", "negative", "nay", "false", "none", "nunca"}
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


def only_negated(text: str, phrase: str) -> bool:
    """Whether `phrase` appears only under a negation in its clause ("I don't have HIV")."""
    for m in phrase_pattern(phrase).finditer(text):
        clause = re.split(r"[,;.]| but | and | though ", text[:m.start()])[-1]
        if not NEGATION_RE.search(clause):
            return False
    return True




def longest_plain(t: str, phrases) -> int:
    """Longest configured phrase found in t outside a negation ("never got it treated" is not "treated")."""
    return max((len(p) for p in phrases if p and has(t, nphrase(p)) and
                not (only_negated(t, nphrase(p)) and not NEGATION_RE.search(nphrase(p)))), default=0)


