"""A patient's turn end to end: lock, idempotency, engine, store, summary."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from actions.trial import Trial
from bot.engine import Engine, State
from bot.store import Store

SENDER_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def valid_sender(sender: Any) -> bool:
    """DESIGN.md §3: 1-128 characters of A-Z a-z 0-9 _ . : -"""
    return isinstance(sender, str) and SENDER_RE.match(sender) is not None


def summary_of(state: State, trial: Trial) -> dict[str, Any]:
    """The conversation's summary row, derived from its state after a turn."""
    result = state.slots.get("prescreen_result")
    eligible = result.get("eligible_from") if isinstance(result, dict) else None
    return {
        "completed": isinstance(result, dict),
        "outcome": result.get("outcome") if isinstance(result, dict) else None,
        "eligible_from": dt.date.fromisoformat(eligible) if eligible else None,
        "current_question": state.slots.get("requested_slot") if state.active_loop == "prescreen_form" else None,
        "contact_requested": bool(state.slots.get("contact_requested")),
        "criteria_version": (result or {}).get("criteria_version") or trial.model.version,
        "result": result if isinstance(result, dict) else None,
    }


class Conversations:
    """Carries patients' messages through the engine into the store."""

    def __init__(self, engine: Engine, store: Store, trial: Trial, allow_today: bool = False) -> None:
        self.engine, self.store, self.trial = engine, store, trial
        self.allow_today = allow_today

    def message(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Handle one message and return the replies (one transaction; all or nothing)."""
        metadata = metadata or {}
        message_id = metadata.get("message_id")
        message_id = str(message_id)[:128] if message_id not in (None, "") else None
        kept = {"message_id": message_id} if message_id else {}
        if self.allow_today and metadata.get("today"):
            kept["today"] = str(metadata["today"])  # tests pin the site date
        metadata = kept
        with self.store.turn(sender) as tx:
            if message_id:
                stored = tx.stored_replies(message_id)
                if stored is not None:
                    return stored
            turn = self.engine.handle(sender, text, tx.events(), metadata)
            if turn.delete:
                tx.delete("patient asked to delete their answers")
                return turn.messages
            tx.append(turn.events, summary_of(turn.state, self.trial), self.trial.id, message_id, turn.messages)
            return turn.messages
