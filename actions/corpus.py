"""Measure answer understanding on a labelled corpus (`prescreen accuracy`).

Two label formats:

- `status` (tests/corpus/answers.yaml, holdout.yaml): `{id, text, value,
  status}`, where `status` lists what the bot may do (accepted, confirm,
  reask); the answer id names one data-dictionary answer;
- `clear` (the fresh first-contact sets, tests/corpus/fresh_*.yaml):
  `{id, text, value, clear}`, written by someone who never saw the parser.
  `clear: true`: a coordinator would record `value` without asking; the bot
  is right when it accepts that value or checks it back (a check-back whose
  value is right counts as right). `clear: false`: a coordinator would ask
  again; the bot is right when it asks again or checks back. `id` is an answer
  id, or a question id whose `value` maps several answer ids.

Every reply falls in one category: right, right after a check-back, asked
again (right when the label allows it), a wrong value, an unclear reply
accepted, and, the worst, an opposite yes/no accepted without checking.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from actions.parsing import ACCEPTED, CONFIRM, REASK, Parsed, parse_answer, question_for_answer
from actions.trial import Trial

RIGHT, CHECKED, REASKED, CHECKED_UNCLEAR, REASKED_CLEAR, WRONG, ACCEPTED_UNCLEAR, OPPOSITE = (
    "right", "right after a check-back", "asked again (as a coordinator would)",
    "checked back (as a coordinator would)", "asked again (the reply was clear)", "wrong value",
    "unclear reply accepted", "opposite yes/no accepted")
GOOD = (RIGHT, CHECKED, REASKED, CHECKED_UNCLEAR)


@dataclass
class Miss:
    """One phrasing read differently from its label."""

    entry: dict[str, Any]
    got: dict[str, Any]
    category: str
    severe: str | None = None   # "yes/no flipped" or "date off"


@dataclass
class Score:
    """Accuracy figures over a corpus."""

    total: int = 0
    correct: int = 0
    by_type: dict[str, list[int]] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    clear: int = 0                  # replies whose meaning is clear to a coordinator
    clear_asked_back: int = 0       # ... that the bot checked back or asked again
    misses: list[Miss] = field(default_factory=list)
    timings_ms: list[float] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def severe(self) -> list[Miss]:
        return [m for m in self.misses if m.severe]


def _as_json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


def _expected(entry: dict[str, Any]) -> tuple[set[str], bool]:
    """(the statuses the label allows, whether the reply is clear to a coordinator)."""
    if "clear" in entry:
        return ({ACCEPTED, CONFIRM} if entry["clear"] else {REASK, CONFIRM}), bool(entry["clear"])
    statuses = entry.get("status", ACCEPTED)
    statuses = set(statuses if isinstance(statuses, list) else [statuses])
    return statuses, statuses != {REASK}


def _read(trial: Trial, entry: dict[str, Any], today: dt.date) -> tuple[Parsed, dict[str, Any]]:
    """The parser's reading, and the answers it gives for the label's ids."""
    entry_id = entry["id"]
    grouped = entry_id in trial.questions_by_id and isinstance(entry.get("value"), dict)
    question = trial.questions_by_id[entry_id] if grouped else question_for_answer(trial, entry_id)
    if question is None:
        raise KeyError(entry_id)
    parsed = parse_answer(trial, question, str(entry["text"]), today)
    if grouped:
        return parsed, {k: parsed.answers.get(k) for k in entry["value"]}
    value = parsed.choice_value if entry_id == question.id and entry_id not in parsed.answers \
        else parsed.answers.get(entry_id)
    return parsed, {entry_id: value}


def _flipped(want: dict[str, Any], got: dict[str, Any]) -> bool:
    return any(isinstance(w, bool) and isinstance(got.get(k), bool) and got[k] != w for k, w in want.items())


def _date_severity(entry: dict[str, Any], want: Any, value: Any) -> str | None:
    if want in ("never", "not_recent") and isinstance(value, str) and len(value) == 10 or \
            isinstance(want, str) and len(want) == 10 and value in ("never", "not_recent"):
        return "date vs never/not recent"
    if isinstance(want, str) and isinstance(value, str) and len(want) == 10 == len(value):
        try:
            gap = abs((dt.date.fromisoformat(want) - dt.date.fromisoformat(value)).days)
        except ValueError:
            return None
        if gap > (31 if entry.get("estimate") else 1):
            return f"date off by {gap} days"
    return None


def categorise(trial: Trial, entry: dict[str, Any], today: dt.date) -> tuple[str, dict[str, Any], str | None]:
    """(category, what the parser gave, how severe a miss is) for one labelled reply."""
    parsed, got = _read(trial, entry, today)
    allowed, clear = _expected(entry)
    shown = {"value": got if len(got) > 1 else next(iter(got.values())), "status": parsed.status,
             "estimate": parsed.estimate}
    status = parsed.status
    if status == REASK:
        return (REASKED if REASK in allowed else REASKED_CLEAR), shown, None
    want = _as_json(entry.get("value"))
    want = want if isinstance(want, dict) and len(got) > 1 else {next(iter(got)): want}
    has_value = "value" in entry
    same = has_value and got == want and all(type(got[k]) is type(want[k]) for k in want) and \
        bool(parsed.estimate) == bool(entry.get("estimate", False))
    if status == ACCEPTED and has_value and _flipped(want, got):
        return OPPOSITE, shown, "yes/no flipped"
    if status not in allowed:
        return (ACCEPTED_UNCLEAR if status == ACCEPTED else WRONG), shown, None
    if not clear:   # an unclear reply checked back
        return CHECKED_UNCLEAR, shown, None
    if same:
        return (RIGHT if status == ACCEPTED else CHECKED), shown, None
    severity = None
    if len(want) == 1:
        severity = _date_severity(entry, next(iter(want.values())), next(iter(got.values())))
    return WRONG, shown, severity


def score(trial: Trial, entries: list[dict[str, Any]], kind_of=None) -> Score:
    """Read each entry and compare with its label."""
    result = Score()
    for entry in entries:
        today = dt.date.fromisoformat(str(entry.get("today", "2026-11-25")))
        started = time.perf_counter()
        category, got, severe = categorise(trial, entry, today)
        result.timings_ms.append((time.perf_counter() - started) * 1000)
        ok = category in GOOD
        _, clear = _expected(entry)
        if clear:
            result.clear += 1
            result.clear_asked_back += got["status"] != ACCEPTED
        kind = kind_of(entry["id"]) if kind_of else entry["id"]
        counts = result.by_type.setdefault(kind, [0, 0])
        counts[1] += 1
        result.total += 1
        result.categories[category] = result.categories.get(category, 0) + 1
        if ok:
            result.correct += 1
            counts[0] += 1
        else:
            result.misses.append(Miss(entry, got, category, severe))
    return result


def median_ms(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
