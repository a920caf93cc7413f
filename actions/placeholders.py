"""Filling the {name} placeholders of response texts (the one implementation:
the actions use it for the domain's responses, the bot's engine for its
utterances). Pure, no imports of the bot.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

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
    slots = {"language": language}
    responses = {name: [pick_variation(variations, slots)]
                 for name, variations in (domain.get("responses") or {}).items()}
    return {**domain, "responses": responses}
