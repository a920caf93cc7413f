"""JSON text for stored values: orjson, with the standard json as the fallback.

No I/O: the store writes what `dumps` returns and reads back with `loads`; the
engine uses the same pair for its state snapshot.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """JSON for a text column (orjson: UTF-8 as is). A lone surrogate, which UTF-8 cannot hold,
    or anything else orjson refuses goes through json with \\u escapes."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    """Stored JSON back (json for what only it wrote: \\u escapes of lone surrogates)."""
    try:
        return orjson.loads(text)
    except ValueError:
        return json.loads(text)
