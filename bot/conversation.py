"""A patient's turn end to end: idempotency, engine, store (optimistic), summary."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from actions.trial import Trial
from bot.engine import Engine, Turn, replay, restore
from bot.events import Reply
from bot.reference import new_reference
from bot.store import Conflict, Store, StoreBusy

SENDER_RE = re.compile(r"[A-Za-z0-9_.:\-]{16,128}")


def valid_sender(sender: Any) -> bool:
    """16-128 characters of A-Z a-z 0-9 _ . : - (docs/ARCHITECTURE.md, "The channel")."""
    return isinstance(sender, str) and SENDER_RE.fullmatch(sender) is not None


def summary_of(turn: Turn, contact_before: bool) -> dict[str, Any]:
    """The summary-row fields this turn changes.

    The outcome is the latest result given: a result stays the conversation's
    outcome after "start over" until a new run gives another one.
    """
    state = turn.state
    summary: dict[str, Any] = {
        "current_question": state.slots.get("requested_slot") if state.active_loop == "prescreen_form" else None,
    }
    if bool(state.slots.get("contact_requested")) != contact_before:
        summary["contact_requested"] = bool(state.slots.get("contact_requested"))
    results = [e["data"]["custom"]["prescreen_result"] for e in turn.events
               if e.get("event") == "bot" and "prescreen_result" in (e.get("data") or {}).get("custom", {})]
    if results:
        result = results[-1]
        summary.update(completed=True, outcome=result["outcome"], result=result,
                       criteria_version=result["criteria_version"],
                       eligible_from=dt.date.fromisoformat(result["eligible_from"]) if result["eligible_from"] else None)
    return summary


CONFLICT_RETRIES = 20


class Conversations:
    """Carries patients' messages through the engine into the store.

    A turn reads the conversation, runs the engine without holding any lock,
    then stores its events in a short transaction that checks that no other
    turn of the conversation was stored in between; if one was (two messages
    of one patient at once), the turn runs again on the new state. So turns of
    different patients never wait for each other's engine runs, and the turns
    of one patient still apply one after the other, each seeing the last.
    """

    def __init__(self, dialogue_engine: Engine, store: Store, trial: Trial, allow_today: bool = False) -> None:
        self.dialogue_engine, self.store, self.trial = dialogue_engine, store, trial
        self.allow_today = allow_today

    def message(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[Reply]:
        """Handle one message and return the replies (one transaction; all or nothing)."""
        metadata = metadata or {}
        message_id = metadata.get("message_id")
        message_id = str(message_id)[:128] if message_id not in (None, "") else None
        kept = {"message_id": message_id} if message_id else {}
        if self.allow_today and metadata.get("today"):
            kept["today"] = str(metadata["today"])  # tests pin the site date
        if metadata.get("language"):
            kept["language"] = str(metadata["language"])   # the client's language (the engine keeps an offered one)
        metadata = kept
        for _ in range(CONFLICT_RETRIES):
            with self.store.turn(sender) as db_turn:
                seen = db_turn.read(message_id)
                if seen.replies is not None:  # a retry of a message already answered
                    return seen.replies
                if seen.state is not None:
                    state = restore(self.dialogue_engine.dialogue, seen.state)
                else:  # a new conversation, or one stored before snapshots: rebuild from the log
                    state = replay(self.dialogue_engine.dialogue, seen.events) if seen.last_seq else None
                contact_before = bool(state and state.slots.get("contact_requested"))
                # the conversation's reference code (bot/reference.py), drawn on its first turn: the
                # actions read it from the message's metadata for the result; a code already taken
                # fails the write on the unique index, and the turn runs again with a new one
                reference = seen.reference or new_reference()
                turn = self.dialogue_engine.handle(sender, text, state, {**metadata, "reference": reference})
                try:
                    if turn.delete:
                        db_turn.delete("patient asked to delete their answers", expected_seq=seen.last_seq,
                                       message_id=message_id, reply_list=turn.messages)
                    else:
                        summary = summary_of(turn, contact_before)
                        if reference != seen.reference:
                            summary["reference"] = reference
                        db_turn.save(seen.last_seq, turn.events, summary, self.trial.id,
                                     message_id, turn.messages, turn.state.to_json())
                except Conflict:  # another turn of this conversation was stored meanwhile
                    continue
                if turn.delete:   # what the deleted rows leave in indexes and journals goes soon after
                    self.store.forgetter.deleted()
                return turn.messages
        raise StoreBusy("the conversation kept changing under this turn")
