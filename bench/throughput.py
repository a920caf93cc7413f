"""Benchmark (b): HTTP throughput and latency at 1, 10 and 50 concurrent patients.

    .venv/bin/python bench/throughput.py [--seconds 10] [--database-url postgresql://...]

Starts gunicorn with 2 workers (the same settings) twice: once serving the bot
(SQLite in a temporary folder unless a database URL is given; rate limits off) and once serving a bare Flask
endpoint that only echoes the message in the same JSON shape, and drives both
with wrk (Debian package `wrk`; bench/patients.lua gives each connection its own
patient). Prints requests/s and latency for each, and our share of the echo's
throughput. Each wrk connection is one patient: it waits for each reply before
its next message, as a person would (so 50 connections = 50 patients typing
without pause).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(app: str, env: dict, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning", app], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"), start_new_session=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                   data=b'{"sender": "warmup", "message": "hi"}',
                                   headers={"Content-Type": "application/json"}), timeout=2)
            return proc
        except Exception:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn did not start for {app}: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)


def wrk(port: int, connections: int, seconds: int) -> dict:
    # one thread per connection: wrk's script state is per thread, so each connection is one
    # patient whose messages go one after another (never two of one patient at once)
    done = subprocess.run(["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds}s",
                           "--timeout", "10s", "--latency", "-s", str(ROOT / "bench" / "patients.lua"),
                           f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat.get("50"), "p90": lat.get("90"), "p99": lat.get("99"),
            "non2xx": int(errors.group(1)) if errors else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--database-url", help="the bot's database (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp())
    env = dict(os.environ, PRESCREEN_DATABASE_URL=args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
               PRESCREEN_RATE_LIMITS="off",
               PRESCREEN_CRITERIA=str(ROOT / "criteria.yaml"), PRESCREEN_SECRET_KEY="bench",
               PYTHONPATH=str(ROOT))
    results = {}
    for name, app in (("bot", "bot:create_app()"), ("echo", "bench.echo_app:app")):
        port = free_port()
        log = tmp / f"gunicorn-{name}.log"
        proc = start_gunicorn(app, env, port, log)
        try:
            wrk(port, 4, 3)  # warm-up: both workers load the trial, the parsers and the database
            results[name] = {c: wrk(port, c, args.seconds) for c in (1, 10, 50)}
        except SystemExit as failed:
            raise SystemExit(f"{failed}\ngunicorn's log ({name}): {log.read_text()[-2000:]}")
        finally:
            stop(proc)
    database = "PostgreSQL" if env["PRESCREEN_DATABASE_URL"].startswith("postgres") else "SQLite"
    print(f"(b) HTTP, gunicorn -w 2, {database}, wrk (each connection one patient):")
    for c in (1, 10, 50):
        bot, echo = results["bot"][c], results["echo"][c]
        print(f"    {c:2} concurrent: bot {bot['rps']:8.1f} req/s (p50 {bot['p50']}, p99 {bot['p99']}, non-2xx {bot['non2xx']})"
              f" | echo {echo['rps']:8.1f} req/s (p50 {echo['p50']}) | ratio {bot['rps'] / echo['rps']:.1%}")
    print(f"    at 50 concurrent the bot reaches {results['bot'][50]['rps'] / results['echo'][50]['rps']:.1%}"
          " of the echo endpoint's throughput (target >= 50 %)")


if __name__ == "__main__":
    main()
