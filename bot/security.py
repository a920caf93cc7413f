"""Security headers and cookie settings for every response."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Set security headers and session-cookie flags."""
