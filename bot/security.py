"""Security headers and cookie settings for every response.

Every response gets a Content-Security-Policy that allows only this origin
(no inline scripts or styles, no framing), X-Frame-Options, nosniff and
Referrer-Policy; over HTTPS also Strict-Transport-Security. Nothing here stops other sites from loading /widget.js
(no Cross-Origin-Resource-Policy). The session cookie is HttpOnly,
SameSite=Lax, and Secure when the SECURE_COOKIES setting (PRESCREEN_SECURE_COOKIES,
bot.config) or SESSION_COOKIE_SECURE says so, or else when the request came over HTTPS.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


HSTS = "max-age=31536000; includeSubDomains"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with Secure decided per request when not configured.
    The patients' chat endpoint has no session (it would only cost time on every message)."""

    def open_session(self, app: Flask, request_):
        if request_.path.startswith("/webhooks/"):
            return None  # Flask gives a null session: nothing read, nothing written
        return super().open_session(app, request_)

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = app.config.get("SESSION_COOKIE_SECURE")
        if configured is not None:
            return bool(configured)
        try:
            return request.is_secure
        except RuntimeError:  # outside a request
            return False


def init_app(app: Flask) -> None:
    """Set security headers and session-cookie flags."""
    env_secure = app.config.get("SECURE_COOKIES")
    # Flask's default is False; None here means "decide per request"
    if env_secure is not None:
        app.config["SESSION_COOKIE_SECURE"] = env_secure
        app.config["REMEMBER_COOKIE_SECURE"] = env_secure
    elif not app.config.get("SESSION_COOKIE_SECURE"):
        app.config["SESSION_COOKIE_SECURE"] = None
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = app.config.get("REMEMBER_COOKIE_SAMESITE") or "Lax"
    app.session_interface = SessionInterface()

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:   # HTTPS (directly, or from a trusted proxy that ended TLS): browsers keep to it
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
