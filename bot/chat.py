"""The chat channel: Rasa's REST webhook and the health check."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from actions.translations import LANGUAGE_NAMES
from bot.conversation import Conversations, valid_sender
from bot.nlu import clean_text
from bot.runner import ActionFailed, ActionServerError
from bot.jsoncodec import dumps, loads
from bot.store import StoreBusy

bp = Blueprint("chat", __name__)
log = logging.getLogger("prescreen.chat")

RETRY_MESSAGE = "Sorry, something went wrong on our side and your message was not saved. Please try again in a moment."


LANGUAGES = tuple(LANGUAGE_NAMES)   # what metadata.language may ask for (the trial's `languages` decide which are used)


def _error(message: str, status: int, **extra):
    return jsonify({"error": message, **extra}), status


def parsed_body():
    """The request's JSON body, parsed once per request (as request.get_json(silent=True), with
    orjson) for the webhook and for the rate limiter alike, so that both see the same sender."""
    if "chat_body" not in g:
        data = None
        if request.is_json:
            try:
                data = loads(request.get_data(cache=True))
            except (ValueError, RecursionError):  # not JSON, or absurdly deep nesting
                data = None
        g.chat_body = data
    return g.chat_body


@bp.post("/webhooks/rest/webhook")
def webhook():
    """Rasa REST channel: {"sender", "message", "metadata"} -> list of replies."""
    data = parsed_body()
    if not isinstance(data, dict):
        return _error("The body must be a JSON object with 'sender' and 'message'.", 400)
    sender, message = data.get("sender"), data.get("message")
    if not valid_sender(sender):
        return _error("'sender' must be 16-128 characters of A-Z a-z 0-9 _ . : -", 400)
    if isinstance(message, str):
        message = clean_text(message)
    if not isinstance(message, str) or not message.strip():
        return _error("'message' must be a non-empty string.", 400)
    if len(message) > current_app.config["MAX_MESSAGE_LENGTH"]:
        return _error(f"'message' is longer than {current_app.config['MAX_MESSAGE_LENGTH']} characters.", 400)
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return _error("'metadata' must be a JSON object.", 400)
    if metadata:
        message_id = metadata.get("message_id")
        # any string or number is an id; anything else (or nothing usable) is no id at all
        if isinstance(message_id, (str, int)) and not isinstance(message_id, bool):
            message_id = clean_text(str(message_id)).strip()[:128]
        else:
            message_id = None
        language = metadata.get("language")
        if language is not None and language not in LANGUAGES:
            return _error(f"'metadata.language' must be one of: {', '.join(LANGUAGES)}.", 400)
        metadata = {"message_id": message_id or None, "today": metadata.get("today"), "language": language}
    conversations: Conversations = current_app.extensions["prescreen"]
    started = time.perf_counter()
    try:
        replies = conversations.message(sender, message, metadata)
    except ActionFailed as exc:  # a bug in an action: the runner logged its frames (never its message)
        log.warning("turn rolled back: %s", exc)  # the action's name and the exception's type
        return _error(RETRY_MESSAGE, 503, retry=True)
    except ActionServerError as exc:  # an outage: its message names the action and the failure, no patient text
        log.warning("turn rolled back: %s: %s", type(exc).__name__, exc)
        return _error(RETRY_MESSAGE, 503, retry=True)
    except StoreBusy as exc:
        log.warning("turn rolled back: %s", type(exc).__name__)
        return _error(RETRY_MESSAGE, 503, retry=True)
    log.info("turn sender=%s ms=%.1f", sender[:12], (time.perf_counter() - started) * 1000)
    return current_app.response_class(dumps(replies), mimetype="application/json")


@bp.get("/health")
def health():
    """Liveness: the app answers and the database is reachable."""
    store = current_app.extensions["prescreen_store"]
    try:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except SQLAlchemyError:  # what the engine raises for a database it cannot reach or query
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok"})

