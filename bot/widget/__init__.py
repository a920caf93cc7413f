"""The website widget: /widget.js, its CSS, the demo page, and CORS for embedding."""

from flask import Blueprint, Flask

bp = Blueprint("widget", __name__, static_folder="static", template_folder="templates")


def init_app(app: Flask) -> None:
    """Register the widget's routes and cross-origin rules."""
    app.register_blueprint(bp)
