"""Properties (hypothesis): no free text makes a parser raise, and the form
never asks a question whose ask_if is false on the answers given so far, nor a
question already answered (unless the patient went back or started over)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from actions.parsing import ACCEPTED, CONFIRM, REASK, parse_answer
from bot.nlu import clean_text
from actions.trial import load_trial
from chatkit import CRITERIA, ELIGIBLE, FICTIONAL, Patient, make_app, question_of, result_of, store_of

TRIALS = {"real": load_trial(CRITERIA), "fictional": load_trial(FICTIONAL)}
QUESTIONS = [(name, q.id) for name, t in TRIALS.items() for q in t.questions]

# Text a patient might type: anything, plus words the parsers look for, glued together.
WORDS = ["yes", "no", "not", "never", "sure", "don't", "know", "still", "taking", "it", "ago", "weeks", "months",
         "3", "54", "2026-08-31", "13/13/2026", "31/02/2026", "last", "march", "in", "august", "born", "1970",
         "i'm", "fifty", "-4", "1e9", "0", "121", "under", "control", "not", "none", "skin", "ulcers", "humira",
         "every", "2", "today", "yesterday", "a", "few", "couple", "of", "years", "/", "'", "-", ".", ",", "🙂",
         "\u2019", "\x00", "\n", "ｙｅｓ", "İ", "ß"]
phrases = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)
any_text = st.one_of(st.text(), st.text(alphabet=st.characters(max_codepoint=0x7f)), phrases)


@pytest.mark.parametrize("trial_name, question_id", QUESTIONS)
@settings(max_examples=60, deadline=None)
@given(text=any_text, today=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_parse_answer_never_raises(trial_name, question_id, text, today):
    trial = TRIALS[trial_name]
    question = trial.questions_by_id[question_id]
    parsed = parse_answer(trial, question, text, today)
    assert parsed.status in (ACCEPTED, CONFIRM, REASK)
    if parsed.status == ACCEPTED:
        assert parsed.answers, "an accepted answer sets at least one answer id"
        assert set(parsed.answers) <= set(trial.answers)
    for answer_id, value in parsed.answers.items():
        from actions.trial import check_answer_value
        assert check_answer_value(trial, answer_id, value) is None, (answer_id, value)
        if trial.answers[answer_id].type == "last_dose" and value not in (None, "never", "current", "not_recent"):
            assert dt.date.fromisoformat(value) <= today, "a last dose is never in the future"


# --- the form, driven at random --------------------------------------------------------------

TRIAL = TRIALS["real"]
DIGRESSIONS = ["go back", "start over", "help", "why do you ask?", "what is this study?"]


@pytest.fixture(scope="module")
def form_app():
    mp = pytest.MonkeyPatch()
    mp.setenv("PRESCREEN_CRITERIA", CRITERIA)
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(os.path.join(folder, "form.sqlite3"))
        yield app
        store_of(app).engine.dispose()
    mp.undo()


def answers_given(slots: dict) -> dict:
    """The dictionary answers of the questions answered so far that apply (question order)."""
    answers: dict = {}
    for q in TRIAL.questions:
        cond = TRIAL.ask_if.get(q.id)
        applies = True if cond is None else cond.evaluate(answers)
        value = slots.get(q.id)
        if applies is True and isinstance(value, dict):
            answers.update(value.get("answers", {}))
    return answers


def slots_now(app, sender: str) -> dict:
    from bot.engine import replay
    engine = app.extensions["prescreen"].dialogue_engine
    return replay(engine.dialogue, store_of(app).events(sender)).slots


# Each move: mostly the answer of a patient who could take part (so the form gets deep),
# else a random button of the question, random text, or a digression.
move = st.tuples(
    st.sampled_from(["eligible"] * 8 + ["button"] * 2 + ["text"] * 2 + ["digression"]),
    st.integers(min_value=0, max_value=20),
    any_text,
    st.sampled_from(DIGRESSIONS),
)


@pytest.mark.slow
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(moves=st.lists(move, min_size=15, max_size=50))
def test_the_form_only_asks_questions_that_apply_and_never_twice(form_app, moves):
    patient = Patient(form_app.test_client())
    patient.says("hi")
    patient.taps("Start")
    answered: list[str] = []          # questions the bot moved on from, since the last start over
    for kind, number, text, digression in moves:
        before = patient.asked
        if before is None:            # the result came (or a digression without a question)
            break
        buttons = patient.buttons
        if kind == "eligible":
            step = ELIGIBLE[before]
            if step.startswith("tap:") and not any(b["title"] == step[4:] for b in buttons):
                message = buttons[0]["payload"]   # a "Just to check" step is open: confirm it
            else:
                message = patient.button(step[4:])["payload"] if step.startswith("tap:") else step
        elif kind == "button":
            message = buttons[number % len(buttons)]["payload"] if buttons else str(number + 18)
        elif kind == "text":
            message = text[:200]
        else:
            message = digression
        if not clean_text(message).strip():
            continue  # the channel refuses a message of only spaces and control characters (tested elsewhere)
        replies = patient.says(message)
        if result_of(replies) is not None and question_of(replies) is None:
            break
        asked = patient.asked
        if asked is None:
            # "stop", "delete my answers" or the like typed at random: the test ends here
            break
        # (a) the question asked applies on the answers given so far
        slots = slots_now(form_app, patient.sender)
        cond = TRIAL.ask_if.get(asked)
        if cond is not None:
            assert cond.evaluate(answers_given(slots)) is True, \
                f"{asked} asked although its ask_if is not true on {answers_given(slots)}"
        assert slots.get("requested_slot") == asked
        # (b) no question is asked twice unless the patient went back or started over
        intent = patient_intent(form_app, patient.sender)
        if intent == "restart":
            answered = []
            assert asked == "age"
            continue
        if intent == "go_back":
            if asked in answered:
                answered.remove(asked)
            continue
        if asked != before:
            if before not in answered:
                answered.append(before)
            assert asked not in answered, f"{asked} asked again after it was answered ({answered})"
    event(f"got as far as question {len(answered) // 5 * 5}-{len(answered) // 5 * 5 + 4}")


def patient_intent(app, sender: str) -> str | None:
    events = store_of(app).events(sender)
    user = [e for e in events if e.get("event") == "user"]
    return user[-1]["parse_data"]["intent"]["name"] if user else None


def answer_values(spec):
    """Values an answer of this type can hold (and None: "don't know")."""
    if spec.type == "integer":
        return st.one_of(st.none(), st.integers(min_value=spec.min or 0, max_value=spec.max or 120))
    if spec.type == "boolean":
        return st.one_of(st.none(), st.booleans())
    if spec.type == "choice":
        return st.one_of(st.none(), st.sampled_from(spec.values))
    return st.one_of(st.none(), st.sampled_from(["never", "current", "not_recent"]),
                     st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2027, 12, 31)).map(dt.date.isoformat))


@pytest.mark.parametrize("trial_name", sorted(TRIALS))
@settings(max_examples=300, deadline=None)
@given(data=st.data(), today=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 12, 31)))
def test_the_forms_quick_rule_out_check_agrees_with_the_evaluator(trial_name, data, today):
    """The form stops early on `rules_out` (no result built): it must say exactly what the
    evaluator's verdicts say, for any answers, some not asked, some unknown."""
    from actions.evaluator import evaluate, rules_out
    trial = TRIALS[trial_name]
    answers = {}
    for answer_id, spec in trial.answers.items():
        if data.draw(st.booleans(), label=f"{answer_id} asked"):
            answers[answer_id] = data.draw(answer_values(spec), label=answer_id)
    verdicts = [c["verdict"] for c in evaluate(trial, answers, today)["criteria"]]
    event(f"rules out: {'fail' in verdicts}")
    assert rules_out(trial, answers) == ("fail" in verdicts)
