"""Grouped ("any of these") questions: one yes/no answer per option.

Criteria-file fields: `options` (each fills a boolean answer; title and
synonyms), `none` (the "None of these" button), `uncontrolled` (the question
asks about conditions NOT under control: a condition named as controlled is a
no). A typed reply makes what it names yes and leaves the rest unknown, unless
it says "none", "all" or "all except".
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from actions.language import context
from actions.language.words import UNSURE, has, has_any, is_question_back, longest, normalize, nphrase, only_negated, \
    phrase_pattern
from actions.language.yesno import read_yes_no
from actions.qtypes.base import Known, QuestionType, Report, Standard
from actions.reading import ACCEPTED, CONFIRM, Parsed

if TYPE_CHECKING:
    from actions.trial import AnswerSpec, Question, Trial


class Multi(QuestionType):
    name: ClassVar[str] = "multi"
    fields: ClassVar[frozenset[str]] = frozenset({"options", "none", "uncontrolled"})

    def answer_ids(self, question: Question) -> list[str]:
        return [o.answer for o in question.options]

    def check(self, question: Question, answers: dict[str, AnswerSpec], known: Known, report: Report) -> None:
        if not question.options:
            report(("options",), "a multi question needs options")
        for j, o in enumerate(question.options):
            if known(o.answer, ("options", j, "answer")) and answers[o.answer].type != "boolean":
                report(("options", j, "answer"), "a multi option fills a boolean answer")

    def buttons(self, question: Question, standard: Standard) -> list[tuple[Any, str]]:
        """An option's button sends a list with its answer id (several are sent together after
        "Done"), "None of these" an empty list, "Not sure" the id "unknown"."""
        buttons: list[tuple[Any, str]] = [([o.answer], o.title) for o in question.options]
        if question.none:
            buttons.append(([], question.none.title))
        return buttons + standard("utter_buttons_not_sure")

    def from_payload(self, question: Question, value: Any) -> Parsed | None:
        """A list of answer ids picked with the buttons: those are yes, the others no (the question
        said "tap all that apply"); an empty list is "none of these"; an unknown id is asked again."""
        if not isinstance(value, list):
            return None
        ids = [o.answer for o in question.options]
        if not all(isinstance(v, str) and v in ids for v in value):
            return Parsed()
        return Parsed({a: a in value for a in ids}, ACCEPTED)

    def parse(self, trial: Trial, question: Question, text: str, today: dt.date) -> Parsed:
        return parse_multi(question, text, other_titles(trial, question))


def other_titles(trial: Trial, question: Question) -> tuple[str, ...]:
    """The option names of the trial's other grouped questions ("High blood pressure" is a heart
    option; on the features question those words alone name none of its options; "high blood
    pressure in my lungs" is a features option, and names no heart option)."""
    own = {p for o in question.options for p in _names(o)}
    return tuple(sorted({nphrase(x) for q in trial.questions if q is not question and q.type == Multi.name
                         for o in q.options for x in _names(o)} - own, key=len, reverse=True))


def parse_multi(question: Question, text: str, elsewhere: tuple[str, ...] = ()) -> Parsed:
    """A grouped question: each option named is yes; "none" is no to all."""
    t = normalize(text)
    ids = [o.answer for o in question.options]
    for option in question.options:
        if t == nphrase(option.title):
            return Parsed({a: (True if a == option.answer else None) for a in ids}, ACCEPTED)
    if question.none and t == nphrase(question.none.title):
        return Parsed({a: False for a in ids}, ACCEPTED)
    if is_question_back(t, text):
        return Parsed(question_back=True)
    if re.search(r"\b(all of them|all of these|all of those|all four|all three|every one of them)\b", t) and \
            not re.search(r"\b(except|but not|apart from|other than)\b", t):
        return Parsed({a: True for a in ids}, ACCEPTED)
    values: dict[str, Any] = {}
    parts = context.clauses(text, normalize)
    mine = " , ".join(c.text for c in parts if not c.other_person) if parts else t
    mine = _without(mine, elsewhere, [p for o in question.options for p in _names(o)])
    not_me = any(c.not_me for c in parts)
    for o in question.options:
        phrases = _names(o)
        # "low blood pressure" is not "High blood pressure"
        opposite = "low " if nphrase(o.title).startswith("high ") else None
        hits = [p for p in phrases if has(mine, p) and not (opposite and has(mine, opposite + p))]
        if hits:
            values[o.answer] = False if all(only_negated(mine, p) for p in hits) else True
        elif not_me and any(has(t, p) for p in phrases):
            values[o.answer] = False      # "my dad has heart failure, not me"
    whole, t = t, mine
    for m in re.finditer(r"\b(not |no |never )?(?:the|that) ([a-z ]{3,30}?) one\b", whole):   # "(not) the skin one"
        option = _titled(question, m[2])
        if option is not None and (m[1] or option.answer not in values):
            values[option.answer] = not m[1]
    for i, c in enumerate(parts):   # a clause in the words of one button's title ("scarring lungs", "sores")
        if not c.other_person:
            option = _titled(question, c.text, elsewhere)
            if option is not None and option.answer not in values:
                after = " ".join(p.text for p in parts[i:i + 2])   # "my skin is thick, but it hasn't changed"
                values[option.answer] = not c.negated and not (not question.uncontrolled and IMPROVING.search(after))
    if values:
        values = _read_segments(question, t, values)
        # "just ILD", "ILD, nothing else", "no heart problems. BP normal": the others are a no
        if ONLY.search(t) or any(GENERAL_NO.match(c.text) for c in parts if not c.other_person):
            values = {a: values.get(a, False) for a in ids}
    excepted = re.search(r"\b(?:all|everything|all of them|all of these|all of those|all four|all three|the whole thing)\b"
                         r".*?\b(?:except|but not|apart from|other than)\b(.*)", whole)
    if excepted:
        named_after = excepted[1]
        values = {a: True for a in ids}
        for o in question.options:
            if any(has(named_after, x) for x in _names(o)) or \
                    _titled(question, named_after) is o:
                values[o.answer] = False
    if question.uncontrolled:
        out_of_control = re.search(r"\b(not|un|isn't|aren't|never|poorly|badly|out of|neither one is|neither is|"
                                   r"none of them are|hard to)[ -]?(really |well |very well )?(under )?(control|controlled|managed)|"
                                   r"can't get it (down|under control)|really high|too high|very high|sky high|high even", t) \
            or bool(UNCONTROLLED.search(t))
        controlled = CONTROLLED.search(t)
        if values and BOTH.search(t) and (out_of_control or controlled):
            values = {a: bool(out_of_control) for a in values}   # "CHF and high BP, both under control"
        if has_any(t, UNSURE) and values:
            return Parsed({a: None for a in ids}, ACCEPTED)
        if controlled and not out_of_control and not any(values.values()):
            # "it's all under control", "my blood pressure is high but well controlled": the question
            # asks for what is NOT under control, and the reply says nothing is; a medicine's name alone
            # ("I take lisinopril for it") says so less surely: checked back
            only_medicine = re.match(r"(?:take|taking|takes) \w+ for\b", controlled.group(0)) and \
                not re.search(r"\b(?:control|controlled|fine|normal|stable|good|ok|okay|managed)\b", t)
            return Parsed({a: False for a in ids}, CONFIRM if only_medicine else ACCEPTED)
    yn = read_yes_no(text)
    if not question.uncontrolled and values and has_any(t, UNSURE) and yn is not True:
        return Parsed({a: None for a in ids}, ACCEPTED)
    if values:
        return Parsed({a: values.get(a) for a in ids}, ACCEPTED)
    none_words = [nphrase(x) for x in ([question.none.title] + list(question.none.synonyms))] if question.none else []
    if yn is False or (none_words and longest(t, none_words)):
        return Parsed({a: False for a in ids}, ACCEPTED)
    if yn is None:
        return Parsed({a: None for a in ids}, ACCEPTED)
    return Parsed(question_back=is_question_back(t, text))


BOTH = re.compile(r"\b(?:both|neither one|neither|all of them|all three|each of them|none of them)\b")
ONLY = re.compile(r"\b(?:only|nothing else|none of the others|no others?|that's it|thats it|that's all|"
                  r"thats all|the rest no|none of the rest)\b")
GENERAL_NO = re.compile(r"^(?:no|nope|none|nothing|nah|no others?|nothing else|none else|"
                        r"no (?:other )?(?:\w+ )?(?:problems?|issues?|trouble|conditions?))$")
STOP_WORDS = frozenset("a an the my i i'm im have has had got get with and or of in on one ones that those this is are "
                       "was some bit little kind type lot".split())


def _without(t: str, elsewhere: tuple[str, ...], own: list[str]) -> str:
    """The text without another question's option names ("high blood pressure in my lungs" on the
    heart question), except inside a longer name of our own ("pulmonary hypertension")."""
    own_spans = [m.span() for p in own for m in phrase_pattern(p).finditer(t)]
    for phrase in elsewhere:
        for m in reversed(list(phrase_pattern(phrase).finditer(t))):
            if not any(a <= m.start() and m.end() <= b and b - a > m.end() - m.start() for a, b in own_spans):
                t = t[:m.start()] + " , " + t[m.end():]
    return t


def _same_word(a: str, b: str) -> bool:
    """One word a form of the other ("lung" / "lungs", "tight" / "tighter", "scarred" / "scarring")."""
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 3 and (long_.startswith(short) or len(short) >= 5 and long_[:5] == short[:5])


def _titled(question: Question, words: str, elsewhere: tuple[str, ...] = ()):
    """The one option whose title holds every content word of `words` (or None, also when another
    question's option title holds them all)."""
    content = [w for w in re.findall(r"[a-z']+", words) if w not in STOP_WORDS and not context.NEGATION.match(w)]
    if not content:
        return None
    found = [o for o in question.options if _covers(nphrase(o.title), content)]
    if len(found) != 1 or any(_covers(title, content) for title in elsewhere):
        return None
    return found[0]


def _names(option) -> list[str]:
    """An option's names, normalized: its title, the title without its bracketed abbreviation and
    the abbreviation alone ("Scarring of the lungs (ILD)": "scarring of the lungs", "ild"), its synonyms."""
    return list(_names_of(option.title, tuple(option.synonyms)))


@lru_cache(maxsize=512)
def _names_of(title: str, synonyms: tuple[str, ...]) -> tuple[str, ...]:
    forms = [title, re.sub(r"\s*\([^)]*\)", "", title), *re.findall(r"\(([^)]+)\)", title), *synonyms]
    return tuple(dict.fromkeys(nphrase(x) for x in forms if x.strip()))


def _title_word(question: Question, option, t: str):
    """Where `t` first uses a word found only in this option's title ("skin", "ulcers"), or None."""
    others = {w for o in question.options if o is not option for w in re.findall(r"[a-z]+", nphrase(o.title))}
    own = [w for w in re.findall(r"[a-z]+", nphrase(option.title))
           if len(w) >= 4 and w not in STOP_WORDS and not any(_same_word(w, x) for x in others)]
    for m in re.finditer(r"[a-z]+", t):
        if len(m[0]) >= 4 and any(_same_word(m[0], w) for w in own):
            return m
    return None


def _covers(title: str, content: list[str]) -> bool:
    title_words = re.findall(r"[a-z]+", title)
    return all(any(_same_word(w, tw) for tw in title_words) for w in content)


CONTROLLED = re.compile(r"\b(under control|controlled|well managed|managed well|stable|normal now|doing fine|fine now|"
                        r"(?:on|take|taking|takes)(?: \w+){0,3} (?:pills?|meds|medications?|medicines?|tablets?)(?! but)|"
                        r"(?:take|taking|takes) \w+ for (?:it|them|that|my|blood|bp|high)|"
                        r"is fine|are fine|fine with|ok now|okay now|good now|in check|normal with|happy with|no problems|"
                        r"no issues|no trouble|managed|well treated|all good|all fine|everything is fine|everything's fine|"
                        r"all normal|all under control|all ok|all okay)\b")
UNCONTROLLED = re.compile(r"\b(uncontrolled|not controlled|neither (one )?is (?:really |very |well )?controlled|none of them (are|is) controlled|not under control|out of control|isn't controlled|"
                          r"not well controlled|poorly controlled|can't get it (down|under control)|really high|too high|"
                          r"very high|sky high|high even|not managed|struggling|even on|even with|despite|not great|not good|"
                          r"neither one (?:is )?(?:great|good))\b")


SEGMENT_NO = re.compile(r"^\W*(?:\w+\W+){0,3}?(?:no|nope|none|never|not really)\b(?! (?:longer|under|controlled|control))")
IMPROVING = re.compile(r"\b(?:softening|softer|improving|getting better|better now|healed(?: up)?|went away|gone now|"
                       r"(?:hasn't|has not|not|haven't|hasnt) changed|no change|same for years|stable|"
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
        for p in _names(o):
            m = phrase_pattern(p).search(t)
            if m:
                spots.append((m.start(), o.answer))
                break
        else:   # named only by a word of its own title ("lung scarring. skin is stable")
            m = _title_word(question, o, t)
            if m is not None:
                spots.append((m.start(), o.answer))
    spots.sort()
    out = dict(values)
    for i, (start, answer) in enumerate(spots):
        end = spots[i + 1][0] if i + 1 < len(spots) else len(t)
        part = t[start:end]
        if values.get(answer) is False:
            continue
        name_end = next((m.end() for p in _option_phrases(question, answer) for m in [phrase_pattern(p).search(part)] if m),
                        0)
        after = part[name_end:]
        if i + 1 < len(spots) and not re.search(r"[,;.]\s*$", after):
            # a "no" just before the next option's name is that option's ("ILD but no PAH"; not "PAH no, ulcers")
            after = re.sub(r"(?:\b(?:no|not|never|nope|none|without|but)\W*)+$", "", after.rstrip())
        said_yes = SEGMENT_YES.search(after)
        denied = SEGMENT_NO.search(after) and not (said_yes and said_yes.start() < SEGMENT_NO.search(after).end() - 1)
        if denied and not UNCONTROLLED.search(after) or \
                not question.uncontrolled and (context.RESOLVED.search(after) or IMPROVING.search(after)):
            out[answer] = False   # denied, healed, or getting better: not (or no longer) present
        elif question.uncontrolled:
            part = re.split(r"[,;.]", t[:start])[-1] + part   # "on two pills for my blood pressure"
            if UNCONTROLLED.search(part) or SEGMENT_UNCONTROLLED.search(part):
                out[answer] = True
            elif CONTROLLED.search(part) or SEGMENT_CONTROLLED.search(after) or context.RESOLVED.search(part) or \
                    re.search(r"\bno (?:problems|issues|trouble) since\b", part):
                out[answer] = False
        elif said_yes:
            out[answer] = True
    return out


def _option_phrases(question: Question, answer: str) -> list[str]:
    option = next(o for o in question.options if o.answer == answer)
    return sorted(_names(option), key=len, reverse=True)


