"""Benchmark (d): the staff screens (conversation list, transcript, insights) on a large database.

    .venv/bin/python -m bot.staff.seed --conversations 100000 --database-url sqlite:///var/bench.sqlite3
    .venv/bin/python bench/staff_pages.py --database-url sqlite:///var/bench.sqlite3

Logs in as a benchmark account (created if missing) through the Flask test
client and times whole requests (query, template, response): the list page
unfiltered and with filters, search and a deep page, transcripts of random
conversations, and the insights page (the funnel and its charts) and its CSV for the
last 90 days (the page's default), one language and a year. Targets (issue 6): list with a filter
<= 200 ms, transcript <= 100 ms; (issue 16) insights page and CSV over the default range <= 500 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIST_TARGET_MS, TRANSCRIPT_TARGET_MS, INSIGHTS_TARGET_MS = 200.0, 100.0, 500.0
USER, PASSWORD = "bench-user", "bench password 123456"


def timed(client, url: str, runs: int) -> list[float]:
    client.get(url)  # warm (caches, template compile)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def report(label: str, times: list[float], target: float | None) -> bool:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    median = statistics.median(times)
    ok = target is None or median <= target
    mark = "" if target is None else (f"  target {target:.0f} ms: " + ("OK" if ok else "MISSED"))
    print(f"{label:<40} min {times[0]:6.1f}  median {median:6.1f}  p95 {p95:6.1f}  max {times[-1]:6.1f} ms{mark}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("PRESCREEN_DATABASE_URL"), required=False)
    parser.add_argument("--criteria", default=str(ROOT / "criteria.yaml"))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or PRESCREEN_DATABASE_URL) is needed")

    from sqlalchemy import func, select

    from bot import create_app
    from bot.staff import accounts
    from bot.db.schema import conversations

    app = create_app({"DATABASE_URL": args.database_url, "CRITERIA": args.criteria, "SECRET_KEY": "bench",
                      "RATE_LIMITS": "off"})
    store = app.extensions["prescreen_store"]
    try:
        accounts.add_user(store.engine, USER, PASSWORD, admin=False)   # an admin must enrol a second factor first
    except accounts.AccountError:
        accounts.reset_password(store.engine, USER, PASSWORD)
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(conversations)).scalar_one()
        ids = [r[0] for r in conn.execute(select(conversations.c.id).order_by(func.random()).limit(args.runs))]
        newest = conn.execute(select(func.max(conversations.c.started_at))).scalar_one()
    print(f"{total} conversations in {store.engine.url.render_as_string(hide_password=True)}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.runs} runs each")

    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").text).group(1)
    response = client.post("/staff/login", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, "login failed"

    month_end = newest.date().isoformat() if newest else "2030-01-01"
    month_start = (newest.date().replace(day=1)).isoformat() if newest else "2029-12-01"
    ok = True
    # the work queue (the staff landing page): the target is the list's
    for label, url in [
        ("queue, default (oldest first)", "/staff/"),
        ("queue, page 20", "/staff/?page=20"),
        ("queue, nobody's + needs review", "/staff/?owner=nobody&reason=needs_review"),
        ("queue, with closed follow-ups, language=es", "/staff/?closed=yes&language=es"),
    ]:
        ok &= report(label, timed(client, url, args.runs), LIST_TARGET_MS)
    ok &= report("list, no filter", timed(client, "/staff/conversations", args.runs), None)
    for label, url in [
        ("list, outcome=needs_review", "/staff/conversations?outcome=needs_review"),
        ("list, outcome=not_eligible, page 50", "/staff/conversations?outcome=not_eligible&page=50"),
        ("list, status=contacted", "/staff/conversations?status=contacted"),
        ("list, contact=no + status=new", "/staff/conversations?contact=no&status=new"),
        ("list, one month", f"/staff/conversations?from={month_start}&to={month_end}"),
        ("list, abandoned at question heart", "/staff/conversations?abandoned=heart"),
        ("list, search 'sure' (in half of them)", "/staff/conversations?q=sure"),
        ("list, search 'ulcers' + outcome", "/staff/conversations?q=ulcers&outcome=needs_review"),
        ("list, all filters", f"/staff/conversations?outcome=needs_review&status=new&contact=no&from=2000-01-01"
                              f"&to={month_end}"),
    ]:
        ok &= report(label, timed(client, url, args.runs), LIST_TARGET_MS)
    transcript_times = []
    for conversation_id in ids:
        transcript_times += timed(client, f"/staff/conversations/{conversation_id}", 1)
    ok &= report(f"transcript ({len(ids)} random conversations)", transcript_times, TRANSCRIPT_TARGET_MS)
    # the insights page: the target is for its default range; a year (the whole seeded span) is shown
    # for scale (its figures read four times the rows)
    year_start = (newest.date() - dt.timedelta(days=364)).isoformat() if newest else "2029-01-02"
    for label, url, target in [
        ("insights, default (last 90 days)", "/staff/insights", INSIGHTS_TARGET_MS),
        ("insights CSV, last 90 days", "/staff/insights.csv", INSIGHTS_TARGET_MS),
        ("insights, last 90 days, language=es", "/staff/insights?language=es", INSIGHTS_TARGET_MS),
        ("insights, one year", f"/staff/insights?from={year_start}&to={month_end}", None),
        ("insights CSV, one year", f"/staff/insights.csv?from={year_start}&to={month_end}", None),
    ]:
        ok &= report(label, timed(client, url, args.runs), target)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
