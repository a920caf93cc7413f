"""What staff read about one conversation, derived from its event log: the
transcript (who said what, when; a button tap shown as the choice tapped), the
answers table (from the question slots of the replayed state), every change of
an answer (old value, new value, when, how) and the contact details the patient
left. The slots come from the engine's own fold (`bot.engine.State.fold`), so
staff see what the conversation saw.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Mapping
from zoneinfo import ZoneInfo

from actions.contact_details import extract_contact
from actions.form import walk
from actions.prescreen import PENDING_SLOT
from actions.trial import Trial
from bot.db.search import payload_words
from bot.engine import State
from bot.nlu import parse_payload

PATIENT, BOT, EVENT = "patient", "bot", "event"

# how an answer came to be changed: the action that cleared it, so that the form asked it again
REVIEW, GO_BACK = "review", "go_back"
CLEARED_BY = {"action_change_answer": REVIEW, "action_go_back": GO_BACK}
HOW_WORDS = {REVIEW: "“Change answer” on the review", GO_BACK: "“Change my last answer”"}
RESETS = ("restart", "session_started")   # a new run: every answer is cleared, nothing after it is a change


@dataclass
class Change:
    """One change of a question's answer within one run of the questions: the answer it had
    (`old`) and the one it got (`new`), both slot values (`{"answers", "text", "status",
    "estimate"}`), when the new one was given, and how the old one was taken back."""

    question: str
    at: dt.datetime | None
    old: dict[str, Any]
    new: dict[str, Any]
    how: str | None = None    # REVIEW, GO_BACK, or None when the log does not say
    confirmed: bool = False   # the new reading was checked back and the patient confirmed it

    @property
    def old_answers(self) -> dict[str, Any]:
        return dict(self.old.get("answers") or {})

    @property
    def new_answers(self) -> dict[str, Any]:
        return dict(self.new.get("answers") or {})

    @property
    def answer_ids(self) -> list[str]:
        return list(dict.fromkeys([*self.old_answers, *self.new_answers]))

    @property
    def changed(self) -> bool:
        """The answers differ (False: the question was asked again and answered the same)."""
        return self.old_answers != self.new_answers or self.old.get("status") != self.new.get("status")

    @property
    def how_words(self) -> str | None:
        return HOW_WORDS.get(self.how or "")

    def describe(self) -> str:
        """One plain line, e.g. `diagnosis changed: ssc_diagnosis no -> yes (...)`."""
        parts = [f"{a} {value_words(self.old_answers.get(a))} → {value_words(self.new_answers.get(a))}"
                 for a in self.answer_ids if self.old_answers.get(a) != self.new_answers.get(a)]
        if parts:
            text = f"Answer to question {self.question} changed: " + ", ".join(parts)
        else:
            kept = ", ".join(f"{a} {value_words(v)}" for a, v in self.new_answers.items())
            text = f"Question {self.question} answered again, unchanged: {kept}"
        if self.how_words:
            text += f" (after {self.how_words})"
        if self.confirmed:
            text += "; confirmed by the patient after a check-back"
        return text + "."


@dataclass
class AnswerChange:
    """One change of one data-dictionary answer, for a row of the answers table."""

    at: dt.datetime | None
    old: Any
    new: Any
    old_words: str | None
    how: str | None
    how_words: str | None
    confirmed: bool

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass
class Line:
    """One message of the transcript."""

    at: dt.datetime | None
    speaker: str              # PATIENT or BOT, or EVENT for a marker such as a restart or a change
    text: str
    tapped: bool = False      # the patient tapped a button (text is its title)
    choices: list[str] = field(default_factory=list)   # the buttons the bot offered
    question: str | None = None                         # custom.question.id of a question message
    result: str | None = None                           # the outcome of a result message
    review: bool = False                                # the review of the answers (custom.review)
    check_back: bool = False                            # a reading checked back (custom.confirm)
    reopens: str | None = None                          # a patient message that took back this question's answer
    changed: str | None = None                          # a marker: this question's answer changed (text says how)


# how an answer's value was obtained (Answer.obtained) -> how the staff pages say it
TAPPED, TYPED_CONFIRMED, TYPED_UNCONFIRMED = "tapped", "typed_confirmed", "typed_unconfirmed"
CHANGED_IN_REVIEW, CHANGED_BY_PATIENT, CORRECTED_BY_STAFF = "changed_in_review", "changed_by_patient", "corrected_by_staff"
OBTAINED_WORDS = {
    TAPPED: "tapped",
    TYPED_CONFIRMED: "typed, confirmed by the patient",
    TYPED_UNCONFIRMED: "typed, not confirmed",
    CHANGED_IN_REVIEW: "changed in review",
    CHANGED_BY_PATIENT: "changed by the patient (“Change my last answer”)",
    CORRECTED_BY_STAFF: "corrected by staff",
}


@dataclass
class Answer:
    """One data-dictionary answer as the patient gave it (and, after a staff correction, the
    corrected value with the patient's own kept in `original`)."""

    answer_id: str
    value: Any
    words: str | None
    status: str               # "confirmed" (given), "estimate" or "unknown" (don't know)
    question: str
    checked_back: bool = False                                     # checked back and confirmed by the patient
    changes: list[AnswerChange] = field(default_factory=list)      # oldest first, within the last run
    obtained: str = TYPED_UNCONFIRMED                              # an OBTAINED_WORDS key
    original: Any = None                                           # the patient's value, once corrected by staff
    corrections: list[dict[str, Any]] = field(default_factory=list)   # staff corrections, oldest first

    @property
    def obtained_words(self) -> str:
        return OBTAINED_WORDS.get(self.obtained, self.obtained)


@dataclass
class Record:
    """A conversation as staff read it."""

    lines: list[Line]
    answers: list[Answer]
    contact: dict[str, str] | None
    slots: dict[str, Any]
    changes: dict[str, list[Change]] = field(default_factory=dict)   # question id -> its changes, oldest first


def value_words(value: Any) -> str:
    """An answer value in words, as staff read it (the pages' `staff_value` filter)."""
    if value is None:
        return "unknown"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _time(timestamp: Any, zone: ZoneInfo | None) -> dt.datetime | None:
    if not isinstance(timestamp, (int, float)):
        return None
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.astimezone(zone) if zone else moment


def _same_payload(said: str, payload: Any) -> bool:
    if not isinstance(payload, str):
        return False
    if said == payload:
        return True
    a, b = parse_payload(said), parse_payload(payload)
    return a is not None and b is not None and a.entities is not None and a == b


def tapped_title(said: str, buttons: list[dict[str, Any]]) -> str | None:
    """The title of the button whose payload the patient sent (the first that matches, the same
    payload however its JSON is spaced), or None if it was typed."""
    if not said.startswith("/"):
        return None
    for button in buttons:
        if isinstance(button, dict) and _same_payload(said, button.get("payload")):
            return str(button.get("title", ""))
    words = payload_words(said)
    if words:
        return words
    return None


def _is_answer(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("answers"), dict)


class _Reader:
    """One pass over an event log: the transcript lines and each question's changes."""

    def __init__(self, zone: ZoneInfo | None, questions: Collection[str] | None) -> None:
        self.zone, self.questions = zone, questions
        self.lines: list[Line] = []
        self.offered: list[list[dict[str, Any]]] = []     # the buttons of each bot message, oldest first
        self.seen_user = False
        self.changes: dict[str, list[Change]] = {}
        self.checked_back: dict[str, bool] = {}
        self.obtained: dict[str, str] = {}
        self._reset()

    def _reset(self) -> None:
        """A new run: nothing answered, nothing pending."""
        self.current: dict[str, Any] = {}        # question id -> its slot value now
        self.last: dict[str, dict[str, Any]] = {}   # question id -> its last answer (kept while cleared)
        self.cleared: dict[str, str | None] = {}    # question id -> how its answer was taken back
        self.pending: Any = None                  # the pending_answer slot (a reading being checked back)
        self.confirm_asked: str | None = None      # the question of the last check-back message
        self.replying_to_check: str | None = None  # the check-back the latest patient message answers
        self.action: str | None = None
        self.patient_line: Line | None = None
        self.changes = {}
        self.checked_back = {}
        self.obtained = {}

    def _question(self, name: str, value: Any) -> bool:
        if self.questions is not None:
            return name in self.questions
        return _is_answer(value) or name in self.last

    def read(self, events: Iterable[dict[str, Any]]) -> _Reader:
        for event in events:
            kind = event.get("event")
            at = _time(event.get("timestamp"), self.zone)
            if kind == "user":
                self.user(event, at)
            elif kind == "bot":
                self.bot(event, at)
            elif kind == "action":
                self.action = event.get("name") if isinstance(event.get("name"), str) else None
            elif kind == "slot" and isinstance(event.get("name"), str):
                self.slot(event["name"], event.get("value"), at)
            elif kind in RESETS:
                if kind == "restart" and self.seen_user:
                    self.lines.append(Line(at, EVENT, "The patient started over."))
                self._reset()
        return self

    def user(self, event: dict[str, Any], at: dt.datetime | None) -> None:
        said = event.get("text") if isinstance(event.get("text"), str) else ""
        buttons = [b for offered in reversed(self.offered) for b in offered]   # the latest offered first
        title = tapped_title(said, buttons)
        line = Line(at, PATIENT, title if title is not None else said, tapped=title is not None)
        self.lines.append(line)
        self.patient_line = line
        self.replying_to_check, self.confirm_asked = self.confirm_asked, None
        self.seen_user = True

    def bot(self, event: dict[str, Any], at: dt.datetime | None) -> None:
        data = event.get("data") or {}
        custom = data.get("custom") if isinstance(data.get("custom"), dict) else {}
        buttons = [b for b in data.get("buttons") or [] if isinstance(b, dict)]
        self.offered.append(buttons)
        question = custom.get("question") if isinstance(custom.get("question"), dict) else None
        result = custom.get("prescreen_result") if isinstance(custom.get("prescreen_result"), dict) else None
        check_back = isinstance(custom.get("confirm"), dict)
        if check_back and question:
            self.confirm_asked = question.get("id")
        self.lines.append(Line(at, BOT, event.get("text") or "", choices=[str(b.get("title", "")) for b in buttons],
                               question=question.get("id") if question else None,
                               result=result.get("outcome") if result else None,
                               review=isinstance(custom.get("review"), dict), check_back=check_back))

    def slot(self, name: str, value: Any, at: dt.datetime | None) -> None:
        if name == PENDING_SLOT:
            self.pending = value
            return
        if not self._question(name, value):
            return
        before = self.current.get(name)
        self.current[name] = value
        if value is None:
            if _is_answer(before):   # an answer taken back: the form asks the question again
                how = CLEARED_BY.get(self.action or "")
                self.cleared[name] = how
                if how and self.patient_line is not None:
                    self.patient_line.reopens = name
            return
        if not _is_answer(value):
            return
        confirmed = self._confirmed(name, value)
        self.checked_back[name] = confirmed
        old = self.last.get(name)
        reopened = name in self.cleared
        how = self.cleared.pop(name, None)
        self.last[name] = value
        tapped = self.patient_line is not None and self.patient_line.tapped
        # a reading checked back is confirmed with a tap ("Yes, that's right"): typed, confirmed
        self.obtained[name] = {REVIEW: CHANGED_IN_REVIEW, GO_BACK: CHANGED_BY_PATIENT}.get(how or "") or (
            TYPED_CONFIRMED if confirmed else TAPPED if tapped else TYPED_UNCONFIRMED)
        if old is None or (not reopened and old == value):
            return
        change = Change(name, at, old, value, how, confirmed)
        self.changes.setdefault(name, []).append(change)
        self.lines.append(Line(at, EVENT, change.describe(), changed=name))

    def _confirmed(self, name: str, value: dict[str, Any]) -> bool:
        """The patient answered a check-back of this question, and the reading checked back is
        the one stored (not a new reading of other words)."""
        pending = self.pending if isinstance(self.pending, dict) else {}
        parsed = pending.get("parsed") if isinstance(pending.get("parsed"), dict) else {}
        return (self.replying_to_check == name and pending.get("question") == name
                and parsed.get("answers") == value.get("answers"))


def transcript(events: Iterable[dict[str, Any]], zone: ZoneInfo | None = None,
               questions: Collection[str] | None = None) -> list[Line]:
    """The messages of an event log, in order, with a line for each changed answer.

    `questions`: the question ids (the slots that hold answers); None: any slot holding an
    answer (`{"answers": {...}, ...}`)."""
    return _Reader(zone, questions).read(events).lines


def answer_changes(events: Iterable[dict[str, Any]], zone: ZoneInfo | None = None,
                   questions: Collection[str] | None = None) -> dict[str, list[Change]]:
    """Question id -> its changes in the conversation's last run (since the last restart),
    oldest first: each time its answer got a new value after an earlier one."""
    return _Reader(zone, questions).read(events).changes


def answers(trial: Trial, slots: dict[str, Any], changes: Mapping[str, list[Change]] | None = None,
            checked_back: Mapping[str, bool] | None = None, obtained: Mapping[str, str] | None = None) -> list[Answer]:
    """The answers of the questions that apply, in question order (with their changes, whether
    the patient confirmed them after a check-back and how each was obtained, when given)."""
    rows: list[Answer] = []
    changes = changes or {}
    checked_back = checked_back or {}
    obtained = obtained or {}
    for step in walk(trial, slots):
        if step.applies is not True or step.answer is None:
            continue
        given = step.answer
        qid = step.question.id
        for answer_id, value in (given.get("answers") or {}).items():
            if given.get("status") == "unknown" or value is None:
                status = "unknown"
            elif given.get("estimate"):
                status = "estimate"
            else:
                status = "confirmed"
            history = [AnswerChange(c.at, c.old_answers.get(answer_id), c.new_answers.get(answer_id),
                                    c.old.get("text"), c.how, c.how_words, c.confirmed)
                       for c in changes.get(qid, []) if answer_id in c.answer_ids]
            rows.append(Answer(answer_id, value, given.get("text"), status, qid,
                               checked_back=bool(checked_back.get(qid)), changes=history,
                               obtained=obtained.get(qid, TYPED_UNCONFIRMED)))
    return rows


@dataclass
class CriterionRow:
    """One criterion of a stored result as staff read it: the stored fields, and its reason in
    English whatever the conversation's language."""

    id: str
    kind: str
    verdict: str
    until: str | None
    answers: dict[str, Any]
    reason: str                 # English (see criteria_rows)
    stored_reason: str          # as the patient read it, in their language
    derived: bool               # reason comes from the criteria file (else: the stored English reason)


def english_reason(trial: Trial, criterion: Mapping[str, Any]) -> str | None:
    """The English reason for a stored result's criterion, from its id and verdict with the English
    trial (a washout's "unknown" because the medicine is still taken: its `current` reason);
    None when the criteria file has no such criterion or no reason for that verdict."""
    found = next((c for _, c in trial.for_language("en").criteria() if c.id == criterion.get("id")), None)
    if found is None:
        return None
    reasons, verdict = found.reasons, criterion.get("verdict")
    if verdict == "unknown" and found.washout is not None and reasons.current \
            and (criterion.get("answers") or {}).get(found.washout.answer) == "current":
        return reasons.current
    return {"pass": reasons.pass_, "fail": reasons.fail, "wait": reasons.wait,
            "unknown": reasons.unknown}.get(str(verdict))


def criteria_rows(trial: Trial, result: Mapping[str, Any] | None) -> list[CriterionRow]:
    """The criteria of a stored result with English reasons: derived from the criterion id and
    verdict with the English trial (the stored `reason` is in the patient's language); when the
    criteria file has no reason for it (a criterion removed since), an English result keeps its
    stored reason, any other has none ("") and the page says so."""
    rows = []
    english_result = (result or {}).get("language") in (None, "en")
    for criterion in (result or {}).get("criteria") or []:
        if not isinstance(criterion, Mapping):
            continue
        stored = str(criterion.get("reason") or "")
        reason = english_reason(trial, criterion)
        rows.append(CriterionRow(
            id=str(criterion.get("id", "")), kind=str(criterion.get("kind", "")),
            verdict=str(criterion.get("verdict", "")), until=criterion.get("until"),
            answers=dict(criterion.get("answers") or {}),
            reason=reason if reason is not None else (stored if english_result else ""),
            stored_reason=stored, derived=reason is not None))
    return rows


def answer_values(trial: Trial, slots: dict[str, Any]) -> dict[str, Any]:
    """Data-dictionary answer id -> value for the answers given (unknown = None)."""
    return {a.answer_id: a.value for a in answers(trial, slots)}


def contact_of(slots: dict[str, Any]) -> dict[str, str] | None:
    """The name and phone or e-mail the patient left, if they asked to be contacted."""
    if not slots.get("contact_requested"):
        return None
    details = str(slots.get("contact_details") or "")
    found = extract_contact(details)
    return {"name": str(slots.get("contact_name") or ""), "details": found.shown if found else details,
            "link": found.link if found else "", "note": str(slots.get("contact_note") or "")}


def record(trial: Trial, events: list[dict[str, Any]], zone: ZoneInfo | None = None, *,
           initial: Mapping[str, Any]) -> Record:
    """Transcript, answers (with their changes), changes and contact details of a conversation.

    The slots are the engine's fold of the events (`State.fold`) from `initial`,
    the slot values a conversation starts with and a restart goes back to
    (`bot.engine.initial_slots(dialogue)`).
    """
    slots = State.fold(events, initial).slots
    reader = _Reader(zone, trial.questions_by_id).read(events)
    return Record(reader.lines, answers(trial, slots, reader.changes, reader.checked_back, reader.obtained),
                  contact_of(slots), slots, reader.changes)
