"""A made-up trial (tests/fixtures/fictional_trial.yaml) decided by the same code.

Other questions, answer ids, minimum age and washouts than the real trial, and a
recruiting status: if any fact of NCT00506831 lived in the code, these would fail.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from actions.evaluator import AnswersError, check_answers, evaluate
from bot.cli import main

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "fictional_trial.yaml"

BASELINE = {
    "years_old": 45,
    "ejs_diagnosed": True,
    "ejs_stage": "early",
    "on_dialysis": False,
    "liver_enzymes_high": False,
    "steroid_shot_last_dose": "never",
    "examplumab_last_dose": "never",
}

CRITERIA = {
    "forty_or_older": ("inclusion", ["years_old"]),
    "early_ejs": ("inclusion", ["ejs_diagnosed", "ejs_stage"]),
    "dialysis": ("exclusion", ["on_dialysis"]),
    "liver": ("exclusion", ["liver_enzymes_high"]),
    "steroid_shot_washout": ("exclusion", ["steroid_shot_last_dose"]),
    "examplumab_washout": ("exclusion", ["examplumab_last_dose"]),
}

ABSENT = object()
TODAY = "2026-05-01"
ELIGIBLE, REVIEW, WASHOUT, NOT = "likely_eligible", "needs_review", "eligible_after_washout", "not_eligible"


def case(case_id, changes, today, outcome, eligible_from, verdicts):
    """One row: changes to BASELINE, the site date, and what should come out."""
    return pytest.param(changes, today, outcome, eligible_from, verdicts, id=case_id)


CASES = [
    case("baseline", {}, TODAY, ELIGIBLE, None, {}),
    case("age-39", {"years_old": 39}, TODAY, NOT, None, {"forty_or_older": "fail"}),
    case("age-40", {"years_old": 40}, TODAY, ELIGIBLE, None, {"forty_or_older": "pass"}),
    case("age-18-too-young-here", {"years_old": 18}, TODAY, NOT, None, {"forty_or_older": "fail"}),
    case("late-stage", {"ejs_stage": "late"}, TODAY, NOT, None, {"early_ejs": "fail"}),
    case("stage-null", {"ejs_stage": None}, TODAY, REVIEW, None, {"early_ejs": "unknown"}),
    # not diagnosed, so the stage was never asked: all(false, unknown) is false
    case("not-diagnosed-stage-not-asked", {"ejs_diagnosed": False, "ejs_stage": ABSENT}, TODAY, NOT, None,
         {"early_ejs": "fail"}),
    case("dialysis", {"on_dialysis": True, "examplumab_last_dose": ABSENT}, TODAY, NOT, None,
         {"dialysis": "fail", "examplumab_washout": "unknown"}),
    case("liver-yes-is-for-staff", {"liver_enzymes_high": True}, TODAY, REVIEW, None, {"liver": "unknown"}),
    # steroid injection: + 14 days (2026-05-01 -> 2026-05-15)
    case("steroid-day-before", {"steroid_shot_last_dose": "2026-05-01"}, "2026-05-14", WASHOUT, "2026-05-15",
         {"steroid_shot_washout": "wait 2026-05-15"}),
    case("steroid-end-day", {"steroid_shot_last_dose": "2026-05-01"}, "2026-05-15", ELIGIBLE, None,
         {"steroid_shot_washout": "pass"}),
    case("steroid-current", {"steroid_shot_last_dose": "current"}, TODAY, REVIEW, None,
         {"steroid_shot_washout": "unknown"}),
    # examplumab: + 3 calendar months (2025-11-30 -> 2026-02-28, no 30 February)
    case("examplumab-day-before", {"examplumab_last_dose": "2025-11-30"}, "2026-02-27", WASHOUT, "2026-02-28",
         {"examplumab_washout": "wait 2026-02-28"}),
    case("examplumab-end-day", {"examplumab_last_dose": "2025-11-30"}, "2026-02-28", ELIGIBLE, None,
         {"examplumab_washout": "pass"}),
    case("two-washouts", {"steroid_shot_last_dose": "2026-04-25", "examplumab_last_dose": "2026-03-10"},
         TODAY, WASHOUT, "2026-06-10",
         {"steroid_shot_washout": "wait 2026-05-09", "examplumab_washout": "wait 2026-06-10"}),
    case("unknown-and-washout", {"liver_enzymes_high": None, "steroid_shot_last_dose": "2026-04-25"},
         TODAY, REVIEW, "2026-05-09", {"liver": "unknown", "steroid_shot_washout": "wait 2026-05-09"}),
    case("fail-and-washout", {"years_old": 30, "examplumab_last_dose": "2026-03-10"}, TODAY, NOT, None,
         {"forty_or_older": "fail", "examplumab_washout": "wait 2026-06-10"}),
]


def answers_for(changes: dict) -> dict:
    merged = {**BASELINE, **changes}
    return {k: v for k, v in merged.items() if v is not ABSENT}


@pytest.mark.parametrize("changes, today, outcome, eligible_from, verdicts", CASES)
def test_fictional_table(fictional_trial, result_validator, changes, today, outcome, eligible_from, verdicts):
    answers = answers_for(changes)
    result = evaluate(fictional_trial, answers, dt.date.fromisoformat(today))

    result_validator.validate(result)
    assert (result["outcome"], result["eligible_from"]) == (outcome, eligible_from)
    assert [c["id"] for c in result["criteria"]] == list(CRITERIA)
    for crit in result["criteria"]:
        kind, used = CRITERIA[crit["id"]]
        verdict, _, until = verdicts.get(crit["id"], "pass").partition(" ")
        assert (crit["verdict"], crit["until"]) == (verdict, until or None), crit["id"]
        assert crit["kind"] == kind
        assert crit["answers"] == {a: answers.get(a) for a in used}
    # staff are asked to check every unknown; once someone is ruled out, only what they actually answered
    to_check = [c for c in result["criteria"] if c["verdict"] == "unknown" and
                (outcome != "not_eligible" or any(a in answers for a in c["answers"]))]
    assert sorted(result["to_check"]) == sorted({c["reason"] for c in to_check})

    assert result["status_notice"] is None  # recruiting
    assert result["trial_id"] == "FICTIONAL-0001"
    assert result["criteria_version"] == "0.3"
    assert result["today"] == today
    assert result["contact"]["organisation"] == "Example Research Clinic"
    assert result["contact"]["phone"] == "555-0142"
    assert result["contact"]["email"].endswith("@example.org")


def test_fixture_is_clearly_fictional_and_loads_cleanly(fictional_trial):
    model = fictional_trial.model
    assert "Fictional" in model.title and "Examplinib" in model.drug
    assert model.status == "recruiting" and model.contact_opt_in is True
    # it has a phone number and an e-mail: the only warning is its unreviewed (made-up) Spanish
    assert [w for w in fictional_trial.warnings if "not marked as reviewed" not in w] == []
    assert not set(fictional_trial.answers) & {"age", "ssc_diagnosis", "hiv", "ivig_last_dose"}


def test_ask_if_uses_the_same_condition_language(fictional_trial):
    stage, examplumab = fictional_trial.ask_if["stage"], fictional_trial.ask_if["examplumab"]
    assert stage.evaluate({"ejs_diagnosed": True}) is True
    assert stage.evaluate({"ejs_diagnosed": False}) is False
    assert stage.evaluate({"ejs_diagnosed": None}) is None
    assert stage.evaluate({}) is None
    assert examplumab.evaluate({"on_dialysis": False}) is True
    assert examplumab.evaluate({"on_dialysis": True}) is False
    assert fictional_trial.ask_if["how_old"] is None


def test_current_reason_names_the_fictional_medicine(fictional_trial):
    result = evaluate(fictional_trial, {**BASELINE, "examplumab_last_dose": "current"}, dt.date(2026, 5, 1))
    crit = next(c for c in result["criteria"] if c["id"] == "examplumab_washout")
    assert crit["verdict"] == "unknown"
    assert "stop examplumab" in crit["reason"] and "3 months" in crit["reason"]


def test_answers_are_checked_against_this_trials_dictionary(fictional_trial):
    assert check_answers(fictional_trial, BASELINE) == BASELINE
    with pytest.raises(AnswersError) as err:
        check_answers(fictional_trial, {"age": 54})  # the real trial's id
    assert err.value.field == "age"
    with pytest.raises(AnswersError) as err:
        check_answers(fictional_trial, {"years_old": 111})  # this trial's max is 110
    assert err.value.field == "years_old"
    with pytest.raises(AnswersError) as err:
        check_answers(fictional_trial, {"ejs_stage": "diffuse"})
    assert err.value.field == "ejs_stage"


def test_cli_check_and_evaluate_with_the_fictional_file(tmp_path):
    runner = CliRunner()
    checked = runner.invoke(main, ["check", str(FIXTURE)])
    assert checked.exit_code == 0, checked.output
    assert "FICTIONAL-0001" in checked.stdout
    assert [line for line in checked.stderr.splitlines()
            if line.startswith("warning") and "not marked as reviewed" not in line] == []

    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({**BASELINE, "examplumab_last_dose": "2026-03-10"}))
    result = runner.invoke(main, ["evaluate", "--criteria", str(FIXTURE), "--today", TODAY, str(answers)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["outcome"], data["eligible_from"]) == (WASHOUT, "2026-06-10")
    assert data["status_notice"] is None
