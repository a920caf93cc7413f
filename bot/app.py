"""The Flask application factory: `bot:create_app()`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from actions.trial import load_trial
from bot.dialogue import load_dialogue
from bot.engine import Engine
from bot.runner import HttpRunner, InProcessRunner
from bot.store import Store
from bot.conversation import Conversations

PROJECT = Path(__file__).resolve().parent.parent


def _env_config() -> dict[str, Any]:
    env = os.environ
    return {
        "DATABASE_URL": env.get("PRESCREEN_DATABASE_URL"),
        "CRITERIA": env.get("PRESCREEN_CRITERIA", "criteria.yaml"),
        "SECRET_KEY": env.get("PRESCREEN_SECRET_KEY"),
        "ACTION_ENDPOINT": env.get("PRESCREEN_ACTION_ENDPOINT"),
        "ACTION_TIMEOUT": float(env.get("PRESCREEN_ACTION_TIMEOUT", "10")),
        "DIALOGUES": env.get("PRESCREEN_DIALOGUES", str(PROJECT / "dialogues")),
        "MAX_MESSAGE_LENGTH": int(env.get("PRESCREEN_MAX_MESSAGE_LENGTH", "2000")),
        "MAX_CONTENT_LENGTH": int(env.get("PRESCREEN_MAX_BODY_BYTES", str(64 * 1024))),
        "RATE_LIMITS": env.get("PRESCREEN_RATE_LIMITS"),
        "DB_BUSY_TIMEOUT_MS": int(env.get("PRESCREEN_DB_BUSY_TIMEOUT_MS", "5000")),
        "RATELIMIT_STORAGE_URL": env.get("PRESCREEN_RATELIMIT_STORAGE_URL"),
        "TRUSTED_PROXIES": env.get("PRESCREEN_TRUSTED_PROXIES"),
        "ALLOW_TODAY": False,
    }


def _local_secret_key(path: Path) -> str:
    """A random key kept in a private file, so that every worker (and a restart) signs sessions alike.
    Production sets PRESCREEN_SECRET_KEY instead."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            return path.read_text().strip()
        key = os.urandom(32).hex()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment (PRESCREEN_*) or from `test_config`."""
    app = Flask(__name__)
    app.config.update(_env_config())
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _local_secret_key(Path(app.config.get("SECRET_KEY_FILE") or "var/secret_key"))
    init_app(app)
    return app


def init_app(app: Flask) -> None:
    """Load the trial and the dialogue, open the store, register the blueprints."""
    cfg = app.config
    trial = load_trial(cfg["CRITERIA"])
    dialogue = load_dialogue(cfg["DIALOGUES"], trial)
    # the action server reads its trial from its own PRESCREEN_CRITERIA: run it with the same file
    runner = HttpRunner(cfg["ACTION_ENDPOINT"], cfg["ACTION_TIMEOUT"]) if cfg["ACTION_ENDPOINT"] \
        else InProcessRunner(trial)
    store = Store(cfg["DATABASE_URL"], busy_timeout_ms=cfg.get("DB_BUSY_TIMEOUT_MS", 5000))
    app.extensions["prescreen"] = Conversations(Engine(dialogue, runner), store, trial,
                                                allow_today=bool(cfg.get("ALLOW_TODAY")))
    app.extensions["prescreen_trial"] = trial
    app.extensions["prescreen_store"] = store

    from bot import protection, security, staff, widget
    from bot.chat import bp as chat_bp
    security.init_app(app)
    app.register_blueprint(chat_bp)
    widget.init_app(app)
    staff.init_app(app)
    protection.init_app(app)
