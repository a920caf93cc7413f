"""The coordinator's work on conversations (issue 16): the work queue, follow-up with an owner and
dates, contact attempts, "to check" items ticked off, and staff corrections of answers.

A correction keeps the patient's value (the event log is never changed; the `corrections` table
holds the original, the new value, who, when and why) and re-evaluates the result as of the
conversation's own date (the stored result's `today`): the summary row's result and outcome become
the re-evaluated ones, and the result before each correction is kept on its row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, replace
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from actions.evaluator import evaluate
from actions.form import estimates, merged_answers
from actions.qtypes.last_dose import LAST_DOSE_WORDS
from actions.trial import Trial, check_answer_value
from bot.db.schema import (as_utc, check_items, contact_attempts, conversations, corrections, followups, now_utc,
                           result_criteria)
from bot.jsoncodec import loads
from bot.staff.queries import LANGUAGES, OUTCOMES, STATUSES, parse_date
from bot.staff.transcript import CORRECTED_BY_STAFF, Answer, Record, contact_of, criteria_rows, value_words
from bot.store import CONTACT_REQUESTED, NEEDS_PERSON, not_passed

# follow-up statuses after which a conversation leaves the queue (unless asked for)
CLOSED_STATUSES = ("enrolled", "not_a_fit", "could_not_reach")
OPEN_STATUSES = tuple(s for s in STATUSES if s not in CLOSED_STATUSES)

ATTEMPT_METHODS = {"phone": "Phone call", "text": "Text message", "email": "E-mail", "letter": "Letter",
                   "in_person": "In person"}
ATTEMPT_RESULTS = {"reached": "Reached the patient", "left_message": "Left a message", "no_answer": "No answer",
                   "wrong_number": "Wrong number or address", "declined": "Patient declined"}

UNKNOWN = "unknown"   # a correction's "don't know"
LAST_DOSE_DATE = "date"
LAST_DOSE_CHOICES = {LAST_DOSE_DATE: "A date", "never": "Never taken", "current": "Still taking it",
                     "not_recent": "Longer ago than the washout", UNKNOWN: "Does not know"}
NOTE_MAX = 5000


class WorkError(ValueError):
    """A follow-up, attempt, tick or correction that cannot be saved; the message says why."""


def item_key(text: str) -> str:
    """The key of a "to check" item: the SHA-256 of its text (a tick follows its item, not its place)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def optional_date(value: str | None, label: str) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return parse_date(value)
    except ValueError:
        raise WorkError(f"{label} {value!r} is not a date (YYYY-MM-DD).") from None


def note_of(value: str | None) -> str | None:
    note = (value or "").strip()
    if len(note) > NOTE_MAX:
        raise WorkError(f"The note is longer than {NOTE_MAX} characters.")
    return note or None


# -- the queue -----------------------------------------------------------------------------

QUEUE_OUTCOMES = {key: OUTCOMES[key] for key in OUTCOMES if key in NEEDS_PERSON}


@dataclass(frozen=True)
class QueueFilters:
    """What the work queue is narrowed to."""

    owner: str = ""           # "" anyone, "me", "nobody", or a user name
    reason: str = ""          # "" any, an outcome of QUEUE_OUTCOMES, or CONTACT_REQUESTED
    language: str = ""
    closed: bool = False      # also the conversations whose follow-up is closed

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> tuple["QueueFilters", list[str]]:
        problems = []
        owner = (args.get("owner") or "").strip()[:64]
        reason = (args.get("reason") or "").strip()
        if reason and reason not in QUEUE_OUTCOMES and reason != CONTACT_REQUESTED:
            problems.append(f"Unknown reason {reason!r}.")
            reason = ""
        language = (args.get("language") or "").strip()
        if language and language not in LANGUAGES:
            problems.append(f"Unknown language {language!r}.")
            language = ""
        closed = (args.get("closed") or "").strip().lower() in ("1", "yes", "on", "true")
        return cls(owner, reason, language, closed), problems

    def as_args(self) -> dict[str, str]:
        args = {"owner": self.owner, "reason": self.reason, "language": self.language,
                "closed": "yes" if self.closed else ""}
        return {k: v for k, v in args.items() if v}


def needs_person():
    """The SQL condition: the conversation needs a person of the study team."""
    c = conversations.c
    return and_(c.needs_person_since.isnot(None), or_(c.outcome.in_(NEEDS_PERSON), c.contact_requested.is_(True)))


def queue_condition(filters: QueueFilters, me: str):
    c = conversations.c
    conditions = [needs_person()]
    if not filters.closed:
        conditions.append(c.status.in_(OPEN_STATUSES))
    if filters.owner == "me":
        conditions.append(c.owner == me)
    elif filters.owner == "nobody":
        conditions.append(c.owner.is_(None))
    elif filters.owner:
        conditions.append(c.owner == filters.owner)
    if filters.reason == CONTACT_REQUESTED:
        conditions.append(c.contact_requested.is_(True))
    elif filters.reason:
        conditions.append(c.outcome == filters.reason)
    if filters.language:
        conditions.append(c.language == filters.language)
    return and_(*conditions)


@dataclass
class QueuePage:
    rows: list[dict[str, Any]]
    number: int
    per_page: int
    total: int
    mine: int
    nobody: int
    overdue: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


QUEUE_COLUMNS = (conversations.c.id, conversations.c.reference, conversations.c.started_at,
                 conversations.c.needs_person_since, conversations.c.outcome, conversations.c.eligible_from,
                 conversations.c.contact_requested, conversations.c.status, conversations.c.owner,
                 conversations.c.next_action_on, conversations.c.visit_on, conversations.c.language)


def queue_page(conn: Connection, filters: QueueFilters, me: str, today: dt.date, zone: ZoneInfo,
               page: int = 1, per_page: int = 50) -> QueuePage:
    """The conversations that need a person, oldest first, one page, with the counts the page shows
    (all in the filtered queue, mine, nobody's, next action overdue). Each row also has the contact
    the patient left, the open "to check" items and the days waiting."""
    c = conversations.c
    condition = queue_condition(filters, me)
    totals = conn.execute(select(
        func.count(),
        func.coalesce(func.sum(case((c.owner == me, 1), else_=0)), 0),
        func.coalesce(func.sum(case((c.owner.is_(None), 1), else_=0)), 0),
        func.coalesce(func.sum(case((c.next_action_on < today, 1), else_=0)), 0),
    ).select_from(conversations).where(condition)).one()
    total = int(totals[0])
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = [dict(r) for r in conn.execute(
        select(*QUEUE_COLUMNS).where(condition).order_by(c.needs_person_since, c.id)
        .limit(per_page).offset((page - 1) * per_page)).mappings()]
    ids = [r["id"] for r in rows]
    details = {r["id"]: r for r in conn.execute(
        select(c.id, c.result, c.state).where(c.id.in_(ids))).mappings()} if ids else {}
    done = ticked(conn, ids)
    for row in rows:
        detail = details.get(row["id"]) or {}
        state = detail.get("state")
        slots = (loads(state).get("slots") or {}) if state else {}   # (a row stored before snapshots: none)
        row["contact"] = contact_of(slots)
        result = detail.get("result") or {}
        open_items = [t for t in result.get("to_check") or [] if item_key(t) not in done.get(row["id"], set())]
        row["to_check"] = open_items
        since = as_utc(row["needs_person_since"])
        row["days_waiting"] = (today - since.astimezone(zone).date()).days if since else None
    return QueuePage(rows, page, per_page, total, int(totals[1]), int(totals[2]), int(totals[3]))


def ticked(conn: Connection, ids: list[str]) -> dict[str, set[str]]:
    """Conversation id -> the keys of its "to check" items ticked as done."""
    found: dict[str, set[str]] = {}
    if not ids:
        return found
    for cid, key in conn.execute(select(check_items.c.conversation_id, check_items.c.item_key)
                                 .where(check_items.c.conversation_id.in_(ids), check_items.c.done.is_(True))):
        found.setdefault(cid, set()).add(key)
    return found


# -- one conversation's work ---------------------------------------------------------------

@dataclass
class CheckItem:
    """A "to check" item of the result, with the answers it is about and whether staff ticked it."""

    key: str
    text: str
    answers: list[Answer]
    done: bool = False
    note: str | None = None
    actor: str | None = None
    at: dt.datetime | None = None


def check_list(trial: Trial, result: Mapping[str, Any] | None, answers: list[Answer],
               ticks: Mapping[str, Mapping[str, Any]]) -> list[CheckItem]:
    """The result's "to check" items (English), each with the answers it concerns (the criterion
    whose English reason it is: the answers that criterion used; an estimated date: its answer)."""
    by_id = {a.answer_id: a for a in answers}
    reasons = {}
    for row in criteria_rows(trial, result):
        reasons.setdefault(row.reason, list(row.answers))
    english = trial.for_language("en").answers
    items = []
    for text in (result or {}).get("to_check") or []:
        used = reasons.get(text) or [a for a, spec in english.items() if text.startswith(spec.label + ":")]
        tick = ticks.get(item_key(text)) or {}
        items.append(CheckItem(item_key(text), text, [by_id[a] for a in used if a in by_id],
                               bool(tick.get("done")), tick.get("note"), tick.get("actor"), tick.get("at")))
    return items


def ticks_of(conn: Connection, conversation_id: str) -> dict[str, dict[str, Any]]:
    return {r["item_key"]: dict(r) for r in conn.execute(
        select(check_items).where(check_items.c.conversation_id == conversation_id)).mappings()}


def tick(conn: Connection, conversation_id: str, key: str, item: str, done: bool, note: str | None,
         actor: str) -> None:
    """Tick (or untick) a "to check" item, with an optional note; the latest tick stands."""
    conn.execute(delete(check_items).where(check_items.c.conversation_id == conversation_id,
                                           check_items.c.item_key == key))
    conn.execute(insert(check_items).values(conversation_id=conversation_id, item_key=key, item=item, done=done,
                                            note=note, actor=actor, at=now_utc()))


def attempts_of(conn: Connection, conversation_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(contact_attempts).where(
        contact_attempts.c.conversation_id == conversation_id).order_by(contact_attempts.c.at, contact_attempts.c.id))
        .mappings()]


def add_attempt(conn: Connection, conversation_id: str, at: dt.datetime, method: str, result: str,
                note: str | None, actor: str) -> None:
    if method not in ATTEMPT_METHODS:
        raise WorkError(f"Unknown way of contact {method!r}.")
    if result not in ATTEMPT_RESULTS:
        raise WorkError(f"Unknown result {result!r}.")
    if at > now_utc() + dt.timedelta(minutes=5):
        raise WorkError("A contact attempt cannot be in the future.")
    conn.execute(insert(contact_attempts).values(conversation_id=conversation_id, at=at.astimezone(dt.timezone.utc),
                                                 recorded_at=now_utc(),
                                                 actor=actor, method=method, result=result, note=note))


def corrections_of(conn: Connection, conversation_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(corrections).where(
        corrections.c.conversation_id == conversation_id).order_by(corrections.c.id)).mappings()]


def with_corrections(answers: list[Answer], rows: list[dict[str, Any]]) -> list[Answer]:
    """The answers as corrected by staff: the latest corrected value, the patient's original kept."""
    answers = [replace(a, corrections=[]) for a in answers]
    by_id = {a.answer_id: a for a in answers}
    for row in rows:
        answer = by_id.get(row["answer_id"])
        if answer is None:
            continue
        if answer.obtained != CORRECTED_BY_STAFF:
            answer.original = answer.value
        answer.value = row["value"]
        answer.obtained = CORRECTED_BY_STAFF
        answer.status = UNKNOWN if row["value"] is None else "confirmed"
        answer.corrections.append(row)
    return answers


def parse_value(trial: Trial, answer_id: str, form: Mapping[str, Any]) -> Any:
    """A corrected value from the correction form: `value` (and `date` for a last dose given as a date)."""
    spec = trial.answers.get(answer_id)
    if spec is None:
        raise WorkError(f"There is no answer {answer_id!r} in the criteria file.")
    raw = str(form.get("value") or "").strip()
    if raw == UNKNOWN:
        return None
    if not raw:
        raise WorkError("Choose or type the corrected value.")
    if spec.type == "boolean":
        value: Any = {"yes": True, "no": False}.get(raw)
        if value is None:
            raise WorkError("The value must be yes, no or does not know.")
    elif spec.type == "integer":
        try:
            value = int(raw)
        except ValueError:
            raise WorkError(f"{raw[:40]!r} is not a whole number.") from None
    elif spec.type == "last_dose" and raw == LAST_DOSE_DATE:
        value = str(form.get("date") or "").strip()
        if not value:
            raise WorkError("Give the date of the last dose.")
    else:
        value = raw
    problem = check_answer_value(trial, answer_id, value)
    if problem:
        raise WorkError(f"{spec.label}: {problem}.")
    return value


def correct(conn: Connection, trial: Trial, conversation_id: str, record: Record, answer_id: str, value: Any,
            reason: str, actor: str) -> tuple[str | None, str]:
    """Store a staff correction and re-evaluate the result as of the conversation's date.
    Returns (outcome before, outcome after)."""
    reason = (reason or "").strip()
    if not reason:
        raise WorkError("Say why the answer is corrected.")
    if len(reason) > NOTE_MAX:
        raise WorkError(f"The reason is longer than {NOTE_MAX} characters.")
    c = conversations.c
    row = conn.execute(select(c.result, c.outcome, c.started_at).where(c.id == conversation_id)).mappings().first()
    if row is None:
        raise WorkError("There is no conversation with this id.")
    if not row["result"]:
        raise WorkError("Answers can be corrected once the patient has a result.")
    earlier = corrections_of(conn, conversation_id)
    answers = with_corrections(record.answers, earlier)
    given = next((a for a in answers if a.answer_id == answer_id), None)
    if given is None:
        raise WorkError(f"The patient gave no answer {answer_id!r} to correct.")
    if given.value == value:
        raise WorkError("That is the value it has already.")
    original = given.original if given.obtained == CORRECTED_BY_STAFF else given.value
    values = merged_corrections(trial, record, earlier)
    values[answer_id] = value
    result = reevaluate(trial, record, values, row["result"], [r["answer_id"] for r in earlier] + [answer_id],
                        actor)
    conn.execute(insert(corrections).values(
        conversation_id=conversation_id, answer_id=answer_id, original=original, value=value, reason=reason,
        actor=actor, at=now_utc(), outcome_before=row["outcome"], outcome_after=result["outcome"],
        result_before=row["result"]))
    store_result(conn, conversation_id, result)
    return row["outcome"], result["outcome"]


def merged_corrections(trial: Trial, record: Record, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Answer id -> value of every answer the patient gave (questions that apply), with staff
    corrections over them."""
    values = merged_answers(trial, record.slots)
    for r in rows:
        values[r["answer_id"]] = r["value"]
    return values


def reevaluate(trial: Trial, record: Record, values: Mapping[str, Any], stored: Mapping[str, Any],
               corrected: list[str], actor: str) -> dict[str, Any]:
    """The result for these answers as of the stored result's date, in the stored result's language
    (its "to check" list in English, as the bot stores it: staff read it); a corrected answer is no
    longer the patient's estimate."""
    as_of = dt.date.fromisoformat(stored["today"])
    rough = [a for a in estimates(trial, record.slots) if a not in corrected]
    language = stored.get("language") if stored.get("language") in trial.languages else "en"
    result = dict(evaluate(trial.for_language(language), values, as_of, rough))
    if language != "en":
        result["to_check"] = evaluate(trial.for_language("en"), values, as_of, rough)["to_check"]
    for key in ("reference", "language"):
        if key in stored:
            result[key] = stored[key]
    result["re_evaluated"] = {"by": actor, "at": now_utc().isoformat(), "as_of": as_of.isoformat(),
                              "corrected": list(dict.fromkeys(corrected))}
    return result


def store_result(conn: Connection, conversation_id: str, result: dict[str, Any]) -> None:
    """The summary row's result after a correction, and what hangs off it (result_criteria, the queue)."""
    c = conversations.c
    values: dict[str, Any] = {"result": result, "outcome": result["outcome"],
                              "eligible_from": dt.date.fromisoformat(result["eligible_from"])
                              if result.get("eligible_from") else None}
    conn.execute(update(conversations).where(c.id == conversation_id).values(**values))
    if result["outcome"] in NEEDS_PERSON:
        conn.execute(update(conversations).where(c.id == conversation_id, c.needs_person_since.is_(None))
                     .values(needs_person_since=now_utc()))
    conn.execute(delete(result_criteria).where(result_criteria.c.conversation_id == conversation_id))
    verdicts = not_passed(result)
    if verdicts:
        started = conn.execute(select(c.started_at).where(c.id == conversation_id)).scalar_one()
        conn.execute(insert(result_criteria), [{"conversation_id": conversation_id, "criterion_id": k,
                                               "verdict": v, "started_at": started} for k, v in verdicts.items()])


def todays_view(trial: Trial, record: Record, result: Mapping[str, Any] | None,
                rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The result as of today, when a washout date of the stored result has passed since its date
    (None otherwise): what staff would tell the patient now."""
    if not result or not result.get("today"):
        return None
    today = trial.today()
    untils = [c.get("until") for c in result.get("criteria") or [] if c.get("until")]
    if not any(dt.date.fromisoformat(u) <= today for u in untils):
        return None
    values = merged_corrections(trial, record, rows)
    return dict(evaluate(trial.for_language("en"), values, today,
                         [a for a in estimates(trial, record.slots) if a not in {r["answer_id"] for r in rows}]))


# -- follow-up ---------------------------------------------------------------------------

@dataclass
class FollowUp:
    status: str
    owner: str | None
    next_action_on: dt.date | None
    visit_on: dt.date | None
    note: str | None = None


def save_follow_up(conn: Connection, conversation_id: str, wanted: FollowUp, actor: str,
                   staff: list[str]) -> list[str]:
    """Record a follow-up change; returns what changed (field names, for the audit), [] if nothing."""
    if wanted.status not in STATUSES:
        raise WorkError(f"Unknown follow-up status {wanted.status!r}.")
    if wanted.owner and wanted.owner not in staff:
        raise WorkError(f"{wanted.owner!r} is not an active staff user.")
    c = conversations.c
    now = conn.execute(select(c.status, c.owner, c.next_action_on, c.visit_on)
                       .where(c.id == conversation_id)).mappings().first()
    if now is None:
        raise WorkError("There is no conversation with this id.")
    fields = {"status": wanted.status, "owner": wanted.owner or None, "next_action_on": wanted.next_action_on,
              "visit_on": wanted.visit_on}
    changed = [k for k, v in fields.items() if now[k] != v]
    if not changed and not wanted.note:
        return []
    conn.execute(insert(followups).values(conversation_id=conversation_id, at=now_utc(), actor=actor,
                                          status=wanted.status, previous_status=now["status"], note=wanted.note,
                                          owner=fields["owner"], next_action_on=fields["next_action_on"],
                                          visit_on=fields["visit_on"]))
    if changed:
        conn.execute(update(conversations).where(c.id == conversation_id).values(**{k: fields[k] for k in changed}))
    return changed + (["note"] if wanted.note else [])


def describe_value(value: Any) -> str:
    """A corrected or original value as staff read it."""
    return LAST_DOSE_CHOICES.get(value, value_words(value)) if isinstance(value, str) and value in LAST_DOSE_WORDS \
        else value_words(value)

