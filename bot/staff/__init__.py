"""Staff review: login, the conversation list, transcripts, follow-up, audit, export.

    prescreen users add NAME [--admin]       # then log in at /staff/login
    prescreen export --format csv|json [--since DATE] [--outcome X] [--status X] [--output FILE]
    python -m bot.staff.seed --conversations 100000 --database-url sqlite:///var/bench.sqlite3
    python tests/bench_staff.py --database-url sqlite:///var/bench.sqlite3

Settings: STAFF_IDLE_MINUTES (env PRESCREEN_STAFF_IDLE_MINUTES, default 30),
STAFF_PAGE_SIZE (50), STAFF_ABANDONED_AFTER_MINUTES (60: an unfinished
conversation idle this long is "abandoned"), PRESCREEN_SECURE_COOKIES (bot.security).
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, current_app, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFProtect

from bot.staff import models  # noqa: F401  (the staff tables join bot.store.metadata before the store creates them)
from bot.staff.accounts import load_user

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates", static_folder="static",
               static_url_path="/static")

csrf = CSRFProtect()

PUBLIC_ENDPOINTS = {"staff.login", "staff.static"}


def _config(app: Flask) -> None:
    env = os.environ
    app.config.setdefault("STAFF_IDLE_MINUTES", float(env.get("PRESCREEN_STAFF_IDLE_MINUTES", "30")))
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
    store = app.extensions["prescreen_store"]
    models.create_schema(store.engine)
    csrf.init_app(app)

    login = LoginManager()
    login.login_view = "staff.login"
    login.login_message = "Please log in to see the staff pages."
    login.login_message_category = "info"
    login.user_loader(lambda user_id: load_user(current_app.extensions["prescreen_store"].engine, user_id))
    login.init_app(app)
    app.register_blueprint(bp)


@bp.before_request
def _guard():
    """Logged in (and not idle too long) for every page but login; a CSRF token on every POST."""
    public = request.endpoint in PUBLIC_ENDPOINTS
    if not public and not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    if public:
        return None
    now = time.time()
    seen = session.get("staff_seen")
    idle = float(current_app.config["STAFF_IDLE_MINUTES"]) * 60
    if not isinstance(seen, (int, float)) or now - seen > idle:
        logout_user()
        session.clear()
        flash("Your session ended after a period of inactivity. Please log in again.", "info")
        return redirect(url_for("staff.login", next=request.full_path if request.method == "GET" else None))
    session["staff_seen"] = now
    session.permanent = True
    g.staff_user = current_user
    return None


@bp.after_request
def _no_store(response):
    """Staff pages hold health data: never kept in a browser or proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


from bot.staff import views  # noqa: E402,F401  (routes on bp)
