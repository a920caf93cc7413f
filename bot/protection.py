"""Protection of the public chat endpoint: trusted proxies, rate limits, JSON errors.

- Client addresses come from X-Forwarded-For only through the number of
  proxies named in PRESCREEN_TRUSTED_PROXIES (Werkzeug's ProxyFix).
- PRESCREEN_RATE_LIMITS: "<per address>|<per conversation>", each a
  Flask-Limiter string (several limits separated by ";"), e.g. the default
  "120 per minute;3000 per hour|40 per minute"; "off" disables them.
  Storage: memory, or PRESCREEN_RATELIMIT_STORAGE_URL (e.g. redis://host:6379/0)
  when several workers or hosts share the load.
- Every error on /webhooks/ is a small JSON object, never an HTML page or a trace.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.chat import parsed_body

log = logging.getLogger("prescreen.http")

MESSAGES = {
    400: "The request could not be read: send a JSON object with 'sender' and 'message'.",
    404: "There is nothing at this address.",
    405: "This address accepts POST requests only.",
    413: "The request is too large.",
    415: "Send the request as JSON (Content-Type: application/json).",
    429: "Too many messages in a short time. Please wait a moment and try again.",
    500: "Sorry, something went wrong on our side. Please try again in a moment.",
}


def _sender_key() -> str:
    """The conversation a message belongs to, read from the same parse as the webhook's."""
    data = parsed_body()
    sender = data.get("sender") if isinstance(data, dict) else None
    return f"conversation:{sender}" if isinstance(sender, str) else f"address:{get_remote_address()}"


def parse_limits(value: str) -> tuple[str, str] | None:
    """(per address, per conversation) limit strings, or None when limits are off."""
    if value.strip().lower() == "off":
        return None
    per_address, _, per_conversation = value.partition("|")
    return per_address.strip(), (per_conversation or per_address).strip()


def init_app(app: Flask) -> None:
    """Install ProxyFix, the rate limits and the JSON error handlers."""
    cfg = app.config
    trusted = int(cfg["TRUSTED_PROXIES"] or 0)
    if trusted:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted)

    limits = parse_limits(cfg["RATE_LIMITS"])
    storage = cfg["RATELIMIT_STORAGE_URL"]
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage, headers_enabled=True,
                      enabled=limits is not None, default_limits=[], strategy="moving-window",
                      key_prefix="prescreen", swallow_errors=True)
    app.extensions["prescreen_limiter"] = limiter
    if limits is not None:
        view = app.view_functions["chat.webhook"]
        view = limiter.limit(limits[0], key_func=get_remote_address, methods=["POST"])(view)
        view = limiter.limit(limits[1], key_func=_sender_key, methods=["POST"])(view)
        app.view_functions["chat.webhook"] = view
        if "staff.login" in app.view_functions:   # log-in attempts per address (accounts lock on their own)
            app.view_functions["staff.login"] = limiter.limit(
                cfg.get("LOGIN_RATE_LIMIT") or "20 per minute", key_func=get_remote_address,
                methods=["POST"])(app.view_functions["staff.login"])

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith("/webhooks/"):
            return exc
        response = jsonify({"error": MESSAGES.get(exc.code, exc.description or "Request refused."),
                            **({"retry": True} if exc.code in (429, 503) else {})})
        response.status_code = exc.code or 500
        for header in ("Retry-After", "Allow", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            if exc.get_response().headers.get(header):
                response.headers[header] = exc.get_response().headers[header]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        log.error("unhandled error on %s: %s", request.path, type(exc).__name__)
        if request.path.startswith("/webhooks/"):
            return jsonify({"error": MESSAGES[500], "retry": True}), 500
        return "Internal error", 500
