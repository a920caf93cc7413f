"""Exports of the filtered conversations: CSV (one row per conversation, one
column per data-dictionary answer id), JSON (full transcripts and results), and,
through `bot.staff.redcap` and `bot.staff.fhir`, REDCap (a data dictionary and
its records) and FHIR R4 (a Questionnaire and a Bundle of QuestionnaireResponses).

Every format is a generator of text chunks, so that a large export streams
(`export_chunks` picks the format). CSV cells that a spreadsheet could run as a
formula (starting with = + - @, a tab or a carriage return) get a leading
apostrophe. Every time is ISO 8601 in the site's zone, with its offset
(`2026-11-25T08:10:00-08:00`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from actions.trial import Trial
from bot.dialogue import Dialogue
from bot.engine import initial_slots
from bot.db.schema import as_utc, conversations, corrections, events, followups, now_utc
from bot.staff import fhir, redcap
from bot.staff.queries import Filters, filtered_ids
from bot.staff.transcript import CORRECTED_BY_STAFF, record
from bot.staff.work import with_corrections

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SUMMARY_COLUMNS = ("conversation_id", "reference", "started_at", "last_activity", "completed", "current_question",
                   "outcome", "eligible_from", "status", "contact_requested", "contact_name", "contact_details",
                   "contact_note", "criteria_version", "language")


def neutralise(cell: Any) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if cell is None else str(cell)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_value(value: Any) -> str:
    """An answer value as CSV text: true/false, unknown for null, ISO dates."""
    if value is None:
        return "unknown"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def site_time(value: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    """A stored time (UTC; SQLite gives it back naive) as an aware time in the site's zone."""
    return None if value is None else as_utc(value).astimezone(zone)


def _iso(value: Any, zone: ZoneInfo) -> str | None:
    """A time as ISO 8601 in the site's zone with its offset; a date as YYYY-MM-DD."""
    if isinstance(value, dt.datetime):
        return site_time(value, zone).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def answer_values_for(item: dict[str, Any]) -> dict[str, Any]:
    """Data-dictionary answer id -> the value every export gives for it (None: "don't know"; an id
    not in the mapping: not asked). The one place the exports read answer values: the record's
    answers with staff corrections applied (`conversations_with_events`; the patient's own value
    stays in the JSON export's `original`)."""
    return {a.answer_id: a.value for a in item["record"].answers}


def audit_detail(filters: Filters) -> str:
    """The filters of an export for the audit log: never the words searched for (they may be what a
    patient wrote about their health), only that there was a search."""
    if not filters.query:
        return filters.describe()
    rest = replace(filters, query="")
    others = rest.describe() if rest.describe() != Filters().describe() else ""
    return "; ".join(part for part in (others, "search (words not recorded)") if part)


def conversations_with_events(engine: Engine, trial: Trial, filters: Filters, zone: ZoneInfo,
                              dialogue: Dialogue, batch: int = 200) -> Iterator[dict[str, Any]]:
    """Each filtered conversation (newest first): its summary row, record (slots folded exactly as
    the engine folds them, from the dialogue's initial values; its times in `zone`) and follow-up
    history."""
    initial = initial_slots(dialogue)
    with engine.connect() as conn:
        for ids in filtered_ids(conn, filters, zone, batch):
            rows = {r["id"]: dict(r) for r in conn.execute(
                select(conversations).where(conversations.c.id.in_(ids))).mappings()}
            logs: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
            for sender, data in conn.execute(select(events.c.conversation_id, events.c.data)
                                             .where(events.c.conversation_id.in_(ids))
                                             .order_by(events.c.conversation_id, events.c.seq)):
                logs[sender].append(json.loads(data))
            history: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
            for row in conn.execute(select(followups).where(followups.c.conversation_id.in_(ids))
                                    .order_by(followups.c.id)).mappings():
                history[row["conversation_id"]].append(
                    {"at": _iso(row["at"], zone), "by": row["actor"], "status": row["status"], "note": row["note"]})
            fixes: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
            for row in conn.execute(select(corrections).where(corrections.c.conversation_id.in_(ids))
                                    .order_by(corrections.c.id)).mappings():
                fixes[row["conversation_id"]].append(dict(row))
            for sender in ids:
                if sender not in rows:
                    continue  # deleted meanwhile
                rec = record(trial, logs[sender], zone, initial=initial)
                rec.answers = with_corrections(rec.answers, fixes[sender])
                yield {"summary": rows[sender], "record": rec, "followups": history[sender]}


def csv_header(trial: Trial) -> list[str]:
    return list(SUMMARY_COLUMNS) + list(trial.answers)


def csv_chunks(items: Iterator[dict[str, Any]], trial: Trial) -> Iterator[str]:
    """The CSV export, a chunk of rows at a time."""
    zone = trial.zone
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_header(trial))
    for n, item in enumerate(items, 1):
        s, rec = item["summary"], item["record"]
        given = answer_values_for(item)
        contact = rec.contact or {}
        row = [s["id"], s.get("reference"), _iso(s["started_at"], zone), _iso(s["last_activity"], zone),
               "true" if s["completed"] else "false",
               s["current_question"], s["outcome"], _iso(s["eligible_from"], zone), s["status"],
               "true" if s["contact_requested"] else "false", contact.get("name"), contact.get("details"),
               contact.get("note"), s["criteria_version"], s.get("language") or "en"]
        row += [csv_value(given[a]) if a in given else "" for a in trial.answers]
        writer.writerow([neutralise(cell) for cell in row])
        if n % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_item(item: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """One conversation in the JSON export (its record's times are already in `zone`)."""
    s, rec = item["summary"], item["record"]
    values = answer_values_for(item)
    return {
        "id": s["id"], "reference": s.get("reference"), "trial_id": s["trial_id"], "criteria_version": s["criteria_version"],
        "started_at": _iso(s["started_at"], zone), "last_activity": _iso(s["last_activity"], zone), "turns": s["turns"],
        "completed": bool(s["completed"]), "current_question": s["current_question"], "outcome": s["outcome"],
        "eligible_from": _iso(s["eligible_from"], zone), "contact_requested": bool(s["contact_requested"]),
        "status": s["status"], "language": s.get("language") or "en", "contact": rec.contact,
        "answers": {a.answer_id: {"value": values.get(a.answer_id, a.value), "words": a.words, "status": a.status, "question": a.question,
                                  "checked_back": a.checked_back, "obtained": a.obtained,
                                  **({"original": a.original} if a.obtained == CORRECTED_BY_STAFF else {}),
                                  "changes": [{"at": _iso(c.at, zone), "old": c.old, "new": c.new,
                                               "how": c.how, "confirmed": c.confirmed} for c in a.changes]}
                    for a in rec.answers},
        "result": s["result"],
        "followups": item["followups"],
        "transcript": [{"at": _iso(line.at, zone), "from": line.speaker, "text": line.text,
                        **({"tapped": True} if line.tapped else {}),
                        **({"choices": line.choices} if line.choices else {})} for line in rec.lines],
    }


def json_chunks(items: Iterator[dict[str, Any]], filters: Filters, zone: ZoneInfo) -> Iterator[str]:
    """The JSON export: {"exported_at", "filters", "conversations": [...], "count"}, streamed."""
    head = {"exported_at": _iso(now_utc(), zone), "filters": filters.as_args()}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "conversations": [\n'
    count = 0
    for item in items:
        yield ("" if count == 0 else ",\n") + json.dumps(json_item(item, zone), ensure_ascii=False)
        count += 1
    yield f'\n], "count": {count}}}\n'


# -- REDCap and FHIR -------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportRow:
    """One conversation as the REDCap and FHIR exports read it: its reference code and never its
    id (the id is the conversation's credential), its times in the site's zone, its answers."""

    reference: str
    criteria_version: str | None
    language: str
    started_at: dt.datetime            # aware, in the site's zone
    last_activity: dt.datetime         # aware, in the site's zone
    completed: bool
    outcome: str | None
    eligible_from: dt.date | None
    answers: dict[str, Any]            # answer id -> value (None: don't know); absent: not asked


def export_rows(items: Iterator[dict[str, Any]], trial: Trial) -> Iterator[ExportRow]:
    """The filtered conversations of this trial (a REDCap project or a FHIR Questionnaire is one
    trial's: a conversation stored under another trial id has no place in it). A conversation
    without a reference code is left out: REDCap needs a record id and the conversation id must
    not stand in for it (the store gives every conversation one, migration 0003 gave the older
    ones theirs; only rows written around the store, such as the seeder's, lack one)."""
    zone = trial.zone
    for item in items:
        s = item["summary"]
        if s["trial_id"] != trial.id or not s.get("reference"):
            continue
        yield ExportRow(reference=s["reference"], criteria_version=s["criteria_version"],
                        language=s.get("language") or "en", started_at=site_time(s["started_at"], zone),
                        last_activity=site_time(s["last_activity"], zone), completed=bool(s["completed"]),
                        outcome=s["outcome"], eligible_from=s["eligible_from"], answers=answer_values_for(item))


@dataclass(frozen=True)
class Format:
    """An export format: its file's type and name, whether it is made of conversations (else of the
    criteria file alone), and its chunks."""

    name: str
    mimetype: str
    suffix: str
    of_conversations: bool
    chunks: Callable[[Iterator[dict[str, Any]], Trial, Filters], Iterator[str]]


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("csv", "text/csv; charset=utf-8", "csv", True, lambda items, trial, filters: csv_chunks(items, trial)),
    Format("json", "application/json", "json", True,
           lambda items, trial, filters: json_chunks(items, filters, trial.zone)),
    Format("redcap-dictionary", "text/csv; charset=utf-8", "csv", False,
           lambda items, trial, filters: redcap.dictionary_chunks(trial)),
    Format("redcap", "text/csv; charset=utf-8", "csv", True,
           lambda items, trial, filters: redcap.records_chunks(export_rows(items, trial), trial)),
    Format("fhir-questionnaire", "application/fhir+json", "json", False,
           lambda items, trial, filters: fhir.questionnaire_chunks(trial)),
    Format("fhir", "application/fhir+json", "json", True,
           lambda items, trial, filters: fhir.bundle_chunks(export_rows(items, trial), trial, now_utc())),
)}


# a criteria file a format cannot express (an answer id REDCap cannot name, a linkId twice)
FORMAT_ERRORS = (redcap.DictionaryError, fhir.QuestionnaireError)


def export_chunks(kind: str, engine: Engine, trial: Trial, filters: Filters, dialogue: Dialogue) -> Iterator[str]:
    """The export of the filtered conversations in format `kind` (a FORMATS key), streamed; the
    REDCap dictionary and the FHIR Questionnaire come from the criteria file alone. A criteria
    file the REDCap or FHIR format cannot express raises one of FORMAT_ERRORS before anything is read."""
    form = FORMATS[kind]
    # refuse a criteria file the format cannot express now, not halfway through a download
    if kind.startswith("redcap"):
        redcap.dictionary(trial)
    elif kind.startswith("fhir"):
        fhir.questionnaire(trial)
    items: Iterator[dict[str, Any]] = iter(())
    if form.of_conversations:
        items = conversations_with_events(engine, trial, filters, trial.zone, dialogue)
    return form.chunks(items, trial, filters)
