"""What a reply means: `Parsed`, and the three things the bot can do with it.

ACCEPTED: the reading counts. CONFIRM: it is checked back with the patient
first ("Just to check: ..."). REASK: the reply gave no reading; the question is
asked again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACCEPTED, CONFIRM, REASK = "accepted", "confirm", "reask"


@dataclass
class Parsed:
    """What an answer means: dictionary values, a status and an estimate flag.

    `others` holds answers to *other* questions the same message gave
    (question id -> answers), e.g. a second medicine named in passing.
    `fallback` is what a vague reply would mean if the patient cannot be more
    precise (asked once more first). `question_back` marks a question from the
    patient ("what counts as serious?"), which is answered, not counted as an
    unclear answer.
    """

    answers: dict[str, Any] = field(default_factory=dict)
    status: str = REASK
    estimate: bool = False
    others: dict[str, dict[str, Any]] = field(default_factory=dict)
    fallback: dict[str, Any] | None = None
    question_back: bool = False
    choice_value: Any = None

    @property
    def unknown(self) -> bool:
        return self.status == ACCEPTED and bool(self.answers) and all(v is None for v in self.answers.values())

