"""A patient's turn end to end: lock, idempotency, engine, store, summary."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from actions.trial import Trial
from bot.engine import Engine, Turn, replay, restore
from bot.store import Store

SENDER_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


def valid_sender(sender: Any) -> bool:
    """DESIGN.md §3: 1-128 characters of A-Z a-z 0-9 _ . : -"""
    return isinstance(sender, str) and SENDER_RE.fullmatch(sender) is not None


def summary_of(turn: Turn, trial: Trial) -> dict[str, Any]:
    """The summary-row fields this turn changes.

    The outcome is the latest result given: a result stays the conversation's
    outcome after "start over" until a new run gives another one.
    """
    state = turn.state
    summary: dict[str, Any] = {
        "current_question": state.slots.get("requested_slot") if state.active_loop == "prescreen_form" else None,
        "contact_requested": bool(state.slots.get("contact_requested")),
    }
    results = [e["data"]["custom"]["prescreen_result"] for e in turn.events
               if e.get("event") == "bot" and "prescreen_result" in (e.get("data") or {}).get("custom", {})]
    if results:
        result = results[-1]
        summary.update(completed=True, outcome=result["outcome"], result=result,
                       criteria_version=result["criteria_version"],
                       eligible_from=dt.date.fromisoformat(result["eligible_from"]) if result["eligible_from"] else None)
    return summary


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
            snapshot, last_seq = tx.state()
            if snapshot is not None:
                state = restore(self.engine.dialogue, snapshot)
            else:  # a new conversation, or one stored before snapshots: rebuild from the log
                state = replay(self.engine.dialogue, tx.events()) if last_seq else None
            turn = self.engine.handle(sender, text, state, metadata)
            if turn.delete:
                tx.delete("patient asked to delete their answers")
                tx.remember_replies(message_id, turn.messages)  # a retry must not delete (and audit) twice
                return turn.messages
            tx.append(turn.events, summary_of(turn, self.trial), self.trial.id, message_id, turn.messages,
                      state=turn.state.to_json())
            return turn.messages
