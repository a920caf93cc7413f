"""Huge or odd numbers never crash a turn (issue 14: a 309-digit age crashed the turn on every
retry): every question type reads any number, with any time word, as a reading or as "asked again"."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from actions.parsing import parse_answer

TODAY = dt.date(2026, 11, 25)
NUMBERS = st.one_of(st.integers(min_value=0, max_value=10 ** 400).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(str),
                    st.from_regex(r"\d{1,12}(\.\d{1,6})?", fullmatch=True))
FORMS = st.sampled_from(["{n}", "{n} weeks ago", "{n} months ago", "{n} years ago", "about {n} days ago",
                         "born {n}", "I'm {n}", "{n}/{n}/{n}", "{n}-{n}-{n}", "more than {n} weeks ago",
                         "every {n} weeks", "in {n}", "{n} yrs", "{n}th of march", "march {n}"])


@settings(max_examples=300, deadline=None)
@given(number=NUMBERS, form=FORMS)
def test_any_number_in_any_form_is_read_or_asked_again(trial, number, form):
    text = form.format(n=number)
    for question in trial.questions:
        parsed = parse_answer(trial, question, text, TODAY)
        assert parsed.status in ("accepted", "confirm", "reask")
