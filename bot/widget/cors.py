"""Cross-origin rules for embedding the widget on other sites.

Only the chat webhook and the widget's texts (/widget/texts, fetched by
widget.js) are shared across origins, and only with the origins
listed in the `ALLOWED_ORIGINS` setting (`PRESCREEN_ALLOWED_ORIGINS`, bot.config),
comma-separated, e.g. `https://trial.example.org,https://www.example.org`.
Any other origin gets no `Access-Control-Allow-Origin`, so the browser refuses
the answer (and, for the JSON POST the widget makes, refuses to send it at all
after the preflight). Same-origin use (the demo page) never needs CORS.
"""

from __future__ import annotations

import re
from typing import Iterable

from flask import Flask, Response, current_app, request

CORS_PATHS = frozenset({"/webhooks/rest/webhook", "/widget/texts"})
ORIGIN_RE = re.compile(r"^https?://[^/\s?#]+$")
EXTENSION = "prescreen_allowed_origins"


def parse_origins(value: str | Iterable[str] | None, source: str = "PRESCREEN_ALLOWED_ORIGINS") -> frozenset[str]:
    """The allowed origins from a comma-separated string (or a list), normalised.

    Raises ValueError naming the setting and the bad entry when an entry is not
    an origin (scheme://host[:port], no path).
    """
    if value is None:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)
    origins = set()
    for item in items:
        origin = str(item).strip().rstrip("/").lower()
        if not origin:
            continue
        if not ORIGIN_RE.match(origin):
            raise ValueError(f"{source}: {str(item).strip()!r} is not an origin "
                             "(expected scheme://host[:port] without a path, e.g. https://www.example.org)")
        origins.add(origin)
    return frozenset(origins)


def add_cors_headers(response: Response) -> Response:
    """After-request hook: CORS headers on the shared paths, for allowed origins only."""
    if request.path not in CORS_PATHS:
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "").strip().lower()
    if not origin or origin not in current_app.extensions.get(EXTENSION, frozenset()):
        return response
    response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"].strip()
    response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def init_app(app: Flask) -> None:
    """Read the allowed origins from the config and register the hook."""
    app.extensions[EXTENSION] = parse_origins(app.config.get("ALLOWED_ORIGINS"))
    app.after_request(add_cors_headers)
