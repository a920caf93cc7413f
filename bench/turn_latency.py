"""Benchmark (a): in-process turn latency over whole simulated conversations, SQLite persistence.

    .venv/bin/python bench/turn_latency.py [--conversations 200]

Prints p50 / p95 / p99 of one turn (message in -> replies out, stored), measured
around Conversations.message, i.e. NLU, rules, form, actions, evaluator and the
SQLite transaction.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCRIPTS = [
    ["hi", "/affirm", "54", "CREST", "yes", "lung fibrosis and ulcers on my fingers", "None of these", "no", "no", "no",
     "no", "no", "never", "never", "never", "in August", "no", "Doesn't apply to me"],
    ["hello", "/affirm", "I'm 61", "/inform{\"diagnosis\":\"Yes, the diffuse type\"}", "/inform{\"refractory\":\"Yes\"}",
     "skin getting thicker", "no", "/inform{\"hiv\":\"No\"}", "no", "not that I know of", "no", "no",
     "I had Humira and IVIG 3 weeks ago", "/inform{\"ig_route\":\"Into a vein (IV drip)\"}", "never", "no", "no", "no"],
    ["hi", "/affirm", "17"],
    ["hi", "/affirm", "45", "yes", "why do you ask?", "yes", "go back", "yes", "none", "none", "no", "no", "no", "no",
     "no", "never", "never", "still taking it", "never", "no", "no"],
]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=200)
    args = parser.parse_args()
    from bot import create_app
    db = Path(tempfile.mkdtemp()) / "bench.sqlite3"
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "RATE_LIMITS": "off", "ALLOW_TODAY": True})
    conversations = app.extensions["prescreen"]
    latencies: list[float] = []
    for i in range(args.conversations):
        sender = uuid.uuid4().hex
        for text in SCRIPTS[i % len(SCRIPTS)]:
            started = time.perf_counter()
            conversations.message(sender, text, {"today": "2026-11-25", "message_id": uuid.uuid4().hex})
            latencies.append((time.perf_counter() - started) * 1000)
    print(f"(a) in-process turn latency over {args.conversations} conversations, {len(latencies)} turns, SQLite:"
          f" p50 {percentile(latencies, 50):.2f} ms, p95 {percentile(latencies, 95):.2f} ms,"
          f" p99 {percentile(latencies, 99):.2f} ms (target p50 <= 2 ms)")


if __name__ == "__main__":
    main()
