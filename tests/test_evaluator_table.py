"""The evaluator on the real trial (criteria.yaml, NCT00506831), as a table of cases.

Each case starts from BASELINE, an adult who is likely eligible, changes a few
answers, and states the expected outcome, `eligible_from` and the verdicts of
the criteria that matter. Every criterion a case does not name must pass.
Verdicts are written as "pass", "fail", "unknown" or "wait YYYY-MM-DD" (the
`until` day: the first day a first dose is allowed).
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.evaluator import evaluate
from actions.trial import load_trial

# A likely-eligible adult: every dictionary answer given, nothing in the way.
BASELINE = {
    "age": 54,
    "ssc_diagnosis": True,
    "ssc_subtype": "diffuse",
    "refractory": True,
    "skin_worsening": True,
    "lung_fibrosis": False,
    "pulmonary_hypertension": False,
    "digital_ulcers": False,
    "heart_failure_uncontrolled": False,
    "hypertension_uncontrolled": False,
    "coronary_disease_uncontrolled": False,
    "hiv": False,
    "hepatitis_b": False,
    "hepatitis_c": False,
    "serious_infection_past_month": False,
    "blood_kidney_liver_problem": False,
    "pregnant_or_breastfeeding": False,
    "other_biologic": False,
    "ivig_last_dose": "never",
    "cyclophosphamide_last_dose": "never",
    "biologic_last_dose": "never",
    "rituximab_last_dose": "never",
}

# The criteria of criteria.yaml in file order, with the answer ids each one uses.
CRITERIA = {
    "adult": ("inclusion", ["age"]),
    "ssc_diagnosis": ("inclusion", ["ssc_diagnosis"]),
    "refractory": ("inclusion", ["refractory"]),
    "qualifying_feature": ("inclusion", ["skin_worsening", "lung_fibrosis", "pulmonary_hypertension", "digital_ulcers"]),
    "uncontrolled_heart_or_blood_pressure": (
        "exclusion", ["heart_failure_uncontrolled", "hypertension_uncontrolled", "coronary_disease_uncontrolled"]),
    "hiv": ("exclusion", ["hiv"]),
    "hepatitis_b": ("exclusion", ["hepatitis_b"]),
    "hepatitis_c": ("exclusion", ["hepatitis_c"]),
    "serious_infection": ("exclusion", ["serious_infection_past_month"]),
    "blood_kidney_liver": ("exclusion", ["blood_kidney_liver_problem"]),
    "ivig_washout": ("exclusion", ["ivig_last_dose"]),
    "cyclophosphamide_washout": ("exclusion", ["cyclophosphamide_last_dose"]),
    "biologic_washout": ("exclusion", ["biologic_last_dose"]),
    "rituximab_washout": ("exclusion", ["rituximab_last_dose"]),
    "other_biologic": ("exclusion", ["other_biologic"]),
    "pregnancy": ("exclusion", ["pregnant_or_breastfeeding"]),
}

ABSENT = object()         # in `changes`: the answer is left out ("not asked")
ALL_NULL = "all null"     # as `changes`: every answer is null ("don't know")
ALL_ABSENT = "all absent"  # as `changes`: no answer at all

TODAY = "2026-03-01"

ELIGIBLE, REVIEW, WASHOUT, NOT = "likely_eligible", "needs_review", "eligible_after_washout", "not_eligible"


def case(case_id, description, changes, today, outcome, eligible_from, verdicts, *, reasons=None, estimates=()):
    """One row of the table (see the module docstring)."""
    return pytest.param(description, changes, today, outcome, eligible_from, verdicts, reasons or {}, estimates,
                        id=case_id)


CASES = [
    # --- baseline ---------------------------------------------------------------------------------
    case("baseline", "a likely eligible adult", {}, TODAY, ELIGIBLE, None, {}),
    case("limited-subtype", "the limited type is as good as diffuse", {"ssc_subtype": "limited"},
         TODAY, ELIGIBLE, None, {}),
    case("subtype-null", "diagnosed, type not known: the diagnosis still passes", {"ssc_subtype": None},
         TODAY, ELIGIBLE, None, {"ssc_diagnosis": "pass"}),
    # --- adult --------------------------------------------------------------------------------------
    case("age-17", "a minor is ruled out", {"age": 17}, TODAY, NOT, None, {"adult": "fail"}),
    case("age-18", "exactly 18 is an adult", {"age": 18}, TODAY, ELIGIBLE, None, {"adult": "pass"}),
    case("age-null", "age not known", {"age": None}, TODAY, REVIEW, None, {"adult": "unknown"}),
    case("age-absent", "age not asked", {"age": ABSENT}, TODAY, REVIEW, None, {"adult": "unknown"}),
    # --- ssc_diagnosis ------------------------------------------------------------------------------
    case("diagnosis-no", "no systemic sclerosis diagnosis",
         {"ssc_diagnosis": False, "ssc_subtype": None}, TODAY, NOT, None, {"ssc_diagnosis": "fail"}),
    case("diagnosis-null", "not sure about the diagnosis",
         {"ssc_diagnosis": None, "ssc_subtype": None}, TODAY, REVIEW, None, {"ssc_diagnosis": "unknown"}),
    # --- refractory ---------------------------------------------------------------------------------
    case("refractory-no", "other treatment helped enough", {"refractory": False},
         TODAY, NOT, None, {"refractory": "fail"}),
    case("refractory-null", "does not know whether other treatment helped", {"refractory": None},
         TODAY, REVIEW, None, {"refractory": "unknown"}),
    # --- qualifying_feature -------------------------------------------------------------------------
    case("feature-lung-only", "only lung scarring",
         {"skin_worsening": False, "lung_fibrosis": True}, TODAY, ELIGIBLE, None, {"qualifying_feature": "pass"}),
    case("feature-pah-only", "only pulmonary arterial hypertension",
         {"skin_worsening": False, "pulmonary_hypertension": True}, TODAY, ELIGIBLE, None,
         {"qualifying_feature": "pass"}),
    case("feature-ulcers-only", "only digital ulcers",
         {"skin_worsening": False, "digital_ulcers": True}, TODAY, ELIGIBLE, None, {"qualifying_feature": "pass"}),
    case("feature-none", "none of the four features", {"skin_worsening": False},
         TODAY, NOT, None, {"qualifying_feature": "fail"}),
    case("feature-three-false-one-null", "three features no, one not known",
         {"skin_worsening": False, "digital_ulcers": None}, TODAY, REVIEW, None, {"qualifying_feature": "unknown"}),
    case("feature-one-true-rest-null", "one feature yes is enough even if the others are unknown",
         {"lung_fibrosis": None, "pulmonary_hypertension": None, "digital_ulcers": None},
         TODAY, ELIGIBLE, None, {"qualifying_feature": "pass"}),
    # --- uncontrolled heart or blood pressure (the patient cannot judge "uncontrolled") -------------
    case("heart-failure-yes", "says heart failure is uncontrolled: staff check, not a fail",
         {"heart_failure_uncontrolled": True}, TODAY, REVIEW, None,
         {"uncontrolled_heart_or_blood_pressure": "unknown"}),
    case("hypertension-yes", "says blood pressure is uncontrolled: staff check",
         {"hypertension_uncontrolled": True}, TODAY, REVIEW, None,
         {"uncontrolled_heart_or_blood_pressure": "unknown"}),
    case("coronary-null", "not sure about coronary artery disease",
         {"coronary_disease_uncontrolled": None}, TODAY, REVIEW, None,
         {"uncontrolled_heart_or_blood_pressure": "unknown"}),
    # --- infections -----------------------------------------------------------------------------------
    case("hiv-yes", "HIV", {"hiv": True}, TODAY, NOT, None, {"hiv": "fail"}),
    case("hiv-null", "not sure about HIV", {"hiv": None}, TODAY, REVIEW, None, {"hiv": "unknown"}),
    case("hepatitis-b-yes", "hepatitis B", {"hepatitis_b": True}, TODAY, NOT, None, {"hepatitis_b": "fail"}),
    case("hepatitis-b-null", "not sure about hepatitis B", {"hepatitis_b": None}, TODAY, REVIEW, None,
         {"hepatitis_b": "unknown"}),
    case("hepatitis-c-yes", "hepatitis C", {"hepatitis_c": True}, TODAY, NOT, None, {"hepatitis_c": "fail"}),
    case("hepatitis-c-null", "not sure about hepatitis C", {"hepatitis_c": None}, TODAY, REVIEW, None,
         {"hepatitis_c": "unknown"}),
    case("serious-infection-yes", "a serious infection last month: staff judge how serious",
         {"serious_infection_past_month": True}, TODAY, REVIEW, None, {"serious_infection": "unknown"}),
    case("serious-infection-null", "not sure about an infection",
         {"serious_infection_past_month": None}, TODAY, REVIEW, None, {"serious_infection": "unknown"}),
    # --- blood, kidney, liver ---------------------------------------------------------------------------
    case("labs-yes", "abnormal labs: staff judge 'significant'", {"blood_kidney_liver_problem": True},
         TODAY, REVIEW, None, {"blood_kidney_liver": "unknown"}),
    case("labs-null", "not sure about lab results", {"blood_kidney_liver_problem": None},
         TODAY, REVIEW, None, {"blood_kidney_liver": "unknown"}),
    # --- other biologic: never a silent pass ---------------------------------------------------------
    case("other-biologic-yes", "another biologic: staff check it", {"other_biologic": True},
         TODAY, REVIEW, None, {"other_biologic": "unknown"}),
    case("other-biologic-null", "not sure about other biologics", {"other_biologic": None},
         TODAY, REVIEW, None, {"other_biologic": "unknown"}),
    # --- pregnancy ------------------------------------------------------------------------------------
    case("pregnant-yes", "pregnant or breastfeeding", {"pregnant_or_breastfeeding": True},
         TODAY, NOT, None, {"pregnancy": "fail"}),
    case("pregnant-null", "not sure about pregnancy", {"pregnant_or_breastfeeding": None},
         TODAY, REVIEW, None, {"pregnancy": "unknown"}),
    # --- IVIG: last dose + 28 days (2026-02-01 -> 2026-03-01) -----------------------------------------
    case("ivig-day-before", "IVIG, the day before the washout ends", {"ivig_last_dose": "2026-02-01"},
         "2026-02-28", WASHOUT, "2026-03-01", {"ivig_washout": "wait 2026-03-01"}),
    case("ivig-end-day", "IVIG, the day the washout ends is allowed", {"ivig_last_dose": "2026-02-01"},
         "2026-03-01", ELIGIBLE, None, {"ivig_washout": "pass"}),
    case("ivig-day-after", "IVIG, the day after the washout", {"ivig_last_dose": "2026-02-01"},
         "2026-03-02", ELIGIBLE, None, {"ivig_washout": "pass"}),
    case("ivig-not-recent", "IVIG more than 4 weeks ago", {"ivig_last_dose": "not_recent"},
         TODAY, ELIGIBLE, None, {"ivig_washout": "pass"}),
    case("ivig-current", "still getting IVIG", {"ivig_last_dose": "current"},
         TODAY, REVIEW, None, {"ivig_washout": "unknown"}, reasons={"ivig_washout": "stop"}),
    case("ivig-null", "not sure about IVIG", {"ivig_last_dose": None},
         TODAY, REVIEW, None, {"ivig_washout": "unknown"}),
    case("ivig-absent", "IVIG not asked", {"ivig_last_dose": ABSENT},
         TODAY, REVIEW, None, {"ivig_washout": "unknown"}),
    # --- cyclophosphamide: + 28 days (2026-03-10 -> 2026-04-07) ----------------------------------------
    case("cyclo-day-before", "cyclophosphamide, the day before", {"cyclophosphamide_last_dose": "2026-03-10"},
         "2026-04-06", WASHOUT, "2026-04-07", {"cyclophosphamide_washout": "wait 2026-04-07"}),
    case("cyclo-end-day", "cyclophosphamide, the end day", {"cyclophosphamide_last_dose": "2026-03-10"},
         "2026-04-07", ELIGIBLE, None, {"cyclophosphamide_washout": "pass"}),
    case("cyclo-day-after", "cyclophosphamide, the day after", {"cyclophosphamide_last_dose": "2026-03-10"},
         "2026-04-08", ELIGIBLE, None, {"cyclophosphamide_washout": "pass"}),
    case("cyclo-current", "still taking cyclophosphamide", {"cyclophosphamide_last_dose": "current"},
         TODAY, REVIEW, None, {"cyclophosphamide_washout": "unknown"},
         reasons={"cyclophosphamide_washout": "stop"}),
    # --- the four named biologics: + 56 days (2026-01-05 -> 2026-03-02) -------------------------------
    case("biologic-day-before", "adalimumab, the day before", {"biologic_last_dose": "2026-01-05"},
         "2026-03-01", WASHOUT, "2026-03-02", {"biologic_washout": "wait 2026-03-02"}),
    case("biologic-end-day", "adalimumab, the end day", {"biologic_last_dose": "2026-01-05"},
         "2026-03-02", ELIGIBLE, None, {"biologic_washout": "pass"}),
    case("biologic-day-after", "adalimumab, the day after", {"biologic_last_dose": "2026-01-05"},
         "2026-03-03", ELIGIBLE, None, {"biologic_washout": "pass"}),
    case("biologic-current", "still taking etanercept", {"biologic_last_dose": "current"},
         TODAY, REVIEW, None, {"biologic_washout": "unknown"}, reasons={"biologic_washout": "stop"}),
    # --- rituximab: + 6 calendar months; 31 August -> end of February ---------------------------------
    case("rituximab-plain", "rituximab, mid-month", {"rituximab_last_dose": "2026-01-15"},
         TODAY, WASHOUT, "2026-07-15", {"rituximab_washout": "wait 2026-07-15"}),
    case("rituximab-day-before", "rituximab 2026-08-31, the day before 2027-02-28",
         {"rituximab_last_dose": "2026-08-31"}, "2027-02-27", WASHOUT, "2027-02-28",
         {"rituximab_washout": "wait 2027-02-28"}),
    case("rituximab-end-day", "rituximab 2026-08-31, on 2027-02-28",
         {"rituximab_last_dose": "2026-08-31"}, "2027-02-28", ELIGIBLE, None, {"rituximab_washout": "pass"}),
    case("rituximab-day-after", "rituximab 2026-08-31, on 2027-03-01",
         {"rituximab_last_dose": "2026-08-31"}, "2027-03-01", ELIGIBLE, None, {"rituximab_washout": "pass"}),
    case("rituximab-leap-day-before", "rituximab 2027-08-31 ends on the leap day 2028-02-29",
         {"rituximab_last_dose": "2027-08-31"}, "2028-02-28", WASHOUT, "2028-02-29",
         {"rituximab_washout": "wait 2028-02-29"}),
    case("rituximab-leap-end-day", "rituximab 2027-08-31, on the leap day",
         {"rituximab_last_dose": "2027-08-31"}, "2028-02-29", ELIGIBLE, None, {"rituximab_washout": "pass"}),
    case("rituximab-not-recent", "rituximab more than 6 months ago", {"rituximab_last_dose": "not_recent"},
         TODAY, ELIGIBLE, None, {"rituximab_washout": "pass"}),
    case("rituximab-current", "still getting rituximab", {"rituximab_last_dose": "current"},
         TODAY, REVIEW, None, {"rituximab_washout": "unknown"}, reasons={"rituximab_washout": "stop"}),
    # --- several at once ------------------------------------------------------------------------------
    case("fail-beats-unknown-beats-wait", "HIV, age unknown and an IVIG washout",
         {"hiv": True, "age": None, "ivig_last_dose": "2026-02-20"}, TODAY, NOT, None,
         {"hiv": "fail", "adult": "unknown", "ivig_washout": "wait 2026-03-20"}),
    case("unknown-and-washout", "an infection to check and an IVIG washout",
         {"serious_infection_past_month": True, "ivig_last_dose": "2026-02-20"}, TODAY, REVIEW, "2026-03-20",
         {"serious_infection": "unknown", "ivig_washout": "wait 2026-03-20"}),
    case("current-and-washout", "still on cyclophosphamide, rituximab washout running",
         {"cyclophosphamide_last_dose": "current", "rituximab_last_dose": "2026-01-15"}, TODAY, REVIEW,
         "2026-07-15", {"cyclophosphamide_washout": "unknown", "rituximab_washout": "wait 2026-07-15"}),
    case("two-washouts-months-later", "IVIG and rituximab: the later (rituximab) end counts",
         {"ivig_last_dose": "2026-02-20", "rituximab_last_dose": "2026-01-15"}, TODAY, WASHOUT, "2026-07-15",
         {"ivig_washout": "wait 2026-03-20", "rituximab_washout": "wait 2026-07-15"}),
    case("two-washouts-days-later", "rituximab and cyclophosphamide: the later (cyclophosphamide) end counts",
         {"rituximab_last_dose": "2025-09-10", "cyclophosphamide_last_dose": "2026-02-25"}, TODAY, WASHOUT,
         "2026-03-25", {"rituximab_washout": "wait 2026-03-10", "cyclophosphamide_washout": "wait 2026-03-25"}),
    case("fail-and-washout", "pregnant with a biologic washout running: no eligible_from",
         {"pregnant_or_breastfeeding": True, "biologic_last_dose": "2026-02-01"}, TODAY, NOT, None,
         {"pregnancy": "fail", "biologic_washout": "wait 2026-03-29"}),
    case("two-unknowns-and-two-washouts", "labs and other biologic to check, IVIG and biologic washouts",
         {"blood_kidney_liver_problem": True, "other_biologic": True,
          "ivig_last_dose": "2026-02-10", "biologic_last_dose": "2026-02-01"}, TODAY, REVIEW, "2026-03-29",
         {"blood_kidney_liver": "unknown", "other_biologic": "unknown",
          "ivig_washout": "wait 2026-03-10", "biologic_washout": "wait 2026-03-29"}),
    case("estimated-date", "a washout from an estimated date: staff confirm the date",
         {"ivig_last_dose": "2026-02-20"}, TODAY, WASHOUT, "2026-03-20", {"ivig_washout": "wait 2026-03-20"},
         estimates=("ivig_last_dose",)),
    case("all-null", "every answer is 'don't know': review, never a fail", ALL_NULL, TODAY, REVIEW, None,
         {cid: "unknown" for cid in CRITERIA}),
    case("all-absent", "nothing answered: review, never a fail", ALL_ABSENT, TODAY, REVIEW, None,
         {cid: "unknown" for cid in CRITERIA}),
]


def answers_for(changes) -> dict:
    """BASELINE with `changes` applied (ABSENT drops an answer)."""
    if changes == ALL_NULL:
        return {key: None for key in BASELINE}
    if changes == ALL_ABSENT:
        return {}
    merged = {**BASELINE, **changes}
    return {key: value for key, value in merged.items() if value is not ABSENT}


def expected_verdict(text: str) -> tuple[str, str | None]:
    """'wait 2026-03-01' -> ('wait', '2026-03-01'); 'pass' -> ('pass', None)."""
    verdict, _, until = text.partition(" ")
    return verdict, until or None


def test_table_is_large_enough():
    assert len(CASES) >= 45
    assert len({p.id for p in CASES}) == len(CASES)


def test_table_covers_every_criterion_and_verdict():
    seen = {(cid, expected_verdict(v)[0]) for p in CASES for cid, v in p.values[5].items()}
    for cid in CRITERIA:
        assert (cid, "unknown") in seen, cid
    for cid in ("adult", "ssc_diagnosis", "refractory", "qualifying_feature", "hiv", "hepatitis_b", "hepatitis_c",
                "pregnancy"):
        assert (cid, "fail") in seen, cid
    for cid in ("ivig_washout", "cyclophosphamide_washout", "biologic_washout", "rituximab_washout"):
        assert (cid, "wait") in seen and (cid, "pass") in seen, cid


@pytest.mark.parametrize("description, changes, today, outcome, eligible_from, verdicts, reasons, estimates", CASES)
def test_evaluator_table(trial, result_validator, description, changes, today, outcome, eligible_from, verdicts,
                         reasons, estimates):
    answers = answers_for(changes)
    result = evaluate(trial, answers, dt.date.fromisoformat(today), estimates=estimates)

    result_validator.validate(result)
    assert result["outcome"] == outcome, description
    assert result["eligible_from"] == eligible_from, description

    by_id = {c["id"]: c for c in result["criteria"]}
    assert list(by_id) == list(CRITERIA), "every criterion, in file order, once"
    for cid, crit in by_id.items():
        kind, used = CRITERIA[cid]
        verdict, until = expected_verdict(verdicts.get(cid, "pass"))
        assert (crit["verdict"], crit["until"]) == (verdict, until), f"{description}: {cid}"
        assert crit["kind"] == kind
        assert crit["answers"] == {a: answers.get(a) for a in used}, f"{cid} lists the answers it used"
        assert crit["reason"], f"{cid} has a reason"
        assert crit["reason"] in _reasons(trial, cid).values()
    for cid, words in reasons.items():
        assert words in by_id[cid]["reason"], f"{cid}: reason should mention {words!r}"

    unknown = [c for c in result["criteria"] if c["verdict"] == "unknown"]
    assert bool(result["to_check"]) == bool(unknown or estimates)
    for crit in unknown:
        assert crit["reason"] in result["to_check"]
    if outcome != NOT:
        assert not [c for c in result["criteria"] if c["verdict"] == "fail"]

    assert result["today"] == today
    assert result["trial_id"] == "NCT00506831"
    assert result["criteria_version"] == "1.0.0"
    assert result["status_notice"] and "not recruiting" in result["status_notice"]
    contact = result["contact"]
    assert contact["organisation"] == "Stanford University School of Medicine"
    assert contact["address"] == "300 Pasteur Drive, Stanford, CA 94305"
    assert (contact["phone"], contact["email"], contact["url"]) == ("", "", "")
    assert contact["note"]


def _reasons(trial, cid: str) -> dict:
    crit = next(c for _, c in trial.criteria() if c.id == cid)
    return {k: v for k, v in crit.reasons.model_dump().items() if v}


def test_estimate_names_the_answer_in_to_check(trial):
    answers = {**BASELINE, "rituximab_last_dose": "2026-01-31"}
    result = evaluate(trial, answers, dt.date(2026, 3, 1), estimates=["rituximab_last_dose"])
    assert result["outcome"] == WASHOUT
    assert result["eligible_from"] == "2026-07-31"
    assert len(result["to_check"]) == 1
    assert "2026-01-31" in result["to_check"][0] and "estimate" in result["to_check"][0]


def test_current_medicine_reason_says_stop_and_how_long(trial):
    expected = {"ivig_last_dose": "4 weeks", "cyclophosphamide_last_dose": "4 weeks",
                "biologic_last_dose": "8 weeks", "rituximab_last_dose": "6 months"}
    for answer_id, period in expected.items():
        result = evaluate(trial, {**BASELINE, answer_id: "current"}, dt.date(2026, 3, 1))
        (crit,) = [c for c in result["criteria"] if c["verdict"] != "pass"]
        assert crit["verdict"] == "unknown"
        assert "stop" in crit["reason"] and period in crit["reason"]
        assert result["to_check"] == [crit["reason"]]


def test_result_does_not_depend_on_answer_order(trial):
    answers = {**BASELINE, "hiv": None, "ivig_last_dose": "2026-02-20"}
    reordered = dict(reversed(list(answers.items())))
    assert evaluate(trial, answers, dt.date(2026, 3, 1)) == evaluate(trial, reordered, dt.date(2026, 3, 1))


# An unknown answer never rules anyone out: from the baseline, make any set of
# answers "don't know" (None) or "not asked" (left out); no criterion may fail.
# (The trial is loaded here, not taken from the fixture, to keep hypothesis's reports short.)
@functools.cache
def _real_trial():
    return load_trial(Path(__file__).resolve().parent.parent / "criteria.yaml")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(BASELINE)), st.sampled_from([None, ABSENT])))
def test_unknown_answers_never_fail(changes):
    result = evaluate(_real_trial(), answers_for(changes), dt.date(2026, 3, 1))
    assert "fail" not in {c["verdict"] for c in result["criteria"]}
    assert result["outcome"] in (ELIGIBLE, REVIEW)
    assert result["eligible_from"] is None
