"""Understanding patients' own words: the labelled corpora, `prescreen parse`, and the form's use of it."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from actions.corpus import OPPOSITE, score
from actions.evaluator import rules_out
from actions.parsing import parse_for_answer
from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent
CORPUS = yaml.safe_load((ROOT / "tests/corpus/answers.yaml").read_text())
HOLDOUT = yaml.safe_load((ROOT / "tests/corpus/holdout.yaml").read_text())
TODAY = dt.date(2026, 11, 25)


def _report(result) -> str:
    return "\n".join(f"{m.severe or 'miss'}: {m.entry['id']} {m.entry['text']!r} expected "
                     f"{ {k: m.entry[k] for k in ('value', 'status', 'estimate') if k in m.entry} } got {m.got}"
                     for m in result.misses)


def test_the_corpus_is_big_enough_and_well_formed(trial):
    assert len(CORPUS) >= 400
    ids = set(trial.answers) | {"ig_route"}
    assert {e["id"] for e in CORPUS} <= ids
    assert {e["id"] for e in CORPUS} >= set(trial.answers), "every dictionary answer has phrasings"


def test_at_least_97_percent_of_the_corpus_is_understood(trial):
    result = score(trial, CORPUS)
    assert result.accuracy >= 0.97, _report(result)


@pytest.mark.parametrize("name, corpus", [("corpus", CORPUS), ("held-out corpus", HOLDOUT)])
def test_no_yes_is_read_as_no_and_no_date_is_off_beyond_its_vagueness(trial, name, corpus):
    result = score(trial, corpus)
    assert not result.severe, _report(result)


def test_the_held_out_corpus_is_mostly_understood(trial):
    """Phrasings written separately from the first corpus (see README for how the figure was reached)."""
    result = score(trial, HOLDOUT)
    assert result.accuracy >= 0.93, _report(result)


FRESH = sorted((ROOT / "tests/corpus").glob("fresh_*.yaml"))


@pytest.mark.parametrize("path", FRESH, ids=lambda p: p.stem)
def test_the_blind_sets_stay_at_least_where_they_are(trial, path):
    """Regression floors for the blind first-contact sets (their first-contact figures are in README;
    these are today's, after tuning on some of them): no set below 80 %, and at most two opposite
    readings accepted in any set."""
    result = score(trial, yaml.safe_load(path.read_text(encoding="utf-8")))
    assert result.accuracy >= 0.80, _report(result)
    assert result.categories.get(OPPOSITE, 0) <= 2, _report(result)


SPANISH = [("answers_es", 0.80, 2), ("es_fresh_1", 0.755, 7)]


@pytest.mark.parametrize("name, floor, opposites", SPANISH, ids=[s[0] for s in SPANISH])
def test_the_spanish_sets_stay_at_least_where_they_are(trial, name, floor, opposites):
    """Regression floors for the Spanish sets (issue 15), read with the trial's Spanish view: the
    tuning set at today's figure; the held-out set at its first-contact figure (README), never tuned on."""
    path = ROOT / "tests/corpus" / f"{name}.yaml"
    result = score(trial.for_language("es"), yaml.safe_load(path.read_text(encoding="utf-8")))
    assert result.accuracy >= floor, _report(result)
    assert result.categories.get(OPPOSITE, 0) <= opposites, _report(result)


# what the issue names explicitly, as a readable table ------------------------
CASES = [
    ("hiv", "nope", False), ("hiv", "no I don't", False), ("hepatitis_b", "I've never had hepatitis", False),
    ("hiv", "not that I know of", False), ("hiv", "I don't think so", False), ("hiv", "maybe", None),
    ("hiv", "I'm not sure", None), ("hiv", "idk", None), ("hiv", "can't remember", None),
    ("hiv", "never been tested", None), ("ssc_diagnosis", "no, I have lupus", False),
    ("hypertension_uncontrolled", "yes but it's well controlled now", False),
    ("hepatitis_b", "I had the hep B vaccine", False), ("hepatitis_c", "hep C, treated and cured", None),
    ("hepatitis_b", "hep B as a child, it cleared", None), ("hiv", "HIV, undetectable", True),
    ("pregnant_or_breastfeeding", "I'm a man", False), ("pregnant_or_breastfeeding", "post-menopausal", False),
    ("hiv", "I have HIV", True), ("ssc_diagnosis", "CREST", True), ("ssc_subtype", "CREST", "limited"),
    ("ssc_subtype", "limited scleroderma", "limited"), ("ssc_diagnosis", "morphea", False),
    ("ssc_diagnosis", "localized scleroderma", False), ("ssc_subtype", "thick skin on my hands and my belly", "diffuse"),
    ("ssc_subtype", "only my face and fingers", "limited"), ("age", "54", 54), ("age", "I'm 54", 54),
    ("age", "54 years old", 54), ("age", "fifty-four", 54), ("age", "I turned 60 last week", 60),
    ("age", "born 3/4/1970", 56), ("age", "1970-03-04", 56),
    ("rituximab_last_dose", "yesterday", "2026-11-24"), ("rituximab_last_dose", "3 weeks ago", "2026-11-04"),
    ("rituximab_last_dose", "9/14/2026", "2026-09-14"), ("rituximab_last_dose", "14 Sept 2026", "2026-09-14"),
    ("rituximab_last_dose", "2026-09-14", "2026-09-14"), ("rituximab_last_dose", "in August", "2026-08-31"),
    ("rituximab_last_dose", "August 2026", "2026-08-31"), ("rituximab_last_dose", "last March", "2026-03-31"),
    ("rituximab_last_dose", "I get it every 2 weeks", "current"), ("rituximab_last_dose", "still on it", "current"),
    ("rituximab_last_dose", "never", "never"), ("other_biologic", "Actemra", True),
    ("lung_fibrosis", "I have lung fibrosis and ulcers on my fingers", True),
    ("digital_ulcers", "I have lung fibrosis and ulcers on my fingers", True),
]


@pytest.mark.parametrize("answer_id, text, value", CASES, ids=[f"{a}:{t}" for a, t, _ in CASES])
def test_phrasings_named_in_the_issue(trial, answer_id, text, value):
    got = parse_for_answer(trial, answer_id, text, TODAY)
    # typed, a reading that by itself rules the person out is checked back; any other is accepted
    assert got["status"] == ("confirm" if rules_out(trial, {answer_id: value}) else "accepted"), got
    assert got["value"] == value and type(got["value"]) is type(value), got


@pytest.mark.parametrize("answer_id, text", [
    ("age", "0"), ("age", "150"), ("age", "-3"), ("age", "40s"), ("age", "old enough"),
    ("rituximab_last_dose", "2027-01-03"), ("rituximab_last_dose", "I stopped in the spring"),
    ("pulmonary_hypertension", "I have high blood pressure"), ("hiv", "I have lupus"),
    ("serious_infection_past_month", "what counts as serious?"), ("hiv", "asdfgh"), ("hiv", "the weather is nice"),
])
def test_unclear_impossible_or_off_topic_replies_are_asked_again(trial, answer_id, text):
    assert parse_for_answer(trial, answer_id, text, TODAY)["status"] == "reask"


def test_vague_dates_are_estimates_at_their_latest_plausible_day(trial):
    got = parse_for_answer(trial, "ivig_last_dose", "in August", TODAY)
    assert got == {"answer_id": "ivig_last_dose", "value": "2026-08-31", "status": "accepted", "estimate": True}
    assert parse_for_answer(trial, "ivig_last_dose", "about two months ago", TODAY)["estimate"] is True
    assert parse_for_answer(trial, "ivig_last_dose", "3 weeks ago", TODAY)["estimate"] is False


@pytest.mark.parametrize("text, medicine", [("rituxamab 3 weeks ago", "rituximab_last_dose"),
                                            ("remicaid 3 weeks ago", "biologic_last_dose"),
                                            ("humera 3 weeks ago", "biologic_last_dose"),
                                            ("cytoxin 3 weeks ago", "cyclophosphamide_last_dose")])
def test_misspelled_medicines_are_recognised_and_checked_back(trial, text, medicine):
    got = parse_for_answer(trial, medicine, text, TODAY)
    assert got["value"] == "2026-11-04" and got["status"] in ("accepted", "confirm")


def test_a_misspelling_never_turns_into_another_medicine(trial):
    # "rituxamab" is close to rituximab, not to infliximab; at the biologic question it fills nothing there
    assert parse_for_answer(trial, "biologic_last_dose", "rituxamab 3 weeks ago", TODAY)["value"] is None


def test_several_medicines_in_one_message_fill_all_of_them(trial):
    from actions.parsing import parse_answer
    ivig = trial.questions_by_id["ivig"]
    parsed = parse_answer(trial, ivig, "I had Humira and IVIG 3 weeks ago", TODAY)
    assert parsed.answers == {"ivig_last_dose": "2026-11-04"}
    assert parsed.others == {"biologic": {"biologic_last_dose": "2026-11-04"}}


# prescreen parse ------------------------------------------------------------
def test_prescreen_parse_prints_only_json():
    out = subprocess.run([sys.executable, "-m", "bot.cli", "parse", "rituximab_last_dose", "in August",
                          "--today", "2026-11-25"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"answer_id": "rituximab_last_dose", "value": "2026-08-31",
                                      "status": "accepted", "estimate": True}


def test_prescreen_parse_dont_know_is_null_accepted():
    result = CliRunner().invoke(main, ["parse", "hiv", "no idea", "--today", "2026-11-25"])
    assert json.loads(result.stdout) == {"answer_id": "hiv", "value": None, "status": "accepted", "estimate": False}


@pytest.mark.parametrize("args", [["parse", "not_an_id", "yes"], ["parse", "hiv", "yes", "--today", "tomorrow"]])
def test_prescreen_parse_bad_input_exits_2(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2


def test_prescreen_accuracy_prints_the_figures():
    result = CliRunner().invoke(main, ["accuracy", str(ROOT / "tests/corpus/answers.yaml")])
    assert result.exit_code == 0
    assert "understood correctly" in result.stdout and "median" in result.stdout and "severe misreads: 0" in result.stdout
