"""The staff-screen test data (python -m bot.staff.seed): random patients talking to the real
engine must mostly reach a result, or the benchmark database has no outcomes to filter on."""

from __future__ import annotations

import random

from bot.staff.seed import make_templates
from chatkit import CRITERIA, TODAY


def test_random_patients_mostly_reach_a_result():
    templates = make_templates(12, CRITERIA, random.Random(1), TODAY)
    outcomes = [t.turns[-1][1]["outcome"] for t in templates if t.turns]
    assert sum(o is not None for o in outcomes) >= 9, outcomes
