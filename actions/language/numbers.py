"""Numbers written in words ("fifty-four", "fourty 4")."""

from __future__ import annotations

import re

NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen".split())}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}


def words_to_number(t: str) -> int | None:
    t = re.sub(r"\bfourty\b", "forty", re.sub(r"\bninty\b", "ninety", t))
    m = re.search(r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-](one|two|three|four|five|six|seven|"
                  r"eight|nine|[1-9]))?\b", t)
    if m:
        unit = m.group(2)
        return TENS[m.group(1)] + (int(unit) if unit and unit.isdigit() else NUMBER_WORDS[unit] if unit else 0)
    m = re.search(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", t)
    if m:
        return NUMBER_WORDS[m.group(1)]
    if re.search(r"\b(one|a) hundred\b", t):
        return 100
    return None


