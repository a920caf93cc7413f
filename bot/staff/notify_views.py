"""`/staff/r/<reference>`: the link of a notification to the study team (bot/notify.py). A
notification names a conversation by its reference code ("K7Q-4M2"), never by its id (the id is the
patient's credential for the chat); this page, behind the staff login like every staff page, sends
a logged-in user on to that conversation. A link followed while logged out goes through the login
and back here."""

from __future__ import annotations

from flask import abort, current_app, redirect, url_for
from sqlalchemy import select

from bot.db.schema import conversations
from bot.reference import as_reference
from bot.staff.blueprint import bp


@bp.get("/r/<reference>")
def by_reference(reference: str):
    """The conversation with this reference code (any case, with or without the dash), or 404."""
    code = as_reference(reference)
    conversation_id = None
    if code is not None:
        with current_app.extensions["prescreen_store"].engine.connect() as conn:
            conversation_id = conn.execute(select(conversations.c.id)
                                           .where(conversations.c.reference == code)).scalar()
    if conversation_id is None:
        abort(404, description="There is no conversation with this reference code (it may have been deleted).")
    return redirect(url_for("staff.conversation", conversation_id=conversation_id))
