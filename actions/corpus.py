"""Measure answer understanding on a labelled corpus (tests/corpus/answers.yaml).

`score(trial, entries)` reads every phrasing as `prescreen parse` would and
compares it with its label; `prescreen accuracy` prints the figures.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from actions.parsing import parse_for_answer
from actions.trial import Trial


@dataclass
class Miss:
    """One phrasing read differently from its label."""

    entry: dict[str, Any]
    got: dict[str, Any]
    severe: str | None = None   # "yes/no flipped" or "date off"


@dataclass
class Score:
    """Accuracy figures over a corpus."""

    total: int = 0
    correct: int = 0
    by_type: dict[str, list[int]] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    timings_ms: list[float] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def severe(self) -> list[Miss]:
        return [m for m in self.misses if m.severe]


def _severity(entry: dict[str, Any], got: dict[str, Any]) -> str | None:
    want, value = entry.get("value"), got["value"]
    if got["status"] == "reask" or "value" not in entry:
        return None
    if isinstance(want, bool) and isinstance(value, bool) and want != value:
        return "yes/no flipped"
    if want in ("never", "not_recent") and isinstance(value, str) and len(value) == 10 or \
            isinstance(want, str) and len(want) == 10 and value in ("never", "not_recent"):
        return "date vs never/not recent"
    if isinstance(want, str) and isinstance(value, str) and len(want) == 10 == len(value):
        try:
            gap = abs((dt.date.fromisoformat(want) - dt.date.fromisoformat(value)).days)
        except ValueError:
            return None
        allowed = 31 if entry.get("estimate") else 1
        if gap > allowed:
            return f"date off by {gap} days"
    return None


def score(trial: Trial, entries: list[dict[str, Any]], kind_of=None) -> Score:
    """Read each entry and compare with its label."""
    result = Score()
    for entry in entries:
        today = dt.date.fromisoformat(str(entry.get("today", "2026-11-25")))
        started = time.perf_counter()
        got = parse_for_answer(trial, entry["id"], str(entry["text"]), today)
        result.timings_ms.append((time.perf_counter() - started) * 1000)
        statuses = entry.get("status", "accepted")
        statuses = statuses if isinstance(statuses, list) else [statuses]
        ok = got["status"] in statuses
        if ok and got["status"] != "reask":
            want = entry.get("value")
            want = want.isoformat() if isinstance(want, dt.date) else want
            ok = got["value"] == want and type(got["value"]) is type(want) and \
                bool(got["estimate"]) == bool(entry.get("estimate", False))
        kind = kind_of(entry["id"]) if kind_of else entry["id"]
        counts = result.by_type.setdefault(kind, [0, 0])
        counts[1] += 1
        result.total += 1
        if ok:
            result.correct += 1
            counts[0] += 1
        else:
            result.misses.append(Miss(entry, got, _severity(entry, got)))
    return result


def median_ms(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
