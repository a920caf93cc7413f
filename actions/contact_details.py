"""A phone number or e-mail address taken out of the patient's own sentence ("my cell is 555 201
3344, best after 3pm"), with the rest of the sentence kept as the patient's note for staff.

Pure functions: `extract_contact(text)` returns `ContactDetails` or None (no number or address in
it, or two different ones: asked again rather than guessed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w@])")
PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().\-]{5,22}\d(?!\w)")
# words around the details that only introduce them
LEAD_IN = re.compile(r"\b(?:call|text|reach|email|e-mail|contact)\s+me\b(?:\s+(?:at|on))?|"
                     r"\b(?:(?:my|the)\s+)?(?:cell(?:\s*phone)?|mobile|phone(?:\s*number)?|number|home\s*phone|"
                     r"work\s*phone|e-?mail(?:\s*address)?|address)\s*(?:is|:)?|\b(?:you can|please)\b|\bit'?s\b|"
                     r"\bat\b", re.I)


@dataclass(frozen=True)
class ContactDetails:
    """What the patient left: a phone number (digits, a leading + kept) or an e-mail address, and
    what else they wrote (their note for staff, e.g. the best time to call), or "" when nothing."""

    kind: str            # "phone" | "email"
    value: str
    note: str = ""

    @property
    def shown(self) -> str:
        """As people read it: a 10-digit number as 555-201-3344; anything else as stored."""
        if self.kind == "phone" and re.fullmatch(r"\d{10}", self.value):
            return f"{self.value[:3]}-{self.value[3:6]}-{self.value[6:]}"
        return self.value

    @property
    def link(self) -> str:
        """A tel: or mailto: link for the staff pages."""
        return ("tel:" if self.kind == "phone" else "mailto:") + self.value


def extract_contact(text: str) -> ContactDetails | None:
    """The one phone number or e-mail address in `text`, and the rest of it as a note."""
    text = (text or "").strip()
    emails = {m.group(0).lower(): m for m in EMAIL.finditer(text)}   # one address, however it is written
    phones = {}
    for m in PHONE.finditer(EMAIL.sub(" ", text)):
        digits = re.sub(r"[^\d+]", "", m.group(0))
        if 7 <= len(digits.lstrip("+")) <= 15 and "+" not in digits[1:]:
            phones[digits] = m
    if len(emails) + len(phones) != 1:
        return None
    if emails:
        match, kind = next(iter(emails.values())), "email"
        value = match.group(0)
        rest = EMAIL.sub(" ", text)
    else:
        (value, _), kind = next(iter(phones.items())), "phone"
        rest = PHONE.sub(" ", EMAIL.sub(" ", text))
    return ContactDetails(kind, value, _note(rest))


def _note(rest: str) -> str:
    """What is left once the lead-in words and stray punctuation are gone ("best after 3pm")."""
    rest = LEAD_IN.sub(" ", rest)
    rest = re.sub(r"\s+", " ", rest).strip(" ,.;:-–—!?()")
    return rest if re.search(r"[^\W\d_]{2,}", rest) else ""
