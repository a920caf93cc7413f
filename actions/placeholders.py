"""Filling the {name} placeholders of response texts (the one implementation:
the actions use it for the domain's responses, the bot's engine for its
utterances). Pure, no imports of the bot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill_placeholders(text: str, values: Mapping[str, Any]) -> str:
    """`text` with each {name} replaced by str(values[name]); a name not in `values` stays as written."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


def pick_variation(variations: list[dict[str, Any]], slots: Mapping[str, Any]) -> dict[str, Any]:
    """Rasa's choice among a response's variations: the first whose slot conditions all hold
    (`condition: [{type: slot, name: language, value: es}]`), else the first without conditions."""
    for variation in variations:
        conditions = variation.get("condition")
        if conditions and all(slots.get(c.get("name")) == c.get("value") for c in conditions):
            return variation
    return next((v for v in variations if not v.get("condition")), variations[0] if variations else {})


def localized(domain: Mapping[str, Any] | None, language: str | None) -> dict[str, Any]:
    """The domain with each response reduced to its variation for `language` (the slot `language`);
    rasa-sdk passes None for a call that carried no domain."""
    domain = domain or {}
    return {**domain, "responses": _Localized(domain.get("responses") or {}, {"language": language})}


class _Localized(Mapping):
    """A domain's responses, each reduced to its variation for the slots when it is looked up (an
    action reads a few of about eighty responses: picking them all would cost more than the turn)."""

    def __init__(self, responses: Mapping[str, Any], slots: Mapping[str, Any]) -> None:
        self._responses, self._slots = responses, slots

    def __getitem__(self, name: str) -> list[dict[str, Any]]:
        return [pick_variation(self._responses[name], self._slots)]

    def __iter__(self):
        return iter(self._responses)

    def __len__(self) -> int:
        return len(self._responses)
