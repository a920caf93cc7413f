"""The staff blueprint: every staff page needs a login (and a CSRF token on a POST) whose session
is still open on the server (bot/staff/accounts.py: logout, disable, a password reset or
STAFF_IDLE_MINUTES idle end it there), and no staff page is cached."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFProtect

from bot.staff import accounts

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates", static_folder="static",
               static_url_path="/static")

csrf = CSRFProtect()

PUBLIC_ENDPOINTS = {"staff.login", "staff.second_factor", "staff.static"}
ENROLMENT_ENDPOINTS = {"staff.enrol", "staff.logout", "staff.static"}


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
    idle = float(current_app.config["STAFF_IDLE_MINUTES"]) * 60
    engine = current_app.extensions["prescreen_store"].engine
    if not accounts.session_alive(engine, session.get("staff_session"), current_user.id, idle):
        # ended on the server: logged out, idle too long, or the account was disabled or reset
        logout_user()
        session.clear()
        flash("Your session has ended. Please log in again.", "info")
        return redirect(url_for("staff.login", next=request.full_path if request.method == "GET" else None))
    session.permanent = True
    if session.get("must_enrol") and request.endpoint not in ENROLMENT_ENDPOINTS:
        return redirect(url_for("staff.enrol"))   # an admin (or everyone, PRESCREEN_REQUIRE_2FA=1) enrols first
    g.staff_user = current_user
    return None


@bp.after_request
def _no_store(response):
    """Staff pages hold health data: never kept in a browser or proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    return response
