"""The data that crosses the runtime's modules, as types.

- `Event`: one Rasa event dict (`{"event": "user" | "bot" | "action" | "slot" |
  "active_loop" | "restart" | "session_started", "timestamp", ...}`), as the
  engine makes it, the store keeps it and the actions read it in the tracker;
- `Reply`: one item of the REST channel's reply list (docs/ARCHITECTURE.md,
  "The channel");
- `ActionCall` / `ActionResult`: what the runner sends to an action and gets
  back (rasa-sdk's webhook protocol).
"""

from __future__ import annotations

from typing import Any

from typing_extensions import NotRequired, TypedDict

Event = dict[str, Any]


class Button(TypedDict):
    title: str
    payload: str


class Reply(TypedDict):
    """One reply item; keys without a value are left out."""

    recipient_id: str
    text: NotRequired[str]
    buttons: NotRequired[list[Button]]
    custom: NotRequired[dict[str, Any]]
    image: NotRequired[str]
    attachment: NotRequired[Any]


class ActionCall(TypedDict):
    """A call of one custom action (rasa-sdk's `POST /webhook` body)."""

    next_action: str
    sender_id: str
    tracker: dict[str, Any]
    domain: dict[str, Any]
    version: str


class ActionResult(TypedDict):
    """What an action returns: events to apply and responses to utter."""

    events: list[Event]
    responses: list[dict[str, Any]]
