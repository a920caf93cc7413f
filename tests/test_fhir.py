"""The FHIR R4 export (bot/staff/fhir.py): a Questionnaire made from the criteria file and a Bundle of
QuestionnaireResponses of real conversations, validated with the `fhir.resources` models (R4B, the
R4-compatible ones), and checked against each other where the library does not look: every
response item's linkId is a Questionnaire item, every coding one of that item's answerOptions, every
answer of the item's type, every answered item enabled by its enableWhen.

The conversations are those of tests/test_redcap.py (real prescreens through the app).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from actions.trial import load_trial, parse_trial
from bot.cli import main
from test_redcap import FICTIONAL_SENDERS, SENDERS, export_database
from test_staff_helpers import FICTIONAL, ROOT

CRITERIA = str(ROOT / "criteria.yaml")
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
VALUE_KEYS = {"boolean": "valueBoolean", "integer": "valueInteger", "choice": "valueCoding", "date": "valueDate"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return export_database(tmp_path_factory.mktemp("fhir"))


@pytest.fixture()
def db(data, monkeypatch):
    monkeypatch.setenv("PRESCREEN_DATABASE_URL", data["url"])
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    return data


def export(kind: str, *args: str) -> dict:
    result = CliRunner().invoke(main, ["export", "--format", kind, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def enabled(item: dict, answers: dict[str, list[dict]]) -> bool:
    """FHIR's enableWhen on a response's answers (linkId -> answers): `=`, `<`, `>`, `>=` are true when
    at least one answer compares so, and false without an answer."""
    whens = item.get("enableWhen") or []
    if not whens:
        return True

    def holds(when: dict) -> bool:
        key = next(k for k in when if k.startswith("answer"))
        wanted = when[key]
        got = [a[VALUE_KEYS_BY_ANSWER[key]] for a in answers.get(when["question"], [])]
        if key == "answerCoding":
            got, wanted = [(g["system"], g["code"]) for g in got], (wanted["system"], wanted["code"])
        compare = {"=": lambda g: g == wanted, ">=": lambda g: g >= wanted, "<": lambda g: g < wanted,
                   ">": lambda g: g > wanted}[when["operator"]]
        return any(compare(g) for g in got)

    results = [holds(w) for w in whens]
    return all(results) if item.get("enableBehavior", "all") == "all" else any(results)


VALUE_KEYS_BY_ANSWER = {"answerBoolean": "valueBoolean", "answerInteger": "valueInteger",
                        "answerCoding": "valueCoding", "answerDate": "valueDate"}


# the codes R4 binds these elements to (required bindings the models do not check)
ITEM_TYPES = {"group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string", "text",
              "url", "choice", "open-choice", "attachment", "reference", "quantity"}
OPERATORS = {"exists", "=", "!=", ">", "<", ">=", "<="}
PUBLICATION_STATUSES = {"draft", "active", "retired", "unknown"}
RESPONSE_STATUSES = {"in-progress", "completed", "amended", "entered-in-error", "stopped"}


def no_empty_values(value, where: str = "") -> None:
    """FHIR JSON has no empty arrays, objects or strings, and no nulls."""
    assert value not in ([], {}, "", None), f"empty value at {where}"
    if isinstance(value, dict):
        for key, inner in value.items():
            no_empty_values(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            no_empty_values(inner, f"{where}[{n}]")


def check_questionnaire(questionnaire: dict) -> None:
    Questionnaire.model_validate(questionnaire)
    no_empty_values(questionnaire)
    assert questionnaire["status"] in PUBLICATION_STATUSES
    for item in questionnaire["item"]:
        assert item["type"] in ITEM_TYPES
        assert all(w["operator"] in OPERATORS for w in item.get("enableWhen", []))
        assert item.get("enableBehavior", "all") in ("all", "any")
        if len(item.get("enableWhen", [])) > 1:
            assert "enableBehavior" in item          # que-12: required with more than one enableWhen


def check_bundle(questionnaire: dict, bundle: dict) -> list[dict]:
    """Both validate as FHIR R4(B), and every response fits the Questionnaire; the responses."""
    check_questionnaire(questionnaire)
    Bundle.model_validate(bundle)
    no_empty_values(bundle)
    assert bundle["type"] == "collection"
    items = {i["linkId"]: i for i in questionnaire["item"]}
    assert len(items) == len(questionnaire["item"])                     # linkIds are unique
    responses = [e["resource"] for e in bundle.get("entry", [])]
    for response in responses:
        QuestionnaireResponse.model_validate(response)   # Bundle.model_validate does not look inside
        assert response["status"] in RESPONSE_STATUSES
        assert response["questionnaire"].startswith(questionnaire["url"] + "|")
        answers = {i["linkId"]: i.get("answer", []) for i in response.get("item", [])}
        order = [i["linkId"] for i in response.get("item", [])]
        assert order == [link for link in items if link in answers]   # the Questionnaire's order
        for item in response.get("item", []):
            asked = items[item["linkId"]]                               # the linkId exists
            if not item.get("answer"):                                  # don't know: said how
                assert item["extension"] == [{"url": DATA_ABSENT, "valueCode": "asked-unknown"}]
                continue
            (answer,) = item["answer"]
            assert list(answer) == [VALUE_KEYS[asked["type"]]], (item, asked["type"])
            if asked["type"] == "choice":
                assert {"valueCoding": answer["valueCoding"]} in asked["answerOption"], item
            assert enabled(asked, answers), (item["linkId"], asked.get("enableWhen"))
    return responses


def by_reference(responses: list[dict]) -> dict[str, dict]:
    found = {r["identifier"]["value"]: r for r in responses}
    assert len(found) == len(responses)
    return found


def answers_of(response: dict) -> dict[str, object]:
    """linkId -> the answer's value (a coding's code), or "unknown" for a don't-know item."""
    values: dict[str, object] = {}
    for item in response.get("item", []):
        if not item.get("answer"):
            values[item["linkId"]] = "unknown"
            continue
        value = next(iter(item["answer"][0].values()))
        values[item["linkId"]] = value["code"] if isinstance(value, dict) else value
    return values


# -- the real trial ---------------------------------------------------------------------------------

def test_the_questionnaire_is_valid_r4_and_made_from_the_criteria_file(db):
    questionnaire = export("fhir-questionnaire")
    check_questionnaire(questionnaire)
    trial = load_trial(CRITERIA)
    assert questionnaire["url"] == "urn:prescreen:NCT00506831" and questionnaire["version"] == trial.model.version
    assert questionnaire["status"] == "active" and questionnaire["title"] == trial.model.title
    items = {i["linkId"]: i for i in questionnaire["item"]}
    for answer_id, spec in trial.answers.items():
        assert items[answer_id]["text"] == spec.label
        assert items[answer_id]["type"] == {"boolean": "boolean", "integer": "integer", "choice": "choice",
                                            "last_dose": "choice"}[spec.type]
    assert [o["valueCoding"]["code"] for o in items["ssc_subtype"]["answerOption"]] == ["diffuse", "limited"]
    assert {o["valueCoding"]["system"] for o in items["ssc_subtype"]["answerOption"]} == \
        {"urn:prescreen:NCT00506831:ssc_subtype"}
    assert [o["valueCoding"]["code"] for o in items["rituximab_last_dose"]["answerOption"]] == \
        ["date", "never", "current", "not_recent"]
    assert items["rituximab_last_dose_date"]["type"] == "date"
    assert items["rituximab_last_dose_date"]["enableWhen"][0]["answerCoding"]["code"] == "date"
    assert items["refractory"]["enableWhen"] == [{"question": "ssc_diagnosis", "operator": "=", "answerBoolean": True}]
    assert "enableWhen" not in items["ivig_last_dose"]          # filled again by ig_route: no condition
    assert [o["valueCoding"]["code"] for o in items["outcome"]["answerOption"]] == \
        ["likely_eligible", "eligible_after_washout", "needs_review", "not_eligible"]
    assert items["outcome"]["readOnly"] is True and items["eligible_from"]["type"] == "date"
    assert {"url": "http://hl7.org/fhir/StructureDefinition/minValue", "valueInteger": 0} in items["age"]["extension"]


def test_the_bundle_holds_one_valid_response_per_conversation(db):
    questionnaire = export("fhir-questionnaire")
    bundle = export("fhir")
    responses = check_bundle(questionnaire, bundle)
    refs = db["references"]
    found = by_reference(responses)
    assert set(found) == {refs[s] for s in SENDERS.values()}    # the fictional trial's are another trial's
    real = {name: found[refs[sender]] for name, sender in SENDERS.items()}
    for response in responses:
        assert response["identifier"]["system"] == "urn:prescreen:NCT00506831:reference"
        assert response["questionnaire"] == f"urn:prescreen:NCT00506831|{questionnaire['version']}"
        authored = dt.datetime.fromisoformat(response["authored"])
        assert authored.utcoffset() == dt.timedelta(hours=-8)      # Los Angeles in November
        assert abs(authored - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(hours=1)

    likely = answers_of(real["likely"])
    assert (likely["age"], likely["ssc_diagnosis"], likely["ssc_subtype"], likely["hiv"]) == (54, True, "diffuse", False)
    assert (likely["rituximab_last_dose"], likely["outcome"]) == ("never", "likely_eligible")
    assert "rituximab_last_dose_date" not in likely and "eligible_from" not in likely
    assert real["likely"]["status"] == "completed" and real["likely"]["language"] == "en"

    washout = answers_of(real["washout"])
    assert (washout["rituximab_last_dose"], washout["rituximab_last_dose_date"]) == ("date", "2026-09-01")
    assert (washout["outcome"], washout["eligible_from"]) == ("eligible_after_washout", "2027-03-01")

    current = answers_of(real["current"])
    assert (current["ivig_last_dose"], current["hepatitis_b"], current["outcome"]) == ("current", "unknown", "needs_review")

    young = answers_of(real["young"])
    assert young == {"age": 17, "outcome": "not_eligible"}          # nothing else was asked

    gone = real["gone"]
    assert gone["status"] == "in-progress" and "outcome" not in answers_of(gone)

    spanish = real["spanish"]
    assert spanish["language"] == "es" and answers_of(spanish)["ssc_subtype"] == "limited"
    assert answers_of(spanish)["refractory"] is False

    text = json.dumps(bundle)
    for sender in [*SENDERS.values(), *FICTIONAL_SENDERS.values()]:
        assert sender not in text


def test_the_bundle_follows_the_filters_and_an_empty_one_is_valid(db):
    questionnaire = export("fhir-questionnaire")
    refs = db["references"]
    spanish = check_bundle(questionnaire, export("fhir", "--language", "es"))
    assert [r["identifier"]["value"] for r in spanish] == [refs[SENDERS["spanish"]]]
    empty = export("fhir", "--since", "2999-01-01")
    assert check_bundle(questionnaire, empty) == [] and "entry" not in empty    # no empty arrays in FHIR JSON


# -- the fictional trial ----------------------------------------------------------------------------

def test_the_fictional_trial_gets_its_own_questionnaire_and_responses(db, monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", FICTIONAL)
    questionnaire = export("fhir-questionnaire")
    assert questionnaire["url"] == "urn:prescreen:FICTIONAL-0001" and questionnaire["version"] == "0.3"
    items = {i["linkId"]: i for i in questionnaire["item"]}
    assert "age" not in items and "years_old" in items
    # `not: {answer: on_dialysis, is: true}` is a known "no": on_dialysis = false
    assert items["examplumab_last_dose"]["enableWhen"] == [
        {"question": "on_dialysis", "operator": "=", "answerBoolean": False}]
    responses = check_bundle(questionnaire, export("fhir"))
    refs = db["references"]
    found = by_reference(responses)
    assert set(found) == {refs[s] for s in FICTIONAL_SENDERS.values()}
    fine, dialysis, no_age = (answers_of(found[refs[FICTIONAL_SENDERS[n]]]) for n in ("fine", "dialysis", "no_age"))
    assert (fine["years_old"], fine["ejs_stage"], fine["outcome"]) == (45, "early", "likely_eligible")
    assert dialysis["on_dialysis"] is True and "examplumab_last_dose" not in dialysis
    assert no_age["years_old"] == "unknown" and no_age["ejs_stage"] == "late"
    for response in responses:
        assert dt.datetime.fromisoformat(response["authored"]).utcoffset() == dt.timedelta(hours=1)   # Berlin, winter


# -- enableWhen ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ask_if, expected", [
    ({"answer": "ejs_diagnosed", "is": True}, [("ejs_diagnosed", "=", True)]),
    ({"answer": "ejs_diagnosed", "is_not": True}, [("ejs_diagnosed", "=", False)]),
    ({"not": {"answer": "years_old", "at_least": 40}}, [("years_old", "<", 40)]),
    ({"answer": "years_old", "is_not": 40}, [("years_old", "<", 40), ("years_old", ">", 40)]),
    ({"all": [{"answer": "ejs_diagnosed", "is": True}, {"answer": "years_old", "below": 65}]},
     [("ejs_diagnosed", "=", True), ("years_old", "<", 65)]),
    ({"any": [{"answer": "ejs_stage", "is": "early"}, {"answer": "steroid_shot_last_dose", "is_date": True}]},
     [("ejs_stage", "=", "early"), ("steroid_shot_last_dose", "=", "date")]),
    ({"answer": "steroid_shot_last_dose", "in": ["current", "not_recent"]},
     [("steroid_shot_last_dose", "=", "current"), ("steroid_shot_last_dose", "=", "not_recent")]),
    ({"not": {"answer": "steroid_shot_last_dose", "is_date": True}},
     [("steroid_shot_last_dose", "=", "never"), ("steroid_shot_last_dose", "=", "current"),
      ("steroid_shot_last_dose", "=", "not_recent")]),
    ({"answered": "ejs_diagnosed"}, []),                                                  # not said
    ({"all": [{"answer": "ejs_diagnosed", "is": True}, {"answer": "ejs_stage", "in": ["early", "late"]}]}, []),
    ({"answer": "steroid_shot_last_dose", "is": "2026-01-01"}, []),
])
def test_enable_when_holds_exactly_when_the_question_is_asked(ask_if, expected):
    """The dialysis question (fills on_dialysis) gets each ask_if; its enableWhen must be true on a
    response exactly when the condition is true, for every combination of the answers it reads."""
    from bot.staff.export import ExportRow
    from bot.staff.fhir import questionnaire, response
    data = yaml.safe_load(Path(FICTIONAL).read_text(encoding="utf-8"))
    dialysis = next(q for q in data["questions"] if q["id"] == "dialysis")
    dialysis["ask_if"] = ask_if
    data["questions"].remove(dialysis)
    data["questions"].append(dialysis)
    data["questions"][-2]["ask_if"] = {"answer": "ejs_diagnosed", "is": True}
    trial = parse_trial(yaml.safe_dump(data, allow_unicode=True), "moved.yaml")
    item = {i["linkId"]: i for i in questionnaire(trial)["item"]}["on_dialysis"]
    whens = [(w["question"], w["operator"], next(v if not isinstance(v, dict) else v["code"]
                                                  for k, v in w.items() if k.startswith("answer")))
             for w in item.get("enableWhen", [])]
    assert whens == expected
    if not expected:
        return
    condition = trial.ask_if["dialysis"]
    values = {"ejs_diagnosed": [None, True, False, "absent"], "ejs_stage": [None, "early", "late", "absent"],
              "years_old": [None, 17, 40, 64, 70, "absent"],
              "steroid_shot_last_dose": [None, "never", "current", "not_recent", "2026-01-01", "absent"]}
    now = dt.datetime(2026, 11, 25, 12, tzinfo=dt.timezone.utc)
    for combo in itertools.product(*values.values()):
        answers = {k: v for k, v in zip(values, combo) if v != "absent"}
        row = ExportRow("K7Q-4M2", "0.3", "en", now, now, True, None, None, answers)
        given = {i["linkId"]: i.get("answer", []) for i in response(row, trial).get("item", [])}
        assert enabled(item, given) == (condition.evaluate(answers) is True), (answers, whens)
