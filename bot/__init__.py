"""The runtime: dialogue engine, store, Flask app (chat, widget, staff) and CLI."""

from bot.app import create_app

__all__ = ["create_app"]
