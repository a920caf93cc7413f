"""The Flask application factory: `bot:create_app()`."""

from __future__ import annotations

import datetime as dt

import os
from pathlib import Path
from typing import Any

from flask import Flask

from actions.trial import load_trial
from bot.config import Settings
from bot.conversation import Conversations
from bot.dialogue import load_dialogue
from bot.engine import Engine
from bot.runner import HttpRunner, InProcessRunner
from bot.store import Store


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


def create_app(test_config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Build the app from the environment (PRESCREEN_*, bot.config), or from `settings`, with the
    Flask config keys of `test_config` on top. A bad variable: ConfigError naming it."""
    app = Flask(__name__)
    app.config.update((settings or Settings.load()).flask_config())
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
    store = open_store(cfg)
    app.extensions["prescreen"] = Conversations(Engine(dialogue, runner, answer_reader(trial), trial.languages), store, trial,
                                                allow_today=bool(cfg.get("ALLOW_TODAY")))
    app.extensions["prescreen_trial"] = trial
    app.extensions["prescreen_store"] = store

    from bot import notify, protection, security, staff, widget
    from bot.chat import bp as chat_bp
    security.init_app(app)
    app.register_blueprint(chat_bp)
    widget.init_app(app)
    staff.init_app(app)
    protection.init_app(app)
    notify.init_app(app)   # the sender in this process, only with PRESCREEN_NOTIFY_IN_SERVER=1


def answer_reader(trial):
    """For the engine: whether a reply is a confident answer to the question asked (on the
    conversation's site date: the date a test pinned, else the site's today)."""
    from actions.parsing import confident_answer

    def read(question_id: str, text: str, metadata: dict[str, Any]) -> bool:
        try:
            today = dt.date.fromisoformat(str(metadata["today"]))
        except (KeyError, ValueError):
            today = trial.today()
        return confident_answer(trial.for_language(metadata.get("language")), question_id, text, today)
    return read


def open_store(cfg: dict[str, Any]) -> Store:
    """The store for a Flask config (or `Settings.flask_config()`): the CLI opens it the same way."""
    return Store(cfg["DATABASE_URL"], busy_timeout_ms=cfg["DB_BUSY_TIMEOUT_MS"], upgrade=cfg["AUTO_UPGRADE"],
                 forget_delay=float(cfg.get("FORGET_DELAY_SECONDS", 60.0)))
