"""Staff review: login, the conversation list, transcripts, follow-up, audit, export."""

from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates", static_folder="static")


def init_app(app: Flask) -> None:
    """Register the staff screens and their login handling."""
    app.register_blueprint(bp)
