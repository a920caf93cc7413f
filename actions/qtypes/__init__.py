"""Question types, registered by the name a criteria file gives in `type`.

Each type lives in its own module and follows `QuestionType` (base.py): the
fields it uses and their checks, the answers it fills, its buttons, and how it
reads a reply. A new kind of question for another trial is one new module
here, added to `QUESTION_TYPES`, and one test file.
"""

from __future__ import annotations

from actions.qtypes.age import Age
from actions.qtypes.base import COMMON_FIELDS, QuestionType
from actions.qtypes.choice import ChoiceType
from actions.qtypes.last_dose import LAST_DOSE_WORDS, LastDose
from actions.qtypes.multi import Multi
from actions.qtypes.yes_no import YesNo

QUESTION_TYPES: dict[str, QuestionType] = {t.name: t for t in (YesNo(), Age(), ChoiceType(), Multi(), LastDose())}

__all__ = ["COMMON_FIELDS", "LAST_DOSE_WORDS", "QUESTION_TYPES", "QuestionType"]
