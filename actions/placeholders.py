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
