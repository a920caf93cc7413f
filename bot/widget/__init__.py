"""The website widget: /widget.js, its CSS, its texts, the demo page, and CORS for embedding."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Flask, Response, current_app, render_template, request

from bot.widget import cors

STATIC = Path(__file__).resolve().parent / "static"
TEXTS = Path(__file__).resolve().parent / "texts"
DEFAULT_LANG = "en"
SITE_MARK = "{} /*@site*/"

bp = Blueprint("widget", __name__, template_folder="templates")


# Comments are for people reading the source; a phone need not download them. Only whole-line `//`
# comments and ` // ` after code go from the JS (lines are kept, so an error's line number still points
# into the source; tests/test_widget_http.py checks that no string in it holds "//"); from the CSS, every
# /* */ comment.
JS_COMMENT = re.compile(r"(?m)^[ \t]*//.*$|[ \t]+//\s.*$")
CSS_COMMENT = re.compile(r"/\*.*?\*/\n?", re.DOTALL)


@lru_cache(maxsize=8)
def _read(name: str, mtime_ns: int) -> str:
    text = (STATIC / name).read_text(encoding="utf-8")
    if name.endswith(".js"):
        return JS_COMMENT.sub("", text)
    if name.endswith(".css"):
        return CSS_COMMENT.sub("", text)
    return text


def _asset(name: str) -> str:
    path = STATIC / name
    return _read(name, path.stat().st_mtime_ns)


def _site_info() -> dict[str, Any]:
    trial = current_app.extensions["prescreen_trial"]
    return {"title": trial.model.title, "short": trial.model.short_title, "trial_id": trial.id,
            "max_length": current_app.config["MAX_MESSAGE_LENGTH"], "langs": offered_languages(trial)}


def _serve(body: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    # the widget is embedded on other sites: its files may be loaded cross-origin
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.add_etag()
    return response.make_conditional(request)


# -- the widget's own words ---------------------------------------------------------------

def languages() -> list[str]:
    """The languages the widget has texts for (one file per language: texts/<code>.yml)."""
    return sorted(p.stem for p in TEXTS.glob("*.yml"))


@lru_cache(maxsize=16)
def _load_texts(lang: str, mtime_ns: int) -> dict[str, Any]:
    data = yaml.safe_load((TEXTS / f"{lang}.yml").read_text(encoding="utf-8")) or {}
    texts = data.get("texts") or {}
    if not isinstance(texts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in texts.items()):
        raise ValueError(f"bot/widget/texts/{lang}.yml: `texts` must map names to strings")
    return {"locale": str(data.get("locale") or lang), "texts": texts}


def texts_for(lang: str) -> dict[str, Any]:
    """The texts of `lang`, each missing one taken from English; `lang` is the language served."""
    base = _load_texts(DEFAULT_LANG, (TEXTS / f"{DEFAULT_LANG}.yml").stat().st_mtime_ns)
    if lang == DEFAULT_LANG:
        return {"lang": lang, **base}
    own = _load_texts(lang, (TEXTS / f"{lang}.yml").stat().st_mtime_ns)
    return {"lang": lang, "locale": own["locale"], "texts": {**base["texts"], **own["texts"]}}


def offered_languages(trial) -> list[str]:
    """The languages the widget offers: those the trial offers (`languages:` in the criteria file, English
    first) that have a texts file."""
    have = languages()
    return [lang for lang in dict.fromkeys([DEFAULT_LANG, *trial.languages]) if lang in have]


def pick_language(asked: str | None) -> str:
    """"es-MX" -> "es" if there is es.yml; anything unknown, malformed or missing -> English."""
    code = (asked or "").strip().lower().replace("_", "-").split("-")[0]
    if re.fullmatch(r"[a-z]{2,3}", code) and (TEXTS / f"{code}.yml").is_file():
        return code
    return DEFAULT_LANG


@bp.get("/widget/texts")
def widget_texts() -> Response:
    """The widget's texts in one language, with the trial's recruitment status and short title in it, as JSON."""
    body = texts_for(pick_language(request.args.get("lang")))
    trial = current_app.extensions["prescreen_trial"].for_language(body["lang"])
    body["status"] = trial.model.status
    body["status_notice"] = trial.model.status_notice or None
    body["title"] = trial.model.title
    body["short_title"] = trial.model.short_title
    return _serve(json.dumps(body, ensure_ascii=False, sort_keys=True), "application/json")


# -- the files ------------------------------------------------------------------------------

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
