"""Benchmark (c): peak memory (RSS) of a serving worker after 10,000 conversations.

    .venv/bin/python bench/memory.py [--conversations 10000]

One process serves the conversations through the WSGI app (Flask's test client,
the same code path as a gunicorn worker without the socket), each a short whole
prescreen (greeting, start, answers, result: a patient under 18, or one with an
early exclusion), on SQLite. Prints the peak RSS (ru_maxrss) and RSS now.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHORT = [["hi", "/affirm", "17"], ["hello", "/affirm", "54", "morphea"], ["hi", "/affirm", "60", "CREST", "no"],
         ["hi", "/affirm", "45", "yes", "yes", "lung fibrosis", "none", "yes I have HIV"]]


def rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=10000)
    args = parser.parse_args()
    from bot import create_app
    db = Path(tempfile.mkdtemp()) / "memory.sqlite3"
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "RATE_LIMITS": "off"})
    client = app.test_client()
    started = time.time()
    for i in range(args.conversations):
        sender = uuid.uuid4().hex
        for text in SHORT[i % len(SHORT)]:
            response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text,
                                                                   "metadata": {"message_id": uuid.uuid4().hex}})
            assert response.status_code == 200, response.get_data(as_text=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(c) serving worker after {args.conversations} conversations ({time.time() - started:.0f} s):"
          f" peak RSS {peak:.0f} MB, RSS now {rss_now_mb():.0f} MB (target <= 150 MB)")


if __name__ == "__main__":
    main()
