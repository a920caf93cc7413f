"""Shared fixtures for tests that need a real server and a real browser.

Import them into a test module with `from browserkit import live_server, browser, page`
(tests/ is on sys.path: `pythonpath` in pyproject.toml). Browser tests are marked `browser`;
without Chromium or Playwright they skip locally with the reason, and fail in CI
(CI=1), where a missing browser is a broken set-up, not a reason to skip.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("PRESCREEN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class LiveServer:
    """A Flask app served on a free localhost port in a thread."""

    def __init__(self, app) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_app(tmp_path, **config):
    """An app on a fresh SQLite file with rate limits off; `config` overrides."""
    from bot import create_app
    base = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'test.sqlite3'}",
            "CRITERIA": str(ROOT / "criteria.yaml"), "RATE_LIMITS": "off", "ALLOW_TODAY": True,
            "SECRET_KEY": "test-secret"}
    base.update(config)
    return create_app(base)


@pytest.fixture()
def live_server(tmp_path):
    """A running server for the real trial on a fresh database."""
    server = LiveServer(make_app(tmp_path))
    yield server
    server.stop()


def _need_browser():
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright for Python is not installed"
    if reason is None and not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    _need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser):
    """A fresh browser context and page (desktop size)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    yield p
    context.close()
