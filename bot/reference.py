"""A conversation's reference code ("K7Q-4M2"): short, readable aloud, printed on the patient's
result, so that study staff can find the conversation when the patient calls or brings the
printout. A label, never a way in: it opens nothing by itself (the staff screens need a login).

Drawn at random from 25 letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L,
2/Z, 5/S, 8/B): 25^6, about 244 million codes. The database keeps them unique (a unique index);
a turn that draws a code already taken fails on it and runs again with a new one.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
PATTERN = re.compile(rf"^[{ALPHABET}]{{3}}-[{ALPHABET}]{{3}}$")


def new_reference() -> str:
    code = "".join(secrets.choice(ALPHABET) for _ in range(6))
    return f"{code[:3]}-{code[3:]}"


def as_reference(text: str) -> str | None:
    """A typed reference in its stored form ("k7q 4m2" -> "K7Q-4M2"), or None if it is not one."""
    letters = re.sub(r"[\s\-]", "", text or "").upper()
    if len(letters) != 6:
        return None
    code = f"{letters[:3]}-{letters[3:]}"
    return code if PATTERN.match(code) else None
