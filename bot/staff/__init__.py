"""Staff review: login, the work queue (the landing page), the conversation list, transcripts,
follow-up (work.py), the insights page, the visit summary, audit, exports (CSV, JSON, REDCap, FHIR).

    prescreen users add NAME [--admin]       # then log in at /staff/login
    prescreen export --format csv|json|redcap-dictionary|redcap|fhir-questionnaire|fhir [--since DATE] ...
    python -m bot.staff.seed --conversations 100000 --database-url sqlite:///var/bench.sqlite3
    python bench/staff_pages.py --database-url sqlite:///var/bench.sqlite3

Settings: STAFF_IDLE_MINUTES (PRESCREEN_STAFF_IDLE_MINUTES, bot.config),
STAFF_PAGE_SIZE (50), STAFF_ABANDONED_AFTER_MINUTES (60: an unfinished
conversation idle this long is "abandoned"), SECURE_COOKIES (bot.security).
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_login import LoginManager

from bot.staff import views  # noqa: F401  (its routes join the blueprint)
from bot.staff import insights_views  # noqa: F401  (/staff/insights and its CSV)
from bot.staff import notify_views  # noqa: F401  (/staff/r/<reference>, the notifications' link)
from bot.staff.accounts import load_user
from bot.staff.blueprint import bp, csrf


def _config(app: Flask) -> None:
    app.config.setdefault("STAFF_PAGE_SIZE", 50)
    app.config.setdefault("STAFF_ABANDONED_AFTER_MINUTES", 60)
    # the staff forms carry a token; the chat webhook and the widget are not staff forms
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # Referrer-Policy: no-referrer means browsers send no Referer, which Flask-WTF's
    # HTTPS referrer check would refuse; the token and SameSite=Lax cookies protect the forms
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    # the session cookie is the staff login's: it lasts as long as the idle limit
    app.config["PERMANENT_SESSION_LIFETIME"] = int(float(app.config["STAFF_IDLE_MINUTES"]) * 60)


def init_app(app: Flask) -> None:
    """Register the staff screens and their login handling."""
    _config(app)
    csrf.init_app(app)

    login = LoginManager()
    login.login_view = "staff.login"
    login.login_message = "Please log in to see the staff pages."
    login.login_message_category = "info"
    login.user_loader(lambda user_id: load_user(current_app.extensions["prescreen_store"].engine, user_id))
    login.init_app(app)
    app.register_blueprint(bp)


