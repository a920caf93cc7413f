"""Readings that generalise (issue 12): each cue speaks for its own clause (actions/language/context.py).
The phrasings are the kinds of failure the issue names, in our own words; the regression corpora
and the fresh first-contact sets (tests/corpus) measure the rest."""

from __future__ import annotations

import datetime as dt

import pytest

from actions.parsing import parse_answer

TODAY = dt.date(2026, 11, 25)


def read(trial, question_id, text):
    parsed = parse_answer(trial, trial.questions_by_id[question_id], text, TODAY)
    return parsed.status, parsed.answers


CLAUSE_CUES = [
    # a "no" after an echo of the question
    ("hiv", "HIV?? nah none", "accepted", {"hiv": False}),
    ("hepatitis_c", "hep c? nope", "accepted", {"hepatitis_c": False}),
    # someone else's illness is not the patient's
    ("heart", "my dad has heart failure, not me", "accepted", {"heart_failure_uncontrolled": False}),
    # only about a relative: most often someone typing for the patient, so read and checked back
    ("hepatitis_c", "my mom had hep C", "confirm", {"hepatitis_c": True}),
    ("features", "my sister has lung scarring, I have sores on my fingers", "accepted",
     {"digital_ulcers": True, "lung_fibrosis": None}),
    # a past event outside the question's window (criteria.yaml: window_days)
    ("serious_infection", "pneumonia in the summer, fine since", "accepted", {"serious_infection_past_month": False}),
    ("serious_infection", "I was hospitalized with sepsis in 2019", "accepted",
     {"serious_infection_past_month": False}),
    ("pregnancy", "currently pregnant, due in march", "confirm", {"pregnant_or_breastfeeding": True}),
    # control status in the patient's own words: on a medicine is controlled, "even on meds" is not
    # (no clinical thresholds in code: the numbers of a reading are not judged)
    ("heart", "on two pills for my blood pressure, it runs 120/80", "accepted", {"hypertension_uncontrolled": False}),
    ("heart", "blood pressure is 170/105 even on meds", "accepted", {"hypertension_uncontrolled": True}),
    # the question's own polarity (criteria.yaml: polarity: negative): the negative restated means
    # yes, checked back unless a plain yes says the same; a bare no is never flipped
    ("refractory", "no, it hasn't helped", "confirm", {"refractory": True}),
    ("refractory", "yes it didn't help enough", "accepted", {"refractory": True}),
    ("refractory", "no", "confirm", {"refractory": False}),     # rules out: checked back, never flipped
    # a vaccine is not the disease
    ("hepatitis_b", "had the hep B vaccine series", "accepted", {"hepatitis_b": False}),
    ("other_biologic", "cimzia shots", "accepted", {"other_biologic": True}),
    # hedges are checked back; what the criteria file says staff must check is unknown
    ("hiv", "I think so", "confirm", {"hiv": True}),
    ("hepatitis_c", "had hep c but got cured with harvoni in 2018", "accepted", {"hepatitis_c": None}),
]


@pytest.mark.parametrize("question_id, text, answer_id, value", [
    ("hiv", "yes I have HIV", "hiv", True),
    ("diagnosis", "morphea", "ssc_diagnosis", False),
    ("age", "17", "age", 17),
    ("features", "none of these", "skin_worsening", False),
])
def test_a_typed_reading_that_rules_out_is_checked_back_and_a_tap_is_not(trial, question_id, text, answer_id, value):
    question = trial.questions_by_id[question_id]
    typed = parse_answer(trial, question, text, TODAY)
    assert typed.status == "confirm" and typed.answers[answer_id] == value
    assert parse_answer(trial, question, text, TODAY, tapped=True).status == "accepted"


GENERAL_PATTERNS = [
    # grouped questions: each option's own part of the reply; "all except"; "the skin one"
    ("features", "all of them except the blood pressure one", "accepted",
     {"skin_worsening": True, "pulmonary_hypertension": False, "digital_ulcers": True}),
    ("features", "the skin one", "accepted", {"skin_worsening": True}),
    ("heart", "BP yes, heart failure no", "accepted",
     {"hypertension_uncontrolled": True, "heart_failure_uncontrolled": False}),
    ("heart", "CHF well controlled, BP fine", "accepted",
     {"heart_failure_uncontrolled": False, "hypertension_uncontrolled": False}),
    # a choice: a negated or somebody else's mention is not the patient's; a yes with the words of
    # "No" is checked back
    ("diagnosis", "I have raynauds but nobody ever said scleroderma", "confirm", {"ssc_diagnosis": False}),
    ("diagnosis", "my sister has scleroderma, not me", "confirm", {"ssc_diagnosis": False}),
    ("diagnosis", "yes the localized kind on my arm", "confirm", {"ssc_diagnosis": False}),   # the specific term decides
    ("diagnosis", "yes, diffuse, not limited", "accepted", {"ssc_diagnosis": True, "ssc_subtype": "diffuse"}),
    # minimisers on a question about something serious or significant: probably a no, checked back
    ("serious_infection", "sinus infection, nothing major", "confirm", {"serious_infection_past_month": False}),
    ("labs", "slightly low white count but they said its fine", "confirm", {"blood_kidney_liver_problem": False}),
    # last doses: an echo then a no, somebody else, holidays, "until", a next dose booked
    ("cyclophosphamide", "Cytoxan? no", "accepted", {"cyclophosphamide_last_dose": "never"}),
    ("cyclophosphamide", "my wife had it last month", "confirm", {"cyclophosphamide_last_dose": "2026-10-31"}),
    ("ivig", "had octagam around easter", "accepted", {"ivig_last_dose": "2026-04-05"}),
    ("rituximab", "last round was around memorial day", "accepted", {"rituximab_last_dose": "2026-05-25"}),
    ("biologic", "humira until 2023, stopped because it didnt work", "accepted", {"biologic_last_dose": "2023-12-31"}),
    ("biologic", "on enbrel now", "accepted", {"biologic_last_dose": "current"}),
    ("rituximab", "my next rituximab is scheduled for december, last one was in june", "accepted",
     {"rituximab_last_dose": "current"}),
    ("age", "72 in january", "accepted", {"age": 71}),
    # round three: proxies, someone else's age, ages in words, other questions' conditions, normal
    # results, "all fine", resolved, more date forms, a start still to come
    ("age", "my mum is 77, I'm filling this in for her", "accepted", {"age": 77}),
    ("age", "52. my husband is 60 but hes not the patient", "accepted", {"age": 52}),
    ("age", "66 turning 67 in jan", "accepted", {"age": 66}),
    ("age", "fourty 4", "accepted", {"age": 44}),
    ("hepatitis_b", "no, but hep C yes", "accepted", {"hepatitis_b": False}),
    ("labs", "Blood tests fine. kidney fine. liver fine.", "accepted", {"blood_kidney_liver_problem": False}),
    ("refractory", "just diagnosed last month, no meds yet", "confirm", {"refractory": False}),
    ("hiv", "\U0001F44E", "accepted", {"hiv": False}),
    ("heart", "had stents put in 2018, no problems since", "accepted", {"coronary_disease_uncontrolled": False}),
    ("ivig", "on christmas eve last year", "accepted", {"ivig_last_dose": "2025-12-24"}),
    ("biologic", "Infliximab 2017-2020", "accepted", {"biologic_last_dose": "2020-12-31"}),
    ("cyclophosphamide", "stopped in jan '25", "accepted", {"cyclophosphamide_last_dose": "2025-01-31"}),
    ("rituximab", "my rheumatologist wants me to start it next month", "accepted", {"rituximab_last_dose": "never"}),
    ("pregnancy", "No (typing for my dad)", "accepted", {"pregnant_or_breastfeeding": False}),
    # round four (set 6's patterns): a relative after "for" is not who the clause is about, "X is
    # the patient", plural names, "positive", "yes and no", options in their titles' words, "only",
    # "hasn't changed", medicines taken now or not at all, questions back, hedged dates
    ("pregnancy", "still pumping for my daughter", "confirm", {"pregnant_or_breastfeeding": True}),
    ("pregnancy", "my husband is the patient, and no he's not", "accepted", {"pregnant_or_breastfeeding": False}),
    ("labs", "kidneys fine, liver fine", "accepted", {"blood_kidney_liver_problem": False}),
    ("labs", "renal crisis years back, kidneys are ok now", "confirm", {"blood_kidney_liver_problem": False}),
    ("hiv", "positive since 2010", "confirm", {"hiv": True}),
    ("hepatitis_b", "yes and no", "reask", {}),
    ("features", "everything except the lung pressure one", "accepted",
     {"skin_worsening": True, "lung_fibrosis": True, "pulmonary_hypertension": False, "digital_ulcers": True}),
    ("features", "scarring lungs. not the skin one", "accepted", {"lung_fibrosis": True, "skin_worsening": False}),
    ("features", "only ILD", "accepted", {"lung_fibrosis": True, "skin_worsening": False, "digital_ulcers": False}),
    ("features", "high blood pressure", "reask", {}),
    ("heart", "pulmonary hypertension in my lungs", "reask", {}),
    ("heart", "I take losartan for it", "confirm", {"hypertension_uncontrolled": False}),
    ("heart", "HBP and CHF, both well controlled", "accepted",
     {"hypertension_uncontrolled": False, "heart_failure_uncontrolled": False}),
    ("ivig", "on it", "accepted", {"ivig_last_dose": "current"}),
    ("biologic", "I'm on Enbrel", "accepted", {"biologic_last_dose": "current"}),
    ("cyclophosphamide", "I'm on mycophenolate not cytoxan", "accepted", {"cyclophosphamide_last_dose": "never"}),
    ("biologic", "Humira for years, stopped 2021", "accepted", {"biologic_last_dose": "2021-12-31"}),
    ("cyclophosphamide", "is that chemo? I had chemo in 2015", "confirm", {"cyclophosphamide_last_dose": "2015-12-31"}),
    ("cyclophosphamide", "two months ago I think", "confirm", {"cyclophosphamide_last_dose": "2026-09-25"}),
    ("serious_infection", "not sure what counts as serious", "reask", {}),
    ("age", "I will be 61 on march 2", "accepted", {"age": 60}),
    ("age", "45 but I feel 90", "accepted", {"age": 45}),
]

# a "no" just before the next option's name belongs to that option; healed or getting better is not
# present now
OWN_NEGATION = [("features", text, "accepted", answers) for text, answers in [
    ("I have ILD but no PAH", {"lung_fibrosis": True, "pulmonary_hypertension": False}),
    ("skin tighter, no lung scarring, no sores", {"skin_worsening": True, "lung_fibrosis": False,
                                                  "digital_ulcers": False}),
    ("had ulcers on my fingers last winter but they healed up", {"digital_ulcers": False}),
    ("my skin was getting thicker but it's actually softening now", {"skin_worsening": False}),
]]


@pytest.mark.parametrize("question_id, text, status, answers", CLAUSE_CUES + GENERAL_PATTERNS + OWN_NEGATION)
def test_each_cue_speaks_for_its_own_clause(trial, question_id, text, status, answers):
    got_status, got = read(trial, question_id, text)
    assert got_status == status, (got_status, got)
    assert {k: got.get(k) for k in answers} == answers, got

