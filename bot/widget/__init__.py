"""The website widget: /widget.js, its CSS, the demo page, and CORS for embedding."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, render_template, request

from bot.widget import cors

STATIC = Path(__file__).resolve().parent / "static"
SITE_MARK = "{} /*@site*/"

bp = Blueprint("widget", __name__, template_folder="templates")


@lru_cache(maxsize=8)
def _read(name: str, mtime_ns: int) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _asset(name: str) -> str:
    path = STATIC / name
    return _read(name, path.stat().st_mtime_ns)


def _site_info() -> dict[str, str]:
    trial = current_app.extensions["prescreen_trial"]
    return {"title": trial.model.title, "short": trial.model.short_title, "trial_id": trial.id,
            "max_length": current_app.config["MAX_MESSAGE_LENGTH"]}


def _serve(body: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    # the widget is embedded on other sites: its files may be loaded cross-origin
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/widget.js")
def widget_js() -> Response:
    """The embeddable widget; the study's name is filled in for the panel's heading."""
    site = json.dumps(_site_info(), ensure_ascii=True)
    return _serve(_asset("widget.js").replace(SITE_MARK, site, 1), "text/javascript")


@bp.get("/widget.css")
def widget_css() -> Response:
    """The widget's stylesheet (widget.js adds it to the page)."""
    return _serve(_asset("widget.css"), "text/css")


@bp.get("/")
def index() -> str:
    """The demo page: the trial in plain words, with the widget on it."""
    trial = current_app.extensions["prescreen_trial"]
    registry = f"https://clinicaltrials.gov/study/{trial.id}" if trial.id.startswith("NCT") else ""
    return render_template("widget_demo.html", trial=trial, model=trial.model, registry=registry)


def init_app(app: Flask) -> None:
    """Register the widget's routes and cross-origin rules."""
    app.register_blueprint(bp)
    cors.init_app(app)
