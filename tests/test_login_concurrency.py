"""Lockouts that hold under concurrency (issue 14, item 2), with real parallel requests against a
real server (gunicorn, 8 threads) on SQLite and on PostgreSQL: 40 parallel wrong guesses count as
40, none is a 500, and the right password sent after them is refused (the account is locked)."""

from __future__ import annotations

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from dbkit import postgres_schema, postgres_url  # noqa: F401  (fixture)
from test_server import PRESCREEN, environment
from chatkit import free_port

PASSWORD = "a long enough password"


def run_server(tmp_path, database_url: str, **extra):
    env = environment(tmp_path, **{"PRESCREEN_RATE_LIMITS": "off", **extra})
    env["PRESCREEN_DATABASE_URL"] = database_url
    added = subprocess.run([PRESCREEN, "users", "add", "carol"], input=PASSWORD + "\n", env=env,
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    port = free_port()
    process = subprocess.Popen([PRESCREEN, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.err", "w"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/health", timeout=1)
            return process, url, env
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not start")


def attempt(url: str, password: str) -> int:
    with requests.Session() as s:
        page = s.get(url + "/staff/login", timeout=30).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
        return s.post(url + "/staff/login", data={"username": "carol", "password": password,
                                                  "csrf_token": token}, allow_redirects=False, timeout=60).status_code


def parallel_guesses(url: str, count: int = 40) -> list[int]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda i: attempt(url, f"wrong guess number {i:03d}"), range(count)))


def check(url: str, env: dict) -> None:
    statuses = parallel_guesses(url)
    assert 500 not in statuses and set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 6, statuses          # only the free attempts (and one more) are checked
    assert attempt(url, PASSWORD) == 429                # after 40 wrong guesses the right one waits
    from sqlalchemy import create_engine, text
    engine = create_engine(env["PRESCREEN_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        counted = conn.execute(text("SELECT failures FROM staff_login_failures WHERE key = 'user:carol'")).scalar()
    engine.dispose()
    assert counted == 41                                # 40 guesses + the right password: none lost


def test_parallel_guesses_on_sqlite(tmp_path):
    process, url, env = run_server(tmp_path, f"sqlite:///{tmp_path / 'logins.sqlite3'}")
    try:
        check(url, env)
    finally:
        process.kill()


def test_parallel_guesses_on_postgresql(tmp_path, postgres_url):
    with postgres_schema(postgres_url, "logins") as url_with_schema:
        process, url, env = run_server(tmp_path, url_with_schema)
        try:
            check(url, env)
        finally:
            process.kill()


def test_one_address_is_slowed_down_by_the_login_rate_limit(tmp_path):
    """The log-in form's own limit per address (on unless PRESCREEN_RATE_LIMITS=off): the sixth attempt
    in a minute is refused before it reaches any account, so nobody's account is counted for it."""
    process, url, env = run_server(tmp_path, f"sqlite:///{tmp_path / 'limit.sqlite3'}",
                                   PRESCREEN_RATE_LIMITS="1000 per minute|1000 per minute",
                                   PRESCREEN_LOGIN_RATE_LIMIT="5 per minute")
    try:
        statuses = [attempt(url, "wrong guess again x") for _ in range(6)]
        assert statuses == [401] * 5 + [429], statuses
    finally:
        process.kill()
