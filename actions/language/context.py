"""The context of what a reply says, clause by clause (in the spirit of NegEx /
ConText): negation, who it is about (the experiencer, or a proxy answering for
the patient), vaccines, resolved or long-past events; `HEDGE` marks a reply to
check back.

Pure functions. A reply is cut into clauses at punctuation and at "but",
"though", "although", "however", "except", "because", "so" (before the
punctuation is normalized away), each clause normalized by the caller's
function; a cue only speaks for its own clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CLAUSE_SPLIT = re.compile(r"\s*(?:[,;!?()]|\.(?!\d)|\s-\s|\b(?:but|though|although|however|except|because|cause|"
                          r"and then|plus|also)\b|(?<!think )(?<!guess )(?<!hope )(?<!believe )\bso\b(?=\s+\w))\s*")
RELATIVE = (r"mom|mum|mother|dad|father|husband|wife|spouse|partner|son|daughter|sister|brother|sibling|aunt|uncle|"
            r"cousin|grandma|grandmother|grandpa|grandfather|granny|friend|boyfriend|girlfriend|kid|child|niece|"
            r"nephew|neighbou?r|family|fianc[eé]e?|stepdad|stepmom|in-law|coworker")
# a relative after "for", "with", "to", "from" or a verb in -ing ("nursing my son") is not who the clause is about
OTHER_PERSON = re.compile(rf"(?<!\bfor )(?<!\bwith )(?<!\bto )(?<!\bfrom )(?<!ing )\b(?:my|his|her|our|their)\s+(?:\w+\s+)?"
                          rf"(?:{RELATIVE})s?\b|"
                          r"\b(?:he|she|they)(?:'s| has| had| have| is| was| got| gets| did)\b|\bruns in (?:my|the) family\b")
FIRST_PERSON = re.compile(r"\b(?:i|i've|i'd|me|myself|mine)\b")
# someone answering for the patient ("I'm filling this in for my mum"): the relative IS the patient
PROXY = re.compile(rf"\b(?:filling (?:this |it )?(?:in|out) for|typing (?:this )?for|answering for|doing this for|"
                   rf"on behalf of|asking for|i'm (?:her|his|their) (?:{RELATIVE}|caregiver|carer)|"
                   rf"this is for my (?:{RELATIVE})|(?:{RELATIVE}) is the patient|the patient is my (?:{RELATIVE})|"
                   rf"it's for my (?:{RELATIVE}))\b")
NOT_ME = re.compile(r"\bnot me\b|\bnot myself\b|\bnot mine\b|\bme no\b|\bme never\b|\bbut not me\b")
NEGATION = re.compile(r"\b(?:no|not|never|nope|nah|nada|none|nothing|neither|nor|without|nobody|no one|noone|don't|doesn't|didn't|haven't|"
                      r"hasn't|hadn't|isn't|aren't|wasn't|weren't|won't|can't|cannot|free of|negative|ruled out|zero)\b")
HEDGE = re.compile(r"\b(?:i think|i believe|i guess|i suppose|probably|maybe|might|pretty sure|likely|kind of|sort of|"
                   r"kinda|not 100|i assume|if i remember|iirc|apparently|possibly)\b")
VACCINE = re.compile(r"\b(?:vaccines?|vaccinated|vaccinations?|immuni[sz]ed|immuni[sz]ations?|boosters?)\b")
# "shots" is a vaccine only next to the disease's name ("the hep B shots"); alone it may be a medicine
VACCINE_NEAR_NAME = re.compile(r"\b(?:shots?|jabs?|series)\b")
RESOLVED = re.compile(r"\b(?:fine since|ok since|okay since|good since|nothing since|none since|not since|better now|"
                      r"all better|fine now|recovered|cleared up|resolved|gone now|went away|over it now|healed)\b")
LONG_AGO = re.compile(r"\b(?:years? ago|yrs ago|last year|a while ago|long time ago|long ago|ages ago|decades? ago|"
                      r"as a (?:kid|child|teen|teenager|baby)|when i was (?:a |younger|little|young)|in high school|"
                      r"in college|back in (?:19|20)\d\d|in (?:19|20)\d\d|months ago|several months|few months)\b")


@dataclass(frozen=True)
class Clause:
    """One clause of a reply and its cues."""

    text: str
    negated: bool
    other_person: bool     # about somebody else (and not also about the patient)
    not_me: bool           # "not me": the patient says it is not them
    vaccine: bool          # a vaccine word ("vaccinated")
    shots: bool            # "shots", "jab": a vaccine only beside the disease's name
    resolved: bool         # "fine since", "recovered": over now
    long_ago: bool         # placed clearly in the past ("years ago", "as a kid", "in 2019")


def clauses(text: str, normalize) -> list[Clause]:
    """The clauses of a reply, each normalized with `normalize` and with its cues (empty ones
    left out)."""
    found = []
    lowered = text.lower().replace("\u2019", "'")
    proxy = bool(PROXY.search(lowered))
    for part in CLAUSE_SPLIT.split(lowered):
        part = normalize(part)
        if not part:
            continue
        other = bool(OTHER_PERSON.search(part)) and not FIRST_PERSON.search(part) and not proxy
        found.append(Clause(part, bool(NEGATION.search(part)), other, bool(NOT_ME.search(part)),
                            bool(VACCINE.search(part)),
                            bool(VACCINE_NEAR_NAME.search(part)), bool(RESOLVED.search(part)),
                            bool(LONG_AGO.search(part))))
    return found

