"""What staff read about one conversation, derived from its event log: the
transcript (who said what, when; a button tap shown as the choice tapped), the
answers table (from the question slots of the replayed state) and the contact
details the patient left. The slots come from the engine's own fold
(`bot.engine.State.fold`), so staff see what the conversation saw.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from actions.form import walk
from actions.trial import Trial
from bot.db.search import payload_words
from bot.engine import State

PATIENT, BOT = "patient", "bot"


@dataclass
class Line:
    """One message of the transcript."""

    at: dt.datetime | None
    speaker: str              # PATIENT or BOT, or "event" for a marker such as a restart
    text: str
    tapped: bool = False      # the patient tapped a button (text is its title)
    choices: list[str] = field(default_factory=list)   # the buttons the bot offered
    question: str | None = None                         # custom.question.id of a question message
    result: str | None = None                           # the outcome of a result message


@dataclass
class Answer:
    """One data-dictionary answer as the patient gave it."""

    answer_id: str
    value: Any
    words: str | None
    status: str               # "confirmed", "estimate" or "unknown"
    question: str


@dataclass
class Record:
    """A conversation as staff read it."""

    lines: list[Line]
    answers: list[Answer]
    contact: dict[str, str] | None
    slots: dict[str, Any]


def _time(timestamp: Any, zone: ZoneInfo | None) -> dt.datetime | None:
    if not isinstance(timestamp, (int, float)):
        return None
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.astimezone(zone) if zone else moment


def tapped_title(said: str, buttons: list[dict[str, Any]]) -> str | None:
    """The title of the button whose payload the patient sent, or None if it was typed."""
    if not said.startswith("/"):
        return None
    for button in buttons:
        if isinstance(button, dict) and button.get("payload") == said:
            return str(button.get("title", ""))
    words = payload_words(said)
    if words:
        return words
    return None


def transcript(events: Iterable[dict[str, Any]], zone: ZoneInfo | None = None) -> list[Line]:
    """The messages of an event log, in order."""
    lines: list[Line] = []
    buttons: list[dict[str, Any]] = []
    seen_user = False
    for event in events:
        kind = event.get("event")
        at = _time(event.get("timestamp"), zone)
        if kind == "user":
            said = event.get("text") if isinstance(event.get("text"), str) else ""
            title = tapped_title(said, buttons)
            lines.append(Line(at, PATIENT, title if title is not None else said, tapped=title is not None))
            seen_user = True
        elif kind == "bot":
            data = event.get("data") or {}
            custom = data.get("custom") or {}
            buttons = [b for b in data.get("buttons") or [] if isinstance(b, dict)]
            question = custom.get("question") if isinstance(custom.get("question"), dict) else None
            result = custom.get("prescreen_result") if isinstance(custom.get("prescreen_result"), dict) else None
            lines.append(Line(at, BOT, event.get("text") or "", choices=[str(b.get("title", "")) for b in buttons],
                              question=question.get("id") if question else None,
                              result=result.get("outcome") if result else None))
        elif kind == "restart" and seen_user:
            lines.append(Line(at, "event", "The patient started over."))
    return lines


def answers(trial: Trial, slots: dict[str, Any]) -> list[Answer]:
    """The answers of the questions that apply, in question order."""
    rows: list[Answer] = []
    for step in walk(trial, slots):
        if step.applies is not True or step.answer is None:
            continue
        given = step.answer
        for answer_id, value in (given.get("answers") or {}).items():
            if given.get("status") == "unknown" or value is None:
                status = "unknown"
            elif given.get("estimate"):
                status = "estimate"
            else:
                status = "confirmed"
            rows.append(Answer(answer_id, value, given.get("text"), status, step.question.id))
    return rows


def answer_values(trial: Trial, slots: dict[str, Any]) -> dict[str, Any]:
    """Data-dictionary answer id -> value for the answers given (unknown = None)."""
    return {a.answer_id: a.value for a in answers(trial, slots)}


def contact_of(slots: dict[str, Any]) -> dict[str, str] | None:
    """The name and phone or e-mail the patient left, if they asked to be contacted."""
    if not slots.get("contact_requested"):
        return None
    return {"name": str(slots.get("contact_name") or ""), "details": str(slots.get("contact_details") or "")}


def record(trial: Trial, events: list[dict[str, Any]], zone: ZoneInfo | None = None, *,
           initial: Mapping[str, Any]) -> Record:
    """Transcript, answers and contact details of a conversation.

    The slots are the engine's fold of the events (`State.fold`) from `initial`,
    the slot values a conversation starts with and a restart goes back to
    (`bot.engine.initial_slots(dialogue)`).
    """
    slots = State.fold(events, initial).slots
    return Record(transcript(events, zone), answers(trial, slots), contact_of(slots), slots)
