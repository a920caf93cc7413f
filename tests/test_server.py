"""`prescreen serve` is a production server (issue 14, item 5): gunicorn with no version banner, an
access log without query strings or patient text, one worker with threads unless the rate limits
count in shared storage, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from chatkit import CRITERIA, free_port

PRESCREEN = str(Path(sys.executable).parent / "prescreen")


def environment(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESCREEN_")}
    env.update(PRESCREEN_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}", PRESCREEN_CRITERIA=CRITERIA,
               PRESCREEN_SECRET_KEY="x" * 40, **extra)
    return env


@pytest.fixture()
def served(tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "w")
    process = subprocess.Popen([PRESCREEN, "serve", "--port", str(port)], env=environment(tmp_path),
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url, process, tmp_path / "server.log"
    if process.poll() is None:
        process.kill()
    log.close()


def test_a_production_server_with_no_version_banner_and_a_quiet_access_log(served):
    url, process, log = served
    response = urllib.request.urlopen(url + "/health", timeout=5)
    assert response.headers["Server"] == "gunicorn"
    try:
        urllib.request.urlopen(url + "/staff/conversations?q=uniquepatientword", timeout=5)
    except OSError:
        pass
    body = b'{"sender": "server-test-0123456789", "message": "my other uniquepatientword"}'
    request = urllib.request.Request(url + "/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    assert urllib.request.urlopen(request, timeout=10).status == 200
    process.send_signal(signal.SIGTERM)   # a clean stop
    assert process.wait(timeout=30) == 0
    text = log.read_text()
    assert '"GET /staff/conversations"' in text and '"POST /webhooks/rest/webhook"' in text
    assert "uniquepatientword" not in text and "Werkzeug" not in text


def test_several_workers_need_shared_rate_limit_storage(tmp_path):
    done = subprocess.run([PRESCREEN, "serve", "--port", str(free_port()), "--workers", "2"],
                          env=environment(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "PRESCREEN_RATELIMIT_STORAGE_URL" in done.stderr
