"""Exports of the filtered conversations: CSV (one row per conversation, one
column per data-dictionary answer id) and JSON (full transcripts and results).

Both are generators of text chunks, so that a large export streams. CSV cells
that a spreadsheet could run as a formula (starting with = + - @, a tab or a
carriage return) get a leading apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from actions.trial import Trial
from bot.dialogue import Dialogue
from bot.engine import initial_slots
from bot.db.schema import as_utc, conversations, events, followups, now_utc
from bot.staff.queries import Filters, filtered_ids
from bot.staff.transcript import record

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


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def conversations_with_events(engine: Engine, trial: Trial, filters: Filters, zone: ZoneInfo,
                              dialogue: Dialogue, batch: int = 200) -> Iterator[dict[str, Any]]:
    """Each filtered conversation (newest first): its summary row, record (slots folded exactly as
    the engine folds them, from the dialogue's initial values) and follow-up history."""
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
                    {"at": _iso(row["at"]), "by": row["actor"], "status": row["status"], "note": row["note"]})
            for sender in ids:
                if sender not in rows:
                    continue  # deleted meanwhile
                yield {"summary": rows[sender], "record": record(trial, logs[sender], initial=initial),
                       "followups": history[sender]}


def csv_header(trial: Trial) -> list[str]:
    return list(SUMMARY_COLUMNS) + list(trial.answers)


def csv_chunks(items: Iterator[dict[str, Any]], trial: Trial) -> Iterator[str]:
    """The CSV export, a chunk of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_header(trial))
    for n, item in enumerate(items, 1):
        s, rec = item["summary"], item["record"]
        given = {a.answer_id: a.value for a in rec.answers}
        contact = rec.contact or {}
        row = [s["id"], s.get("reference"), _iso(s["started_at"]), _iso(s["last_activity"]), "true" if s["completed"] else "false",
               s["current_question"], s["outcome"], _iso(s["eligible_from"]), s["status"],
               "true" if s["contact_requested"] else "false", contact.get("name"), contact.get("details"),
               contact.get("note"), s["criteria_version"], s.get("language") or "en"]
        row += [csv_value(given[a]) if a in given else "" for a in trial.answers]
        writer.writerow([neutralise(cell) for cell in row])
        if n % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_item(item: dict[str, Any]) -> dict[str, Any]:
    """One conversation in the JSON export."""
    s, rec = item["summary"], item["record"]
    return {
        "id": s["id"], "reference": s.get("reference"), "trial_id": s["trial_id"], "criteria_version": s["criteria_version"],
        "started_at": _iso(s["started_at"]), "last_activity": _iso(s["last_activity"]), "turns": s["turns"],
        "completed": bool(s["completed"]), "current_question": s["current_question"], "outcome": s["outcome"],
        "eligible_from": _iso(s["eligible_from"]), "contact_requested": bool(s["contact_requested"]),
        "status": s["status"], "language": s.get("language") or "en", "contact": rec.contact,
        "answers": {a.answer_id: {"value": a.value, "words": a.words, "status": a.status, "question": a.question,
                                  "checked_back": a.checked_back,
                                  "changes": [{"at": c.at.isoformat() if c.at else None, "old": c.old, "new": c.new,
                                               "how": c.how, "confirmed": c.confirmed} for c in a.changes]}
                    for a in rec.answers},
        "result": s["result"],
        "followups": item["followups"],
        "transcript": [{"at": line.at.isoformat() if line.at else None, "from": line.speaker, "text": line.text,
                        **({"tapped": True} if line.tapped else {}),
                        **({"choices": line.choices} if line.choices else {})} for line in rec.lines],
    }


def json_chunks(items: Iterator[dict[str, Any]], filters: Filters) -> Iterator[str]:
    """The JSON export: {"exported_at", "filters", "conversations": [...], "count"}, streamed."""
    head = {"exported_at": now_utc().isoformat(), "filters": filters.as_args()}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "conversations": [\n'
    count = 0
    for item in items:
        yield ("" if count == 0 else ",\n") + json.dumps(json_item(item), ensure_ascii=False)
        count += 1
    yield f'\n], "count": {count}}}\n'
