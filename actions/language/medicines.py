"""The trial's medicine names in a reply: exact names first, then close misspellings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from actions.language.words import normalize, phrase_pattern

if TYPE_CHECKING:
    from actions.trial import Trial

@dataclass(frozen=True)
class MedicineIndex:
    """Every medicine name of a trial -> the question and answer it belongs to."""

    names: tuple[str, ...]
    owners: tuple[tuple[str, str], ...]   # (question id, answer id) per name


_index_cache: dict[int, MedicineIndex] = {}


def medicine_index(trial: Trial) -> MedicineIndex:
    """The trial's medicine names: last-dose questions' `medicines`, other-biologic `names`."""
    index = _index_cache.get(id(trial))
    if index is None:
        names, owners = [], []
        for q in trial.questions:
            for w in q.medicines:
                names.append(normalize(w))
                owners.append((q.id, q.answer))
        index = _index_cache[id(trial)] = MedicineIndex(tuple(names), tuple(owners))
    return index


def find_medicines(trial: Trial, t: str) -> list[tuple[int, str, str, bool]]:
    """Medicines named in normalized text: (position, question id, answer id, exact)."""
    index = medicine_index(trial)
    found: dict[str, tuple[int, str, str, bool]] = {}
    taken: list[tuple[int, int]] = []
    for name, (qid, aid) in sorted(zip(index.names, index.owners), key=lambda x: -len(x[0])):
        for m in phrase_pattern(name).finditer(t):
            if any(a <= m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            if aid not in found or m.start() < found[aid][0]:
                found[aid] = (m.start(), qid, aid, True)
    for m in re.finditer(r"[a-z][a-z\-]{5,}", t):
        if any(a <= m.start() < b for a, b in taken):
            continue
        best = process.extract(m.group(0), index.names, scorer=fuzz.ratio, limit=3, score_cutoff=80)
        if not best:
            continue
        top_owner = index.owners[best[0][2]]
        rivals = [b for b in best[1:] if index.owners[b[2]][1] != top_owner[1] and b[1] >= best[0][1] - 6]
        if rivals:
            continue  # two different medicines about as close: never guess
        qid, aid = top_owner
        if aid not in found:
            found[aid] = (m.start(), qid, aid, False)
    return sorted(found.values())


