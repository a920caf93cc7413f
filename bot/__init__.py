"""The runtime: dialogue engine, store, Flask app (chat, widget, staff) and CLI."""
