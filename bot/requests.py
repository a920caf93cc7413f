"""Requests by meaning: what a patient asks of the conversation, read from the message's shape.

A request is a first-person wish or an imperative about the conversation itself
("can I talk to a real person", "please delete my answers", "let me change that",
"wait, I meant yes", "oops wrong button", "start over", "what is ILD?"). An answer
to a medical question can use the same words as a report about the patient's
life ("I stopped rituximab in March", "called 911 in June", "start over on
methotrexate next week"). The recogniser tells them apart by:

- shape: a cue counts at the start of a clause (an imperative, after fillers like
  "sorry", "wait", "please") or after a wish frame ("can I", "I want to", "I'd
  like", "let me", "how do I", "she wants to"); a past or third-person report
  ("I stopped", "the nurse called", "they removed") is not a request;
- object: the verb must be about the conversation (the questions, my answers, my
  data, a person to talk to, the beginning); "start over on methotrexate",
  "take a break from enbrel", "change my gloves" are about something else;
- answer-like guards: a leading yes/no, a number, a date or a time anchor ("in
  March", "2019", "3 weeks ago", "next week") make a weak cue an answer; a strong
  cue (a first-person wish frame, "wrong button") still wins.

Emergencies are the exception: recall first. Any emergency cue counts unless the
message places it in the past ("last year", "in June", "years ago", "in 2015", "at
50") or negates it ("no chest pain"), and a present marker in the cue's clause
("right now", "tonight", "just") overrides the past.

Pure functions on text, no I/O; `recognise` costs about a tenth of a millisecond (median).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from rapidfuzz.distance import Levenshtein
from rapidfuzz import process

STRONG = 0.95
WEAK = 0.8


@dataclass(frozen=True)
class Reading:
    """A request recognised in a message: its intent and how sure the shape makes it."""

    intent: str
    confidence: float
    cue: str


# -- normalising ---------------------------------------------------------------------------
# Text-speak and common slips, word for word (the cue patterns then need only one spelling).
WORDS = {
    "im": "i'm", "ive": "i've", "dont": "don't", "cant": "can't", "wont": "won't", "didnt": "didn't",
    "doesnt": "doesn't", "isnt": "isn't", "arent": "aren't", "wasnt": "wasn't", "whats": "what's",
    "thats": "that's", "lets": "let's", "youre": "you're", "theres": "there's", "shouldnt": "shouldn't",
    "couldnt": "couldn't", "wouldnt": "wouldn't", "hes": "he's", "shes": "she's",
    "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "plse": "please",
    "pleas": "please", "plez": "please", "thx": "thanks", "wanna": "want to", "gonna": "going to",
    "gotta": "got to", "lemme": "let me", "gimme": "give me", "tlk": "talk", "spk": "speak", "strt": "start",
    "stp": "stop", "qn": "question", "q": "question", "ques": "question", "prev": "previous", "ppl": "people",
    "sb": "somebody", "some1": "someone", "any1": "anyone", "no1": "no one", "nobody": "no one",
    "cuz": "because", "coz": "because", "bc": "because", "b4": "before", "2day": "today", "2nite": "tonight",
    "tonite": "tonight", "rn": "right now", "asap": "right now", "nd": "and", "n": "and", "abt": "about",
    "msg": "message", "ans": "answer", "ok": "okay", "k": "okay",
    "breath": "breathe", "breth": "breathe", "brethe": "breathe", "begining": "beginning",
    "beggining": "beginning", "dlete": "delete", "delet": "delete", "deleat": "delete", "delte": "delete",
    "dr": "doctor", "docter": "doctor",
}
# Cue words a typo (one edit, five letters or more) is corrected to.
VOCAB = (
    "delete", "erase", "remove", "restart", "beginning", "question", "questions", "answer", "answers",
    "breathe", "breathing", "coordinator", "representative", "emergency", "previous", "mistake", "correct",
    "unconscious", "suicide", "suicidal", "seizure", "overdose", "explain", "number", "someone", "somebody",
    "person", "information", "cancel", "change", "please", "human", "start", "scratch", "nurse", "wrong",
    "button", "accident", "again", "talk", "speak", "phone", "contact", "doctor", "undo", "finish",
    "later", "continue", "survey", "screening", "anymore", "record", "records", "forget", "chest",
    "collapsed", "bleeding", "attack", "stroke", "myself", "understand", "meaning", "difference",
)
_VOCAB_SET = set(VOCAB)


@lru_cache(maxsize=4096)
def _word(token: str) -> str:
    if token in WORDS:
        return WORDS[token]
    if len(token) < 5 or token in _VOCAB_SET or not token.isalpha():
        return token
    best = process.extractOne(token, VOCAB, scorer=Levenshtein.distance, score_cutoff=1)
    if best is None:
        return token
    word = best[0]
    # an inflection of a cue word ("deleted", "answered", "starts") is not a typo of it
    if token[0] != word[0] or token.startswith(word) or word.startswith(token) \
            or token[:-1] == word[:-1] and len(token) == len(word) and token[-1] in "sd":
        return token       # a typo keeps its first letter; an inflection ("deleted", "starts") is no typo
    return word


_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")                     # mis-typed, re-start
_QUOTE = re.compile(r"(?<=[a-z])'(?![a-z])|(?<![a-z])'")            # quotes, not apostrophes
_PUNCT = re.compile(r"[.!?;:,()\[\]{}\n\r\t/]+|\s-+\s|\s+--?\s*|…")
_NOT_WORD = re.compile(r"[^a-z0-9'#| ]+")
_REPEAT = re.compile(r"([a-z])\1{2,}")                              # "stoppp", "pleaseee"


def normalise(text: str) -> str:
    """Lower case, clause boundaries as " | ", text-speak expanded, one space between words;
    the result starts with "| " and ends with " |" so that patterns can anchor on clauses."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = _QUOTE.sub(" ", _HYPHEN.sub("", text))
    text = _PUNCT.sub(" | ", text)
    text = _REPEAT.sub(r"\1\1", _NOT_WORD.sub(" ", text))
    words = [_word(w) if w != "|" else w for w in text.split()]
    out: list[str] = []
    for w in words:
        if w == "|" and (not out or out[-1] == "|"):
            continue
        out.append(w)
    while out and out[-1] == "|":
        out.pop()
    return "| " + " ".join(out) + " |"


# -- shared pieces --------------------------------------------------------------------------
# Fillers a clause may start with before its imperative.
FILL = (r"(?:(?:sorry|so sorry|wait|hold on|hang on|ok|okay|oh|oh no|ugh|um+|uh+|er+|hey|hi|hello|please|kindly|"
        r"actually|so|well|hmm+|hm+|just|and|but|then|ah+|oops|whoops|no wait|alright|right|excuse me|yo|"
        r"lol|omg|also|now|ugh+|argh+|darn|dang|man|jeez|geez|honestly|seriously|can you|could you|"
        r"would you|will you|you can|i said|i think|maybe|now|sigh)\s+)*")
CS = r"\|\s" + FILL                     # the start of a clause, fillers skipped
# A first-person (or proxy) wish or a polite question: what a request is shaped like.
FRAME = (
    r"(?:(?:can|could|may|might|shall|will|would|cn|cud)\s+(?:i|we|you|someone|somebody|anyone|one of you|"
    r"my\s+\w+|she|he|they|mom|dad|us)(?:\s+(?:please|just|maybe|possibly|now))?"
    r"|i(?:'d|\s+would)?\s+(?:really\s+|just\s+|rather\s+)?(?:want|need|like|love|prefer|wish)(?:\s+to)?"
    r"|i'd\s+rather|i\s+would\s+rather|i'd\s+prefer|i'd\s+like|i'm\s+wanting\s+to|i\s+want|i\s+need"
    r"|(?:she|he|they|we|mom|dad|my\s+\w+|my\s+\w+\s+\w+)\s+(?:wants?|needs?|would\s+like|'d\s+like|prefers?)(?:\s+to)?"
    r"|let\s+me|let\s+us|let's|please|kindly"
    r"|how\s+(?:do|can|could|would|should|might)\s+(?:i|we|she|he)"
    r"|is\s+it\s+(?:possible|ok|okay|alright)\s+(?:to|if\s+i|if\s+we)"
    r"|i'm\s+going\s+to|i\s+am\s+going\s+to|i'll|we'll|i\s+will|we\s+will|i\s+wanna"
    r"|do\s+you\s+mind\s+if\s+i|is\s+there\s+(?:a\s+way|any\s+way)\s+(?:to|i\s+can|for\s+me\s+to)"
    r"|(?:i|we)\s+(?:need|have|got)\s+to|i've\s+got\s+to|got\s+to|need\s+to|time\s+to"
    r")"
)
PRE = r"(?:" + CS + r"|" + FRAME + r"\s+(?:\w+\s+){0,2}?)"   # a clause start or a wish frame, then the verb
NEG_BEFORE = re.compile(r"(?:don't|do not|not|never|no need to|doesn't|didn't|won't|wouldn't|shouldn't)\s+(?:\w+\s+)?$")

MONTH = (r"(?:jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|sep|sept|september|"
         r"oct|october|nov|november|dec|december)")
# A time anchor: the message places something in the past (or the future) of the patient's life.
ANCHOR = re.compile(
    r"\b(?:19|20)\d\d\b"
    r"|\b(?:in|since|until|till|from|by|during|around|about|last|early|late|mid|before|after|of|on|back\s+in)\s+" + MONTH + r"\b"
    r"|\b" + MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?\b|\b" + MONTH + r"\s+(?:19|20)\d\d\b"
    r"|\b(?:\d+|a|an|one|two|three|four|five|six|few|several|couple(?:\s+of)?|many|some)\s+"
    r"(?:days?|weeks?|wks?|months?|mos?|years?|yrs?)\s+ago\b"
    r"|\b(?:years|long|a\s+while|ages)\s+ago\b"
    r"|\blast\s+(?:year|month|week|summer|winter|spring|fall|autumn|christmas)\b"
    r"|\bnext\s+(?:week|month|year|time|summer|winter|spring|fall)\b"
    r"|\bback\s+in\b|\bwhen\s+i\s+was\b|\bin\s+the\s+past\b|\bused\s+to\b|(?<!at\s)\bonce\b|\bat\s+(?:age\s+)?\d\d\b"
    r"|\bin\s+my\s+(?:\d0s|twenties|thirties|forties|fifties|sixties)\b|\bas\s+a\s+(?:kid|child|teen|teenager)\b"
)
LEADING_ANSWER = re.compile(r"^\|\s(?:yes|yeah|yep|yup|no|nope|nah|never|not really|correct|true|negative|positive)"
                            r"\s(?:\||and|but|i|my|not|never|it|they|the|he|she|we|thank|thanks|all|just|only)")
DIGIT = re.compile(r"\d|@")
YES_LEAD = re.compile(r"^\|\s(?:yes|yeah|yep|yup|sure|ok|okay|please\s+do|of\s+course|absolutely|definitely|alright)\b")
TALK = re.compile(r"\b(?:talk|speak|chat|discuss|real|live|human|robot|computer|transfer|connect)")


def _rx(*parts: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in parts))


# -- the request kinds ----------------------------------------------------------------------
# Each kind: (strong patterns, weak patterns). A strong pattern is a request by its shape alone;
# a weak one is taken only when the message has no answer-like mark (a leading yes/no, a number,
# a time anchor). Patterns run on the normalised text.
PERSON = (r"(?:person|people|human|humans|nurse|nurses|doctor|doctors|physician|someone|somebody|anyone|anybody|"
          r"coordinator|coordinators|staff|team|member|representative|rep|agent|operator|investigator|"
          r"researcher|specialist|man|woman|guy|lady|receptionist|professional|employee|live\s+\w+)")
DATA = (r"(?:data|answers?|info|information|responses?|records?|details|account|replies|reply|entries|history|"
        r"conversation|chat|chats|messages?|stuff|submission|transcript|profile|file|everything|"
        r"all(?=\s+(?:\||please|now|of|i\b|you|that|this|my|the|data|answers|info))|"
        r"all\s+of\s+(?:this|it|that|them)|it\s+all|this|it|them|that|me|"
        r"what\s+(?:i|we|he|she)\s+(?:said|typed|told\s+you|wrote|entered|answered|shared|put|gave)|"
        r"everything\s+(?:i|we|he|she)(?:'ve)?\s+(?:said|typed|told\s+you|wrote|entered|shared|put|gave))")
OWN = r"(?:(?:my|his|her|our|their|the|your|all|all\s+my|all\s+of\s+my|any|these|those|any\s+of\s+my|every)\s+)?"
ADJ = r"(?:(?:personal|medical|health|private|old|other|whole|entire)\s+)*"
LAST_ANSWER = r"(?:\w+\s+)?(?:last|previous|earlier|prior)\s+(?:answer|response|reply|one|choice)\b"
DEL_VERB = (r"(?:delete|erase|remove|wipe|clear|purge|destroy|scrub|forget|withdraw|discard|trash|expunge|"
            r"get\s+rid\s+of|shred|eliminate|cancel|scrap|throw\s+away|throw\s+out|del)")
DEL_DONE = (r"(?:deleted|erased|removed|wiped|cleared|purged|destroyed|forgotten|scrubbed|discarded|"
            r"taken\s+out|thrown\s+away|gone|trashed|withdrawn|shredded)")
RESTART_TO = (r"(?:(?:from|to|at)\s+)?(?:the\s+)?(?:very\s+)?(?:beginning|start|top|first\s+question|"
              r"question\s+(?:1|one)|scratch|square\s+one|first\s+one|first\s+page)")
ANSWER_OBJ = (r"(?:my|the|that|this|it|what\s+i\s+\w+|what\s+(?:i|we)\s+(?:said|put|typed|answered|picked|chose|entered)"
              r"(?:\s+about\s+\w+(?:\s+\w+)?)?)")
ANSWER_NOUN = r"(?:answer|answers|response|responses|reply|choice|selection|entry|one|question|last|previous|earlier)"

KINDS: dict[str, tuple[list[str], list[str]]] = {
    "delete_data": (
        [
            # "clear of all biologics" is no request; "delete my last answer" is a change (go_back)
            PRE + DEL_VERB + r"(?!\s+(?:of|up|from|out\s+of)\b|\s+" + LAST_ANSWER + r")\s+(?:\w+\s+){0,2}?" + OWN + ADJ + DATA
            + r"\b",
            r"\b(?:wants?|likes?|needs?|have|has|get|gets|make\s+sure|ask\s+for|request|'d\s+like)\s+(?:\w+\s+){0,4}?" + OWN + ADJ
            + r"(?:data|answers?|info|information|responses?|records?|details|account|replies|this|it|everything|"
              r"all\s+of\s+(?:this|it)|it\s+all|messages|history|chat)\s+(?:\w+\s+){0,2}?" + DEL_DONE + r"\b",
            r"\b(?:don't|do\s+not|never|stop)\s+(?:\w+\s+){0,3}?(?:keep|keeping|save|saving|store|storing|share|sharing|"
            r"hold\s+on\s+to|retain|retaining|record|recording)\s+(?:\w+\s+){0,2}?"
            r"(?:my|any|this|it|them|anything|what\s+i)\b",
            r"\b(?:don't|do\s+not)\s+want\s+(?:\w+\s+){0,2}?(?:info|information|data|answers|details|records|responses|"
            r"stuff)\s+(?:\w+\s+)?(?:saved|stored|kept|recorded|shared)\b",
            r"\bforget\s+(?:about\s+)?me\b|\bright\s+to\s+(?:be\s+)?(?:forgotten|erasure|deletion)\b|\bgdpr\b",
            r"\btake\s+(?:\w+\s+){0,2}?(?:data|answers|info|information|responses|details|name|records)\s+out\s+of\b",
            r"\bwithdraw\s+(?:my\s+)?(?:consent|data|answers|information|participation)\b",
            CS + r"(?:delete|erase|wipe\s+it|purge)(?:\s+(?:now|please|it|them|everything|delete|erase))*\s\|",
        ],
        [],
    ),
    "restart": (
        [
            PRE + r"(?:restart|reset|re\s+start|start\s+again|begin\s+again)\b(?!\s+(?:on|with|taking|my\s+(?!answers)))",
            PRE + r"(?:start|begin|do|go|run|try|take\s+(?:it|this)|redo)\s+(?:\w+\s+){0,3}?"
            r"(?:over|again|afresh|anew|fresh|from\s+scratch|" + RESTART_TO + r")\b(?!\s+(?:on|with|taking)\s+(?!the\s+(?:questions|survey)))",
            PRE + r"(?:redo|re\s+do|repeat|retake|re\s+take)\s+(?:the\s+whole|the\s+entire|everything|all|it\s+all|this|"
            r"the\s+(?:questions|questionnaire|screening|survey|quiz|test|form|prescreen)|all\s+(?:my|the)|my\s+answers)\b",
            r"(?:\b(?:go|take\s+me|bring\s+me|send\s+me|get\s+me|jump|skip)\s+(?:back\s+)?|" + CS + r"back\s+)to\s+(?:the\s+)?(?:very\s+)?"
            r"(?:beginning|start|first\s+question|question\s+(?:1|one)|top|square\s+one)\b",
            PRE + r"ask\s+me\s+(?:everything|all\s+(?:of\s+)?(?:the|those|these|them)(?:\s+questions)?|all|the\s+questions)\s+again\b",
            CS + r"(?:do\s+over|start\s+fresh|fresh\s+start|new\s+start|from\s+the\s+(?:top|beginning|start)|"
            r"from\s+scratch|begin\s+from\s+scratch|clean\s+slate|start\s+from\s+scratch|back\s+to\s+square\s+one)"
            r"(?:\s+(?:please|again|now))*\s\|",
            r"\b(?:start|starting|begin|do|doing|redo|restart|start\s+over)\s+(?:the\s+|this\s+)?(?:whole\s+|entire\s+)?"
            r"(?:questionnaire|screening|survey|quiz|prescreen|prescreening|chat|conversation|questions|test)\s+"
            r"(?:over|again|from)\b",
        ],
        [],
    ),
    "human": (
        [
            PRE + r"(?:talk|speak|chat|discuss\s+(?:this|it|that|things|my\s+\w+)|ask|text|message|get)\s+"
            r"(?:\w+\s+){0,2}?(?:to|with|in\s+touch\s+with|hold\s+of)\s+(?:a|an|the|some|one|your|a\s+real|someone|"
            r"somebody|anyone|anybody)?\s*(?:\w+\s+){0,2}?" + PERSON + r"\b",
            FRAME + r"\s+(?:\w+\s+){0,2}?(?:talking|speaking|chatting)\s+(?:\w+\s+)?(?:to|with)\s+(?:\w+\s+){0,2}?" + PERSON + r"\b",
            r"(?:\b(?:get|find|give|bring|send)\s+(?:me|us)|\b(?:i|we|she|he)\s+(?:want|need|would\s+like|'d\s+like|'d\s+prefer|prefer))"
            r"\s+(?:a|an|the|some|to\s+have\s+a)\s+(?:real\s+|live\s+|actual\s+|human\s+)?"
            r"(?:person|human|nurse|coordinator|representative|agent|operator|staff\s+member|someone)\b",
            FRAME + r"\s+(?:\w+\s+){0,2}?ask\s+(?:a|an|the|some|your|one\s+of\s+the)\s+(?:real\s+|live\s+|study\s+|research\s+)?"
            r"(?:person|human|nurse|doctor|coordinator|staff|team|representative|someone|somebody)\b",
            r"\b(?:call|ring|phone)\s+(?:me|us|people|patients|you|them)\s+back\b",
            r"\b(?:can|could|may|should|do)\s+(?:i|we)\s+(?:call|phone|ring|contact|reach|email|text)\s+(?:someone|somebody|anyone|"
            r"anybody|you|your\s+\w+|(?:a|the)\s+(?:\w+\s+){0,2}?" + PERSON + r")\b",
            r"\b(?:any|are\s+there\s+any)\s+(?:real\s+)?(?:humans?|people|persons?)\s+(?:here|there|around|available)\b"
            r"|\b(?:is\s+)?(?:anyone|anybody|someone|somebody)\s+(?:real\s+)?(?:there|here|around|available)\s*\|",
            r"\bis\s+there\s+(?:a|an|any|some|someone|somebody|anyone|anybody)?\s*(?:\w+\s+){0,6}?(?:i|we|she|he|my\s+\w+)\s+"
            r"(?:can|could|may)\s+(?:talk|speak|chat|call|ask|contact|reach)\b",
            # someone else to call: "can someone call me", "have the coordinator call me" (a bare "call me" /
            # "contact me" is how the contact questions are answered)
            r"\b(?:can|could|would|will|please|pls|have|get|ask|need|want|like)\s+(?:\w+\s+){0,3}?"
            r"(?:someone|somebody|anyone|anybody|one\s+of\s+you|(?:a|the|your|some)\s+(?:\w+\s+){0,4}?" + PERSON + r")\s+"
            r"(?:\w+\s+){0,2}?(?:to\s+)?(?:call|ring|phone|contact|reach|text|email|give\s+(?:me|us)\s+a\s+(?:call|ring))"
            r"(?:\s+(?:me|us|my\s+\w+|her|him))?\b",
            r"\b(?:give\s+(?:me|us)\s+a\s+(?:call|ring|phone\s+call)|(?:a|get\s+a)\s+call\s*back|call\s+(?:me|us)\s+back|"
            r"callback|call\s+from\s+(?:someone|a\s+person|a\s+nurse|the\s+team|the\s+study))\b",
            r"\b(?:who|what\s+number)\s+(?:can|do|should|could)\s+(?:i|we)\s+(?:call|contact|talk\s+to|speak\s+to|phone|ring|email|reach)\b",
            r"\bhow\s+(?:do|can|could|would|should)\s+(?:i|we)\s+(?:reach|contact|call|phone|get\s+(?:in\s+touch|hold)|talk\s+to|speak\s+to)\b",
            r"\b(?:connect|transfer|put|pass|forward|send|redirect)\s+(?:me|us)\s+(?:through\s+)?(?:to|with)\b",
            r"\b(?:real|live|actual|living)\s+(?:person|human|people|being|agent|operator|nurse|someone)\b",
            r"\bnot\s+(?:a|an|the)\s+(?:computer|robot|bot|machine|chatbot|ai)\b|"
            r"\b(?:is\s+this|are\s+you|am\s+i\s+(?:talking|chatting|speaking)\s+(?:to|with))\s+(?:a|an|just\s+a)\s+"
            r"(?:robot|bot|computer|machine|chatbot|ai|real|human|person)\b",
            r"\b(?:phone|telephone|contact|call\s*back)\s+(?:number|no|#|info|information|details)\b",
            r"\b(?:a|the|your|some)\s+number\s+(?:to|i\s+can|we\s+can|for\s+me\s+to)\s+(?:call|ring|phone|reach)\b",
        ],
        [
            CS + r"(?:human|agent|operator|representative|rep|a\s+person|person|nurse|real\s+person|someone|"
            r"staff|customer\s+service|support|contact|speak|talk)(?:\s+(?:please|now|plz))*\s\|",
            CS + r"(?:talk|speak|tlk|chat)\s+(?:to|with)\s+(?:a\s+|the\s+)?" + PERSON + r"\b",
        ],
    ),
    "go_back": (
        [
            PRE + r"(?:go|step|move|take\s+me|bring\s+me|jump|skip|get)\s+back\b"
            r"(?!\s+(?:on|for|in|into|onto|over|and|to\s+(?!(?:the|that|it|my|question|previous|last|one|where|what|"
            r"an?\s+earlier|before))))",
            r"\b(?:back|previous|last)\s+(?:one\s+)?(?:question|step|page|screen)\b(?!\s+(?:was|were|is)\s+(?:about|on))"
            r"|\bback\s+(?:one|a)\s+(?:step|question|page)\b|\bone\s+(?:question|step)\s+back\b",
            PRE + r"(?:undo|un\s+do)\b|" + CS + r"undo\b",
            r"\btake\s+back\s+(?:my|that|what|the)\b|\btake\s+(?:that|it|my\s+\w+(?:\s+answer)?)\s+back\b",
            r"\bwrong\s+(?:button|answer|one|choice|option|key|thing|box|reply)\b",
            r"\b(?:pressed|tapped|hit|clicked|chose|picked|selected|typed|put|entered|answered|said|gave|touched|press|tap|click)\s+"
            r"(?:\w+\s+){0,3}?(?:by\s+(?:accident|mistake)|accidentally|wrong(?:ly)?|incorrectly|the\s+wrong|in\s+error)\b",
            r"\baccidentally\s+(?:\w+\s+)?(?:pressed|tapped|hit|clicked|chose|picked|selected|typed|put|entered|answered|said)\b",
            r"\bfinger\s+slipped\b|\bfat\s*finger\w*|\bmis\s*(?:typed|clicked|tapped|pressed|read|spoke|spelled)\b|\btypo\b"
            r"|\bmissclick\w*|\bmisclick\w*",
            r"\bi\s+meant\s+(?:to\s+(?:say|press|tap|click|answer|put|type|hit|pick|choose|select)|yes|no|not|the\s+other|"
            r"other|to)\b|" + CS + r"meant\s+(?:yes|no|to|not)\b|\bnot\s+what\s+i\s+meant\b",
            r"\b(?:i|i've|i\s+have)\s+made\s+(?:a|an)\s+(?:\w+\s+)?(?:mistake|error)\b(?!\s+(?:of|in|with|when|by))"
            r"|\bmy\s+(?:mistake|bad|error)\b|" + CS + r"(?:mistake|error)\s\|",
            r"\b(?:that|it|this|(?:my|the|that|this)\s+(?:last\s+|previous\s+|earlier\s+|first\s+|other\s+)?"
            r"(?:answer|response|reply|one|choice)|the\s+(?:last|previous)\s+(?:one|answer))\s+(?:was|is|'s)\s+(?:wrong|incorrect|a\s+mistake|not\s+right|not\s+correct|an\s+error|"
            r"mistaken)\b|\bthat's\s+(?:wrong|incorrect|not\s+right|a\s+mistake)\b",
            r"\b(?:answered|got|put|said|did)\s+(?:that|it|this|the\s+(?:last|previous)\s+one|the\s+last\s+question|"
            r"the\s+\w+\s+question|that\s+one|the\s+one\s+before)?\s*(?:wrong|incorrectly|wrongly)\b",
            PRE + r"(?:change|correct|fix|edit|revise|amend|update|modify|redo|re\s+do|redo|switch|alter)\s+"
            + ANSWER_OBJ + r"(?:\s+(?:last|previous|earlier|first|\w+))?(?:\s+" + ANSWER_NOUN + r")?\b"
            r"(?!\s+(?:gloves|meds|medicine|medication|dose|doctor|diet|plan|insurance))",
            r"\b(?:change|correct|fix|edit|revise|amend|update|redo)\s+(?:my|the|that|an?)\s+(?:last\s+|previous\s+|earlier\s+)?"
            r"(?:answer|answers|response|reply|choice|selection)\b",
            CS + r"(?:correction|correcting|change\s+(?:that|it|my\s+answer))\b",
            PRE + r"(?:delete|erase|remove|cancel|scrap|clear)\s+" + LAST_ANSWER,
            r"\b(?:answered|said|put|pressed|tapped|chose|picked|clicked|typed)\s+(?:yes|no|not\s+sure|never|\w+)\s+but\s+"
            r"(?:it|that|the\s+answer|i)\s+(?:should|shoulda|was\s+supposed\s+to|meant|wanted|really\s+meant)\b"
            r"|\b(?:i|should)\s+(?:should\s+)?(?:have|'ve|of)\s+(?:said|put|pressed|tapped|answered|chosen|picked|clicked)\s+"
            r"(?:yes|no|not\s+sure|never|the\s+other)\b",
            PRE + r"(?:answer|do|redo)\s+(?:that|it|the\s+last\s+(?:one|question)|the\s+previous\s+(?:one|question)|"
            r"the\s+\w+\s+question)\s+again\b",
        ],
        [
            CS + r"(?:back|go\s+back|previous|oops|whoops|oopsie|undo|mistake|oops\s+mistake)(?:\s+(?:please|one|again|sorry))*\s\|",
        ],
    ),
    "stop": (
        [
            PRE + r"(?:stop|quit|pause|exit|leave|end|finish|cancel|halt|abort|discontinue)\s+"
            r"(?:(?:this|it|the\s+\w+|now|here|for\s+(?:now|today|the\s+day|a\s+bit|a\s+while)|asking\s+(?:me\s+)?\w*|"
            r"answering|please|for\s+a\s+minute|the\s+questions|these\s+questions|there|already)\b(?:\s+(?:now|please|here|today))*)"
            r"(?:\s*\||\s+(?:and|&)\s+(?:come\s+back|continue|finish|pick\s+(?:it|this)\s+up|resume|do\s+the\s+rest|go\s+on)\b)",
            PRE + r"(?:stop|quit|pause|exit|leave|end|finish|cancel|halt|abort)\s\|",
            PRE + r"(?:finish|continue|complete|do|come\s+back\s+to|get\s+back\s+to|pick\s+(?:this|it)\s+up|resume|carry\s+on|"
            r"come\s+back|do\s+the\s+rest|answer\s+the\s+rest)\s+(?:(?:this|it|the\s+rest|the\s+\w+)\s+)?"
            r"(?:later|another\s+(?:time|day)|tomorrow|some\s+other\s+time|next\s+time|when|at\s+another|in\s+a\s+bit|after)\b",
            PRE + r"(?:save|keep)\s+(?:this|it|my\s+(?:answers|progress|place)|where\s+i\s+am)\s+(?:and|for|till|until)\b",
            PRE + r"(?:pause|take\s+a\s+(?:break|pause|rest)|stop\s+(?:for\s+)?now|come\s+back|pick\s+(?:this|it)\s+up|"
            r"continue\s+(?:another|later|tomorrow))\b(?!\s+from\s+(?!(?:this|the\s+questions)))",
            r"\b(?:i|we)\s+(?:have|need|got|gotta|must|'ve\s+got)\s+to\s+(?:go|leave|run|get\s+going|head\s+out|stop\s+now|"
            r"stop\s+here|log\s+off|sign\s+off)\b|\bgot\s+to\s+(?:go|run)\b|\bmy\s+ride\s+is\s+here\b|\bi'm\s+leaving\b",
            r"\b(?:rather|prefer|like|want|choose|wish)\s+not\s+(?:to\s+)?(?:continue|go\s+on|do\s+this|answer\s+(?:any\s+)?more|"
            r"carry\s+on|keep\s+going|finish|proceed|go\s+any\s+further)\b",
            r"\b(?:don't|do\s+not|doesn't|no\s+longer)\s+want\s+to\s+(?:continue|go\s+on|do\s+this|keep\s+going|carry\s+on|"
            r"answer\s+(?:any\s+)?more|finish|proceed|be\s+here|do\s+it|participate|take\s+part)\b",
            r"\bi\s+want\s+out\b|\bnot\s+interested(?:\s+any\s*more)?\b|\bno\s+longer\s+interested\b|"
            r"\bleave\s+me\s+alone\b|\btoo\s+much\b(?!\s+\w)|\bi'm\s+out\b(?!\s+of\s+\w)",
            r"\bno\s+more\s+(?:questions|of\s+this|please)\b|\benough\s+(?:questions|for\s+(?:now|today))\b|"
            r"\bthat's\s+(?:enough|it|all)\s+(?:for\s+(?:now|today)|i\s+can\s+do)\b",
            r"\b(?:i'm|i\s+am|we're|we\s+are)\s+(?:done|finished|through)(?:\s+(?:for\s+(?:now|today)|here|now))?\s\|",
            CS + r"(?:that's\s+enough|enough|bye|goodbye|good\s+bye|bye\s+bye|see\s+you|see\s+ya|later|cya|i\s+quit|"
            r"not\s+now\s+maybe\s+later|maybe\s+later|no\s+more(?:\s+questions)?|not\s+right\s+now|another\s+time|gotta\s+go|got\s+to\s+go|"
            r"bye\s+now|stop\s+it|stop\s+stop)(?:\s+(?:please|now|for\s+now|then|thanks|thank\s+you))*\s\|",
        ],
        [],
    ),
    "explain": (
        [
            CS + r"what(?:'s|\s+is|\s+are|\s+does|\s+do|\s+was)\s+(?!(?:this|the)\s+(?:study|trial)\b)(?!i\b|it\s+for\b)"
            r"(?:\w+\s+){0,7}?(?:\w+)\s*(?:mean|means|stand\s+for|called|\|)",
            CS + r"what(?:'s|\s+is|\s+are)\s+(?:a|an|the)?\s*(?:\w+\s+){0,3}?(?:meant|mean|meaning|difference|definition)\b",
            CS + r"what\s+(?:do|does|did)\s+(?:you|it|they|that|this)\s+mean\b|\bwhat\s+(?:do|does)\s+(?:you|it)\s+mean\s+by\b",
            CS + r"what\s+(?:counts|kind|kinds|type|types|sort|sorts|exactly|qualifies|are\s+you\s+asking|do\s+you\s+need|"
            r"would\s+count|does\s+that\s+include|is\s+considered|do\s+you\s+count|else\s+counts|do\s+you\s+want\s+to\s+know)\b",
            CS + r"why(?:\s+(?:do|are|does|is|would|should|did)\s+(?:you|u|it|this|that|they|we|the\s+study|the\s+question|"
            r"\w+(?:\s+\w+)?)\s+(?:need|ask|asking|want|wanna|matter|matters|important|relevant|care|question|needed|required))\b",
            CS + r"why\s+(?:\?|\||this\s+question|that\s+question|ask|the\s+question|is\s+that\s+(?:important|relevant|needed))",
            CS + r"(?:how\s+come|how\s+is\s+that\s+relevant|what\s+does\s+(?:that|this|it)\s+have\s+to\s+do\s+with)\b",
            r"\b(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?(?:explain|clarify|rephrase|reword|elaborate|define|"
            r"say\s+(?:it|that|this)\s+(?:another|a\s+different|in\s+another|differently|again|simpler|more\s+simply)|"
            r"tell\s+me\s+what\s+(?:that|this|it|\w+)\s+(?:means|is))\b",
            CS + r"(?:explain|clarify|define|rephrase)\b",
            r"\b(?:i|we)\s+(?:don't|do\s+not|didn't|did\s+not|can't)\s+(?:\w+\s+)?(?:understand|get|follow)\s+"
            r"(?:the\s+question|this\s+question|that\s+question|the\s+\w+\s+question|what\s+you|what\s+(?:that|this|it)|"
            r"you|that|this|it|what\s+\w+\s+means|the\s+word|what's\s+being\s+asked)\b"
            r"|\b(?:i|we)\s+(?:don't|do\s+not|didn't)\s+(?:understand|get\s+it)\s\|",
            r"\b(?:i|we)\s+(?:don't|do\s+not)\s+know\s+what\s+(?:\w+\s+){0,3}?(?:means?|is|are|you\s+mean|you're\s+asking|"
            r"that\s+is|stands\s+for)\b",
            r"\b(?:not\s+sure|unsure|confused\s+about)\s+what\s+(?:you\s+mean|you're\s+asking|(?:that|this|it|\w+)\s+means|"
            r"(?:that|this|it)\s+is|you\s+are\s+asking|the\s+question\s+is)\b",
            CS + r"(?:huh|what|eh|pardon|come\s+again|sorry\s+what|what\s+what|say\s+what|what\s+now|wdym|what\s+do\s+u\s+mean)"
            r"(?:\s+(?:sorry|please))*\s\|",
            CS + r"which\s+(?:\w+\s+){0,3}?(?:count|counts|qualify|qualifies|do\s+you\s+mean|are\s+you\s+asking\s+about)\b",
            CS + r"(?:is|are|does|do|did|would|should|will)\s+(?:\w+\s+){1,8}?(?:count|counts|mean|means|the\s+same|same\s+as|"
            r"considered|one\s+of|include|includes|qualify|qualifies|a\s+biologic|part\s+of|a\s+type\s+of|a\s+kind\s+of|"
            r"a\s+form\s+of|an?\s+\w+\s+medicine|in\s+that\s+group)\b",
            r"\bconfus\w*\s+(?:by|about|with)\s+(?:this|the|that|your)\s+(?:\w+\s+)?(?:question|word|term|wording)\b"
            r"|\b(?:this|the|that)\s+question\s+(?:is\s+)?(?:confus\w*|unclear)\b",
            r"\bin\s+(?:plain|simple|simpler|everyday)\s+(?:words|english|language|terms)\b|\bsay\s+it\s+another\s+way\b|"
            r"\b(?:what|which)\s+(?:is|are)\s+the\s+difference\b|\bwhat's\s+the\s+difference\b",
        ],
        [
            CS + r"(?:is|are|does|do)\s+(?!you\b)(?:\w+\s+){1,6}?\w+\s*\|\s*$",
        ],
    ),
    "study_info": (
        [
            CS + r"(?:what|what's|is|how|where|who|when|does|do|will|can|are|tell\s+me)\s+(?:\w+\s+){0,4}?(?:this|the|your)\s+"
            r"(?:study|trial|research)\b(?!\s+(?:team|staff|nurse|doctor|coordinator))",
        ],
        [],
    ),
}
ORDER = ("delete_data", "restart", "human", "go_back", "stop", "study_info", "explain")
COMPILED = {kind: (_rx(*strong), _rx(*weak) if weak else None) for kind, (strong, weak) in KINDS.items()}
# Words one of a kind's patterns needs (a message without any skips the kind: speed only; the
# request corpus test checks that no phrasing of a kind is lost here).
NEEDS = {kind: re.compile(r"\b(?:" + words + r")") for kind, words in {
    "delete_data": r"delet|eras|remov|wipe|clear|purg|destro|scrub|forg|withdr|discard|trash|expung|rid\b|shred|elimin|"
                   r"cancel|scrap|throw|del\b|gone|keep|kept|sav|stor|shar|hold|retain|record|gdpr|take|taken",
    "restart": r"restart|reset|re\s+start|re\s+do|re\s+take|start|begin|over|again|fresh|anew|scratch|top|redo|repeat|retake|first|"
               r"square",
    "human": r"talk|speak|chat|discuss|ask|text|message|get|call|ring|phone|contact|reach|email|connect|transfer|put|pass|"
             r"forward|send|redirect|real|live|actual|living|robot|bot|computer|machine|ai\b|number|human|agent|operator|"
             r"representative|rep\b|person|nurse|someone|staff|support|customer|anyone|anybody|somebody|people|give|find|"
             r"bring|want|need|like|prefer",
    "go_back": r"back|previous|last|undo|un\s+do|take|wrong|press|tap|hit|click|chose|pick|select|typ|put|enter|answer|said|"
               r"gave|touch|accident|finger|mis|typo|meant|mistake|error|bad|that|change|correct|fix|edit|revis|amend|updat|"
               r"modif|redo|re\s+do|switch|alter|oops|whoops|should",
    "stop": r"stop|quit|paus|exit|leav|end|finish|cancel|halt|abort|discontinu|continu|complet|come|resume|carry|rest|"
            r"sav|keep|break|go|run|ride|want|interest|alone|much|out|more|enough|that's|done|through|bye|see|later|cya|"
            r"another|not|rather|prefer|like|wish|choose|log|sign",
    "study_info": r"study|trial|research",
    "explain": r"what|why|how|explain|clarif|rephras|reword|elaborat|defin|say|tell|understand|get|follow|know|sure|"
               r"confus|huh|eh\b|pardon|come|wdym|is|are|does|do|did|would|should|will|plain|simple|everyday|difference|"
               r"which|count|mean|question",
}.items()}

# A question back ends with "?" in the original text; the weak explain pattern needs it.
QUESTION_MARK = re.compile(r"\?\s*$")
# "what I take is actemra", "which is the same thing": a relative clause, not a question back.
EXPLAIN_NOT = re.compile(r"\bwhat\s+(?:i|we|he|she|my\s+\w+)\s+(?:have|take|took|had|got|get|meant|mean|use|used)\b")


# -- emergencies ------------------------------------------------------------------------------
EMERGENCY_CUES = [
    r"\bchest\b(?:\s+\w+){0,3}?\s+(?:pains?|hurts?|hurting|pressure|tight|tightness|heavy|heaviness|crushing|squeez\w*|"
    r"burning|aches?|aching|is\s+killing\s+me|feels?\s+(?:tight|heavy|crushed))\b",
    r"\b(?:pain|pressure|tightness|heaviness|crushing|squeezing|weight)\s+(?:in|on)\s+(?:my\s+|her\s+|his\s+)?chest\b",
    r"\bheart\s+attack\b|\bcardiac\s+arrest\b",
    r"\bstroke\b|\bface\s+(?:is\s+)?(?:drooping|droops|is\s+droopy|went\s+numb|numb)\b|\bslurr\w*\b",
    r"\bcan't\s+(?:talk|speak|move|feel)\s+(?:properly|right|clearly|straight|my\s+(?:arm|leg|face|side))\b",
    r"\b(?:suddenly|all\s+of\s+a\s+sudden)\s+(?:\w+\s+){0,3}?(?:can't|cannot|weak|numb|dizzy|confused|blind)\b",
    r"\b(?:arm|leg|side|face|hand)\s+(?:is\s+|went\s+|feels\s+|gone\s+|has\s+gone\s+)?(?:numb|weak|limp|dead)\b",
    r"\b(?:can't|cannot|can\s+not|unable\s+to|couldn't|struggling\s+to|hard\s+to|trouble|difficulty|hardly|barely|"
    r"not\s+able\s+to)\s+(?:\w+\s+){0,2}?breathe?(?:ing)?\b",
    r"\b(?:not|stopped|isn't|is\s+not|wasn't)\s+breathing\b|\bgasping\b|\bsuffocat\w*",
    r"\b(?:lips|face|skin)\s+(?:are\s+|is\s+)?(?:turning\s+|going\s+|gone\s+)?(?:blue|purple|grey|gray)\b",
    r"\bchok(?:ing|e|ed)\b|\b(?:throat|tongue|lips|mouth|face|airway)\s+(?:is\s+|are\s+|feels\s+)?(?:swell\w*|closing|closed|tight)\b"
    r"|\banaphyla\w*",
    r"\bsuicid\w*|\bkill(?:ing)?\s+(?:myself|me|herself|himself)\b|\bself\s*harm\w*",
    r"\b(?:end|ending|take|taking)\s+(?:my|her|his)\s+(?:own\s+)?life\b|\bend\s+it\s+(?:all|tonight|today|now)\b"
    r"|\b(?:going\s+to|gonna|want\s+to|ready\s+to)\s+end\s+it\b|\bending\s+it\s+(?:all|tonight|today|now)\b",
    r"\b(?:having|going\s+into|in)\s+(?:a|an)?\s*(?:\w+\s+)?(?:allergic\s+reaction|anaphyla\w*)",
    r"\b(?:want|wanna|wish|going|ready|deserve)\s+(?:to\s+)?(?:die|be\s+dead)\b|\bbetter\s+off\s+dead\b|\brather\s+be\s+dead\b"
    r"|\bdon't\s+want\s+to\s+(?:live|be\s+alive|be\s+here|wake\s+up|exist)\b|\bno\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living|going\s+on)\b"
    r"|\bno\s+one\s+would\s+(?:miss|care|notice)\b|\bcan't\s+(?:go\s+on|take\s+(?:it|this)\s+any\s*more)\b",
    r"\b(?:hurt|harm|cut|cutting|harming|hurting|burn|burning)\s+(?:myself|herself|himself)\b",
    r"\boverdos\w*|\btook\s+(?:too\s+many|all\s+(?:of\s+)?my|a\s+(?:whole\s+)?bottle|the\s+whole\s+bottle|a\s+handful|"
    r"way\s+too\s+many|\d+\s+(?:pills|tablets))\b|\bswallowed\s+(?:a|the|all|too\s+many|\d+)\b|\b(?:pills|tablets)\s+at\s+once\b"
    r"|\b(?<!food\s)poison(?:ed|ing)\b|\b(?:drank|swallowed|took)\s+(?:bleach|poison)\b",
    r"\bcollaps\w*|\bunconscious\b|\bunresponsive\b|\bwon't\s+wake\s+up\b|\bnot\s+waking\s+up\b|\bcan't\s+wake\s+(?:him|her|them|up)\b"
    r"|\bpass(?:ed|ing)?\s+out\b|\bfaint(?:ed|ing)?\b|\bblack(?:ed|ing)\s+out\b",
    r"\bseizure\b|\bseizing\b|\bconvuls\w*",
    r"\bbleeding\s+(?:a\s+lot|heavily|badly|everywhere|profusely|so\s+much|really\s+bad|won't|that\s+won't|out)\b"
    r"|\b(?:won't|can't|doesn't|wont)\s+stop\s+bleeding\b|\blots\s+of\s+blood\b|\blosing\s+(?:a\s+lot\s+of\s+)?blood\b"
    r"|\bcut\s+(?:myself|is)\s+(?:\w+\s+)?(?:deep|bad)\b|\bit's\s+deep\b|\bdeep\s+cut\b",
    r"\b(?:i'm|i\s+am|she's|he's|im)\s+(?:\w+\s+)?dying\b|\bfeel\s+like\s+i'm\s+dying\b",
    r"\bheart\s+(?:is\s+)?(?:racing|pounding)\s+(?:and|so|really|like)\b",
    r"(?:^|\|\s|\bhelp\s+|\bplease\s+)call\s+(?:911|999|112|an\s+ambulance)\b|\bneed\s+an\s+ambulance\b",
    r"\b(?:this\s+is|it's|i\s+have|i've\s+got|there's|we\s+have|having)\s+(?:a|an)\s+(?:medical\s+)?emergency\b"
    r"|\bemergency\s*\||\bhelp\s+emergency\b|\bemergency\s+help\b",
]
# Where the cue is placed in the past or explained away ("had a heart attack", "my chest pains were from reflux").
PAST_CUE = re.compile(
    r"\b(?:had|survived|history\s+of|after|since|previous|prior|old)\s+(?:a\s+|an\s+|my\s+)?(?:\w+\s+)?"
    r"(?:heart\s+attack|stroke|seizure|overdose)\b"
    r"|\b(?:was|were)\s+(?:from|due\s+to|caused\s+by|because\s+of|just|only)\b"
)
CONJUNCTION = re.compile(r"\b(?:but|and|though|although|however|so|because|then|while|whereas)\b")
NEGATED_CUE = re.compile(r"\b(?:no|not|never|without|denies|any)\s+(?:\w+\s+)?$")
PRESENT = re.compile(r"\b(?:now|right\s+now|currently|at\s+the\s+moment|tonight|today|this\s+(?:morning|evening|minute)|"
                     r"just|happening|suddenly|won't\s+stop|can't\s+stop|for\s+the\s+(?:last|past)\s+\d+\s+\w+|"
                     r"help|please|i'm\s+having|i\s+am\s+having|is\s+having|going\s+to|gonna)\b")


class Recogniser:
    """Reads requests from free text. `emergency_phrases` (the `emergency` examples of nlu.yml)
    are cues too, anywhere in a message, under the same past-time guard."""

    def __init__(self, emergency_phrases: Iterable[str] = ()) -> None:
        extra = [r"\b" + r"\s+".join(re.escape(w) for w in normalise(p).strip("| ").split()) + r"\b"
                 for p in emergency_phrases if normalise(p).strip("| ")]
        self.emergency = [re.compile(c) for c in EMERGENCY_CUES + extra]

    def recognise(self, text: str) -> Reading | None:
        """The request this message makes, or None (then it is an answer, or other small talk)."""
        norm = normalise(text)
        emergency = self._emergency(norm)
        if emergency:
            return emergency
        answer_like = bool(LEADING_ANSWER.search(norm) or DIGIT.search(norm) or ANCHOR.search(norm))
        for kind in ORDER:
            if not NEEDS[kind].search(norm):
                continue
            strong, weak = COMPILED[kind]
            match = self._first(strong, norm)
            if match is not None and self._keeps(kind, norm, text, match, answer_like, strong=True):
                return Reading(kind, STRONG, match.group(0))
            if weak is not None and not answer_like:
                match = self._first(weak, norm)
                if match is not None and self._keeps(kind, norm, text, match, answer_like, strong=False):
                    return Reading(kind, WEAK, match.group(0))
        return None

    @staticmethod
    def _first(pattern: re.Pattern, norm: str) -> re.Match | None:
        for m in pattern.finditer(norm):
            if not m.group(0).startswith("|") and NEG_BEFORE.search(norm[:m.start()].split("|")[-1]):
                continue
            return m
        return None

    @staticmethod
    def _keeps(kind: str, norm: str, text: str, match: re.Match, answer_like: bool, strong: bool) -> bool:
        if kind == "human" and DIGIT.search(norm):
            return False          # a phone number or an e-mail given: an answer (the contact questions)
        if kind == "human" and YES_LEAD.search(norm) and not TALK.search(match.group(0)):
            return False          # "yes, please have someone call me": consent to be contacted, an answer
        if kind in ("explain", "study_info"):
            if EXPLAIN_NOT.search(norm):
                return False
            # a question back beside an answer ("71, why does it matter?", "what, me? I'm 48"): the answer
            start = norm.rfind("|", 0, match.start() + 1)
            end = norm.find("|", max(match.end() - 1, start + 1))
            rest = norm[:start + 1] + norm[end:] if end >= 0 else norm[:start + 1]
            if LEADING_ANSWER.search(rest) or DIGIT.search(rest) or ANCHOR.search(rest):
                return False
            if not strong and not QUESTION_MARK.search(text):
                return False
            return True
        if answer_like and ANCHOR.search(norm) and kind in ("restart", "go_back", "stop"):
            return not LEADING_ANSWER.search(norm) and _has_frame(norm)
        if LEADING_ANSWER.search(norm) and kind != "delete_data" and kind != "human":
            return _has_frame(norm)
        return True

    def _emergency(self, norm: str) -> Reading | None:
        for cue in self.emergency:
            for m in cue.finditer(norm):
                before = norm[:m.start()]
                if NEGATED_CUE.search(before[-24:]) and not m.group(0).startswith(("no ", "not ", "don't", "can't")):
                    continue
                start = before.rfind("|")
                end = norm.find("|", m.end())
                clause = norm[start + 1:end if end >= 0 else len(norm)]
                # the part of the clause around the cue, between conjunctions ("had one in 2015 but I'm
                # having chest pain now"): a present marker there, without a past anchor, is now
                cut = m.start() - start - 1
                left = max((c.end() for c in CONJUNCTION.finditer(clause, 0, cut)), default=0)
                right = next((c.start() for c in CONJUNCTION.finditer(clause, cut + len(m.group(0)))), len(clause))
                local = clause[left:right]
                if PRESENT.search(local) and not ANCHOR.search(local):
                    return Reading("emergency", 1.0, m.group(0))
                if ANCHOR.search(norm) or PAST_CUE.search(clause):
                    continue
                return Reading("emergency", 1.0, m.group(0))
        return None


FRAME_RX = re.compile(r"(?:^|\s)" + FRAME + r"\s")


def _has_frame(norm: str) -> bool:
    return bool(FRAME_RX.search(norm))
