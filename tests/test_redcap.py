"""The REDCap export (bot/staff/redcap.py): a data dictionary made from the criteria file, and records
of real conversations that match it exactly (`prescreen export --format redcap-dictionary | redcap`).

The conversations are real prescreens through the app (tests/test_staff_helpers.Chat): a likely
eligible one, a washout with a date, a medicine still taken with a "don't know", one that stopped
early (answers not asked), an abandoned one and a Spanish one; and, for "the trial is data", the
fictional trial of tests/fixtures with its own answer ids, zone and an `ask_if` with `not`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from actions.trial import load_trial, parse_trial
from bot.cli import main
from bot.db.schema import conversations
from test_staff_helpers import (FICTIONAL, FICTIONAL_TO_RESULT, REAL_ABANDONED, REAL_LIKELY, REAL_TOO_YOUNG, ROOT,
                                TODAY, Chat, make_app, store_of)

CRITERIA = str(ROOT / "criteria.yaml")
COLUMNS = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
           "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
           "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
           "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
           "Matrix Ranking?", "Field Annotation"]

# the real trial, all buttons but the rituximab date: eligible after the rituximab washout
REAL_WASHOUT = ["hi", "tap:Start", "54", "tap:Yes, the diffuse type", "tap:Yes", "tap:Skin getting thicker or tighter",
                "tap:None of these", "tap:No", "tap:No", "tap:No", "tap:No", "tap:No", "tap:Never had it",
                "tap:Never had it", "tap:Never had them", "September 1, 2026", "tap:No", "tap:Doesn't apply to me",
                "tap:That's right, show my result"]
# still getting IVIG (into a vein) and not sure about hepatitis B: needs review
REAL_CURRENT = ["hi", "tap:Start", "54", "tap:Yes, the diffuse type", "tap:Yes", "tap:Skin getting thicker or tighter",
                "tap:None of these", "tap:No", "tap:Not sure", "tap:No", "tap:No", "tap:No",
                "tap:I'm still getting it", "tap:Into a vein (IV drip)", "tap:Never had it", "tap:Never had them",
                "tap:Never had it", "tap:No", "tap:Doesn't apply to me", "tap:That's right, show my result"]
# in Spanish: the limited type, and other treatment helped: not eligible
REAL_SPANISH = ["tap:Empezar", "60", "tap:Sí, el tipo limitado", "tap:No", "tap:Está bien, ver mi resultado"]
# the fictional trial: on dialysis (so examplumab, asked only when not on dialysis, is not asked)
FICTIONAL_DIALYSIS = ["hi", "tap:Start", "I'm 45", "tap:Yes", "tap:Early", "tap:Yes", "no", "tap:Never",
                      "tap:That's right, show my result"]
# the fictional trial: no age after two unclear replies ("don't know"), a late stage
FICTIONAL_NO_AGE = ["hi", "tap:Start", "not sure", "no idea", "tap:Yes", "tap:Late", "tap:No", "no", "tap:Never",
                    "tap:Never", "tap:That's right, show my result"]

SENDERS = {"likely": "redcap-likely-0001", "washout": "redcap-washout-0001", "current": "redcap-current-0001",
           "young": "redcap-young-00001", "gone": "redcap-gone-000001", "spanish": "redcap-spanish-0001"}
FICTIONAL_SENDERS = {"fine": "redcap-fictional-fine", "dialysis": "redcap-fictional-dialysis",
                     "no_age": "redcap-fictional-no-age"}


def spanish(app, sender: str, script: list[str]) -> Chat:
    """A patient whose first message says the conversation is in Spanish (as the widget does)."""
    chat = Chat(app, sender)
    chat.replies = app.extensions["prescreen"].message(sender, "hola", {"today": TODAY, "language": "es"})
    return chat.run(script)


def real_conversations(app) -> dict[str, Chat]:
    """The real-trial conversations, by name (SENDERS)."""
    chats = {name: Chat(app, SENDERS[name]).run(script) for name, script in (
        ("likely", REAL_LIKELY), ("washout", REAL_WASHOUT), ("current", REAL_CURRENT), ("young", REAL_TOO_YOUNG),
        ("gone", REAL_ABANDONED))}
    chats["spanish"] = spanish(app, SENDERS["spanish"], REAL_SPANISH)
    return chats


def references(app) -> dict[str, str]:
    """Conversation id -> reference code, from the database."""
    with store_of(app).engine.connect() as conn:
        return dict(conn.execute(select(conversations.c.id, conversations.c.reference)).all())


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def export_database(tmp) -> dict:
    """One database (in the folder `tmp`) with the real-trial and the fictional-trial conversations:
    its URL and the real ones' reference codes. The FHIR tests export the same database."""
    app = make_app(tmp)
    chats = real_conversations(app)
    assert chats["likely"].result["outcome"] == "likely_eligible"
    assert chats["washout"].result["outcome"] == "eligible_after_washout"
    assert chats["current"].result["outcome"] == "needs_review"
    assert chats["young"].result["outcome"] == "not_eligible"
    assert chats["spanish"].result["outcome"] == "not_eligible" and chats["gone"].result is None
    fictional = make_app(tmp, CRITERIA=FICTIONAL)
    fine = Chat(fictional, FICTIONAL_SENDERS["fine"]).run(FICTIONAL_TO_RESULT)
    dialysis = Chat(fictional, FICTIONAL_SENDERS["dialysis"]).run(FICTIONAL_DIALYSIS)
    no_age = Chat(fictional, FICTIONAL_SENDERS["no_age"]).run(FICTIONAL_NO_AGE)
    assert fine.result["outcome"] == "likely_eligible" and dialysis.result["outcome"] == "not_eligible"
    assert no_age.result["outcome"] == "not_eligible"
    return {"url": f"sqlite:///{tmp / 'test.sqlite3'}", "references": references(app)}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return export_database(tmp_path_factory.mktemp("redcap"))


@pytest.fixture()
def db(data, monkeypatch):
    monkeypatch.setenv("PRESCREEN_DATABASE_URL", data["url"])
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    return data


def export(kind: str, *args: str) -> str:
    result = run("export", "--format", kind, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def dictionary_rows(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == COLUMNS
    assert all(len(r) == len(COLUMNS) for r in rows)
    return [dict(zip(COLUMNS, r)) for r in rows[1:]]


def choices(field: dict[str, str]) -> dict[str, str]:
    """code -> label of a radio field (yesno: REDCap's own 1 / 0)."""
    if field["Field Type"] == "yesno":
        return {"1": "Yes", "0": "No"}
    return dict(part.strip().split(", ", 1) for part in field["Choices, Calculations, OR Slider Labels"].split(" | "))


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def problem(field: dict[str, str], value: str) -> str | None:
    """Why REDCap would refuse `value` for this field, or None (an empty value is always allowed)."""
    if value == "":
        return None
    kind, validation = field["Field Type"], field["Text Validation Type OR Show Slider Number"]
    if kind in ("radio", "yesno"):
        return None if value in choices(field) else f"{value!r} is not a code of {field['Variable / Field Name']}"
    assert kind == "text", kind
    if validation == "date_ymd":
        return None if DATE.match(value) and dt.date.fromisoformat(value) else f"{value!r} is not YYYY-MM-DD"
    if validation == "datetime_seconds_ymd":
        return None if DATETIME.match(value) else f"{value!r} is not YYYY-MM-DD HH:MM:SS"
    if validation == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return f"{value!r} is not an integer"
        low, high = field["Text Validation Min"], field["Text Validation Max"]
        if low and int(value) < int(low) or high and int(value) > int(high):
            return f"{value} is outside {low}..{high}"
        return None
    assert validation == "", validation
    return None


class _Value(str):
    """A record's value inside branching logic: compared as text, or as a number with < and >=."""

    def __ge__(self, other):
        return self != "" and float(self) >= float(other)

    def __lt__(self, other):
        return self != "" and float(self) < float(other)


def shown(logic: str, record: dict[str, str]) -> bool:
    """Evaluate REDCap branching logic of the shape the export writes on a record."""
    if not logic:
        return True
    expression = re.sub(r"\[(\w+)\]", lambda m: f"V({record[m[1]]!r})", logic)
    expression = expression.replace("<>", "!=").replace(" = ", " == ")
    return bool(eval(expression, {"V": _Value}))   # the test's own expression, from our own export


def check_records(dictionary: list[dict[str, str]], records_text: str) -> list[dict[str, str]]:
    """The records file matches the dictionary: same header, every value allowed, and a value only
    where the field's branching logic shows the field."""
    names = [f["Variable / Field Name"] for f in dictionary]
    rows = list(csv.reader(io.StringIO(records_text)))
    assert rows[0] == names
    records = [dict(zip(names, r)) for r in rows[1:]]
    for record in records:
        assert record["reference"], record
        for field in dictionary:
            value = record[field["Variable / Field Name"]]
            assert problem(field, value) is None, (record["reference"], problem(field, value))
            if value:
                logic = field["Branching Logic (Show field only if...)"]
                assert shown(logic, record), (record["reference"], field["Variable / Field Name"], logic)
    return records


# -- the dictionary ------------------------------------------------------------------------------

def test_the_dictionary_has_redcaps_columns_and_a_field_per_answer(db):
    fields = dictionary_rows(export("redcap-dictionary"))
    by_name = {f["Variable / Field Name"]: f for f in fields}
    names = list(by_name)
    assert names[0] == "reference" and len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{0,99}", n) for n in names)
    assert {f["Form Name"] for f in fields} == {"prescreen"}
    trial = load_trial(CRITERIA)
    for answer_id, spec in trial.answers.items():
        field = by_name[answer_id]
        assert field["Field Label"] == spec.label
        if spec.type == "boolean":
            assert choices(field) == {"1": "Yes", "0": "No", "99": "Don't know"}
        elif spec.type == "choice":
            assert choices(field) == {**{str(n): v for n, v in enumerate(spec.values, 1)}, "99": "Don't know"}
        elif spec.type == "integer":
            assert field["Text Validation Type OR Show Slider Number"] == "integer"
            assert (field["Text Validation Min"], field["Text Validation Max"]) == (str(spec.min), str(spec.max))
            assert choices(by_name[answer_id + "_status"]) == {"1": "Number given", "99": "Don't know"}
        else:
            assert list(choices(field)) == ["1", "2", "3", "4", "99"]
            assert choices(field)["99"] == "Don't know" and choices(field)["1"] == "Date given"
            date = by_name[answer_id + "_date"]
            assert date["Text Validation Type OR Show Slider Number"] == "date_ymd"
            assert date["Branching Logic (Show field only if...)"] == f"[{answer_id}] = '1'"
    assert choices(by_name["ssc_subtype"]) == {"1": "diffuse", "2": "limited", "99": "Don't know"}
    assert choices(by_name["outcome"]) == {"1": "Likely eligible", "2": "Eligible after washout",
                                           "3": "Needs review", "4": "Not eligible"}
    assert choices(by_name["language"]) == {"en": "English", "es": "Spanish"}
    assert by_name["started_at"]["Text Validation Type OR Show Slider Number"] == "datetime_seconds_ymd"
    assert by_name["completed"]["Field Type"] == "yesno"
    assert by_name["eligible_from"]["Text Validation Type OR Show Slider Number"] == "date_ymd"
    assert by_name["criteria_version"]["Field Type"] == "text"
    # ask_if: refractory is asked only after a diagnosis; ivig_last_dose is filled by two questions (none)
    assert by_name["refractory"]["Branching Logic (Show field only if...)"] == "[ssc_diagnosis] = '1'"
    assert by_name["ivig_last_dose"]["Branching Logic (Show field only if...)"] == ""


def test_records_match_the_dictionary_and_carry_the_answers_as_codes(db):
    fields = dictionary_rows(export("redcap-dictionary"))
    text = export("redcap")
    records = check_records(fields, text)
    by_ref = {r["reference"]: r for r in records}
    refs = db["references"]
    real = {name: by_ref[refs[sender]] for name, sender in SENDERS.items()}
    assert len(records) == len(SENDERS)          # the fictional trial's conversations are another trial's

    likely = real["likely"]
    assert (likely["age"], likely["age_status"], likely["ssc_diagnosis"], likely["ssc_subtype"]) == ("54", "1", "1", "1")
    assert (likely["refractory"], likely["skin_worsening"], likely["lung_fibrosis"], likely["hiv"]) == ("1", "1", "0", "0")
    assert (likely["rituximab_last_dose"], likely["rituximab_last_dose_date"]) == ("2", "")     # never
    assert (likely["pregnant_or_breastfeeding"], likely["outcome"], likely["completed"]) == ("0", "1", "1")
    assert (likely["language"], likely["eligible_from"]) == ("en", "")
    assert likely["criteria_version"] == load_trial(CRITERIA).model.version

    washout = real["washout"]
    assert (washout["rituximab_last_dose"], washout["rituximab_last_dose_date"]) == ("1", "2026-09-01")
    assert (washout["outcome"], washout["eligible_from"]) == ("2", "2027-03-01")     # 6 months after

    current = real["current"]
    assert (current["ivig_last_dose"], current["ivig_last_dose_date"]) == ("3", "")      # still getting it
    assert current["hepatitis_b"] == "99" and current["hepatitis_c"] == "0"             # don't know / no
    assert current["outcome"] == "3"

    young = real["young"]                         # ruled out by age: nothing else asked
    assert (young["age"], young["outcome"]) == ("17", "4")
    assert all(young[n] == "" for n in ("ssc_diagnosis", "refractory", "hiv", "hepatitis_b", "ivig_last_dose",
                                        "ivig_last_dose_date", "eligible_from"))

    gone = real["gone"]
    assert (gone["completed"], gone["outcome"], gone["ssc_subtype"], gone["refractory"]) == ("0", "", "2", "")

    es = real["spanish"]
    assert (es["language"], es["age"], es["ssc_subtype"], es["refractory"], es["outcome"]) == ("es", "60", "2", "0", "4")

    # the record id is the reference code; no conversation id anywhere
    assert set(by_ref) == {refs[s] for s in SENDERS.values()}
    for sender in [*SENDERS.values(), *FICTIONAL_SENDERS.values()]:
        assert sender not in text
    started = dt.datetime.strptime(likely["started_at"], "%Y-%m-%d %H:%M:%S")
    assert abs(started - dt.datetime.now(load_trial(CRITERIA).zone).replace(tzinfo=None)) < dt.timedelta(hours=1)


def test_records_follow_the_export_filters_and_are_audited(db):
    fields = dictionary_rows(export("redcap-dictionary"))
    records = check_records(fields, export("redcap", "--outcome", "not_eligible"))
    refs = db["references"]
    assert {r["reference"] for r in records} == {refs[SENDERS["young"]], refs[SENDERS["spanish"]]}
    assert [r["reference"] for r in check_records(fields, export("redcap", "--language", "es"))] == \
        [refs[SENDERS["spanish"]]]
    assert check_records(fields, export("redcap", "--since", "2999-01-01")) == []
    from bot.store import Store
    entries = [(e["action"], e["target"], e["detail"]) for e in Store(db["url"]).audit_entries()]
    assert ("export", "redcap", "outcome Not eligible") in entries
    assert ("export", "redcap-dictionary", "the criteria file") in entries


def test_the_fictional_trial_gets_its_own_dictionary_and_records(db, monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", FICTIONAL)
    fields = dictionary_rows(export("redcap-dictionary"))
    by_name = {f["Variable / Field Name"]: f for f in fields}
    trial = load_trial(FICTIONAL)
    assert [n for n in by_name if n in trial.answers] == list(trial.answers)
    assert "age" not in by_name and "ssc_diagnosis" not in by_name
    assert by_name["started_at"]["Field Note"] == "Site time (Europe/Berlin)"
    assert (by_name["years_old"]["Text Validation Min"], by_name["years_old"]["Text Validation Max"]) == ("0", "110")
    assert choices(by_name["ejs_stage"]) == {"1": "early", "2": "late", "99": "Don't know"}
    # `ask_if: {not: {answer: on_dialysis, is: true}}`: a known "no", never an unknown one
    assert by_name["examplumab_last_dose"]["Branching Logic (Show field only if...)"] == "[on_dialysis] = '0'"
    assert by_name["ejs_stage"]["Branching Logic (Show field only if...)"] == "[ejs_diagnosed] = '1'"

    text = export("redcap")
    records = check_records(fields, text)
    refs = db["references"]
    by_ref = {r["reference"]: r for r in records}
    assert set(by_ref) == {refs[s] for s in FICTIONAL_SENDERS.values()}
    fine, dialysis, no_age = (by_ref[refs[FICTIONAL_SENDERS[n]]] for n in ("fine", "dialysis", "no_age"))
    assert (fine["years_old"], fine["ejs_stage"], fine["examplumab_last_dose"], fine["outcome"]) == ("45", "1", "2", "1")
    assert (dialysis["on_dialysis"], dialysis["examplumab_last_dose"], dialysis["outcome"]) == ("1", "", "4")
    assert (no_age["years_old_status"], no_age["years_old"], no_age["ejs_stage"]) == ("99", "", "2")
    for sender in FICTIONAL_SENDERS.values():
        assert sender not in text


# -- refusals and the branching logic ---------------------------------------------------------------

def _trial_with_answer_id(answer_id: str):
    text = Path(FICTIONAL).read_text(encoding="utf-8").replace("on_dialysis", answer_id)
    return parse_trial(text, "renamed.yaml")


@pytest.mark.parametrize("answer_id", ["On_Dialysis", "x" * 101, "outcome"])
def test_an_answer_id_redcap_cannot_take_is_refused_by_name(answer_id):
    from bot.staff.redcap import DictionaryError, dictionary
    with pytest.raises(DictionaryError) as error:
        dictionary(_trial_with_answer_id(answer_id))
    assert repr(answer_id) in str(error.value)


def test_the_cli_refuses_a_criteria_file_redcap_cannot_take(tmp_path, monkeypatch):
    path = tmp_path / "renamed.yaml"
    path.write_text(Path(FICTIONAL).read_text(encoding="utf-8").replace("on_dialysis", "onDialysis"), encoding="utf-8")
    monkeypatch.setenv("PRESCREEN_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("PRESCREEN_CRITERIA", str(path))
    result = run("export", "--format", "redcap-dictionary")
    assert result.exit_code == 2 and result.stdout == "" and "'onDialysis'" in result.output


@pytest.mark.parametrize("ask_if, expected", [
    ({"answer": "ejs_diagnosed", "is": True}, "[ejs_diagnosed] = '1'"),
    ({"answer": "ejs_diagnosed", "is_not": True}, "[ejs_diagnosed] = '0'"),
    ({"answer": "ejs_diagnosed", "is": False}, "[ejs_diagnosed] = '0'"),
    ({"not": {"answer": "years_old", "at_least": 40}}, "([years_old] <> '' and [years_old] < 40)"),
    ({"answer": "years_old", "below": 65}, "([years_old] <> '' and [years_old] < 65)"),
    ({"answered": "ejs_diagnosed"}, "[ejs_diagnosed] <> ''"),
    ({"answered": "years_old"}, "[years_old_status] <> ''"),
    ({"any": [{"answer": "ejs_diagnosed", "is": True}, {"answer": "years_old", "at_least": 40}]},
     "([ejs_diagnosed] = '1' or ([years_old] <> '' and [years_old] >= 40))"),
    ({"not": {"all": [{"answer": "ejs_diagnosed", "is": True}, {"answer": "years_old", "at_least": 40}]}},
     "([ejs_diagnosed] = '0' or ([years_old] <> '' and [years_old] < 40))"),
    ({"answer": "steroid_shot_last_dose", "in": ["current", "not_recent"]},
     "([steroid_shot_last_dose] = '3' or [steroid_shot_last_dose] = '4')"),
    ({"answer": "steroid_shot_last_dose", "is_date": True}, "[steroid_shot_last_dose] = '1'"),
    ({"answer": "steroid_shot_last_dose", "is": "2026-01-01"}, ""),    # one date: not said, no logic
])
def test_branching_logic_is_true_exactly_when_the_question_is_asked(ask_if, expected):
    """The dialysis question (fills on_dialysis) gets each ask_if; the logic must hold exactly when the
    condition is true, three-valued: an empty or "don't know" answer never makes it true."""
    import yaml
    from bot.staff.redcap import dictionary
    data = yaml.safe_load(Path(FICTIONAL).read_text(encoding="utf-8"))
    dialysis = next(q for q in data["questions"] if q["id"] == "dialysis")
    dialysis["ask_if"] = ask_if
    data["questions"].remove(dialysis)
    data["questions"].append(dialysis)           # after every answer the conditions read
    data["questions"][-2]["ask_if"] = {"answer": "ejs_diagnosed", "is": True}   # examplumab: not on_dialysis
    trial = parse_trial(yaml.safe_dump(data, allow_unicode=True), "moved.yaml")
    logic = {f.name: f.branching for f in dictionary(trial)}["on_dialysis"]
    assert logic == expected
    if not expected:
        return
    condition = trial.ask_if["dialysis"]
    # every combination of the answers it reads: the logic on the codes == the condition is True
    values = {"ejs_diagnosed": [None, True, False, "absent"], "years_old": [None, 17, 40, 64, 70, "absent"],
              "steroid_shot_last_dose": [None, "never", "current", "not_recent", "2026-01-01", "absent"]}
    from bot.staff.redcap import answer_cells
    import itertools
    for combo in itertools.product(*values.values()):
        answers = {k: v for k, v in zip(values, combo) if v != "absent"}
        cells: dict[str, str] = {}
        for answer_id, value in answers.items():
            cells.update(answer_cells(trial.answers[answer_id], answer_id, answers))
        record = {name: cells.get(name, "") for name in ("ejs_diagnosed", "years_old", "years_old_status",
                                                         "steroid_shot_last_dose")}
        assert shown(logic, record) == (condition.evaluate(answers) is True), (answers, logic)
