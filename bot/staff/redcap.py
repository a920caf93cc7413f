"""REDCap: a data dictionary made from the criteria file, and the conversations as records for it.

`prescreen export --format redcap-dictionary` writes the data dictionary (REDCap's CSV with its 18
columns), `--format redcap` the records in REDCap's flat import format: a header of the dictionary's
field names in its order, one row per conversation, the values as the dictionary's codes. Load the
dictionary into a REDCap project (Project Setup, Data Dictionary), then import the records (Data
Import Tool, CSV, records as rows).

The fields (form `prescreen`):

- `reference`, the record id: the conversation's reference code (bot/reference.py). Never the
  conversation id, which is the conversation's credential and appears in neither export.
- `started_at` (site time, `YYYY-MM-DD HH:MM:SS`: REDCap has no time zones), `completed`,
  `language`, `criteria_version`.
- One field per data-dictionary answer id, named as the answer id, in the criteria file's order:
  a boolean is a radio `1, Yes | 0, No | 99, Don't know`; a choice a radio of its values coded 1, 2, ...
  in the criteria file's order (add new values at the end to keep the codes) and `99, Don't know`;
  a number a text field with integer validation and its range, plus `<id>_status` (`1, Number given |
  99, Don't know`: a number field cannot hold a "don't know" code); a last dose a radio of its status
  (`<id>`: `1, Date given | 2, Never | 3, Current | 4, Not recent | 99, Don't know`) plus `<id>_date`
  (date_ymd, shown only when the status is "date given").
- `outcome` (the four outcomes) and `eligible_from` (date_ymd).

"Don't know" is a code; "not asked" is an empty cell. Every answer may be "don't know": the
patient says so, or the form moves on after two unclear replies (actions/prescreen.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from actions.conditions import AllOf, Answered, AnyOf, Compare, Condition, Not
from actions.evaluator import Outcome
from actions.qtypes import LAST_DOSE_WORDS
from actions.translations import LANGUAGE_NAMES
from actions.trial import AnswerSpec, Trial, question_answer_ids
from bot.staff.queries import OUTCOME_LABELS

if TYPE_CHECKING:
    from bot.staff.export import ExportRow

FORM = "prescreen"
RECORD_ID = "reference"

COLUMNS = ("Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
           "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
           "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
           "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
           "Matrix Ranking?", "Field Annotation")

# codes, fixed here so that they never move (REDCap keeps the codes of data already imported)
DONT_KNOW = "99"
YES, NO = "1", "0"
BOOLEAN_CHOICES = ((YES, "Yes"), (NO, "No"), (DONT_KNOW, "Don't know"))
NUMBER_GIVEN = "1"
NUMBER_STATUS = ((NUMBER_GIVEN, "Number given"), (DONT_KNOW, "Don't know"))
DATE_GIVEN = "1"
# a last dose's status: a date, or one of the words of the last_dose type (actions.qtypes.LAST_DOSE_WORDS)
LAST_DOSE_CODES = {"never": "2", "current": "3", "not_recent": "4"}
LAST_DOSE_LABELS = {"never": "Never", "current": "Current (still taking or getting it)",
                    "not_recent": "Not recent (longer ago than the study's washout)"}
OUTCOME_CODES = {Outcome.LIKELY_ELIGIBLE.value: "1", Outcome.ELIGIBLE_AFTER_WASHOUT.value: "2",
                 Outcome.NEEDS_REVIEW.value: "3", Outcome.NOT_ELIGIBLE.value: "4"}

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
NAME_MAX = 100          # REDCap refuses longer variable names (26 or fewer is its advice)
DATE_SUFFIX, STATUS_SUFFIX = "_date", "_status"


class DictionaryError(ValueError):
    """A criteria file that cannot become a REDCap data dictionary; the message names the problem."""


@dataclass(frozen=True)
class Field:
    """One row of the data dictionary."""

    name: str
    field_type: str                                    # text, radio, yesno
    label: str
    choices: tuple[tuple[str, str], ...] = ()          # (code, label)
    validation: str = ""                               # integer, date_ymd, datetime_seconds_ymd
    minimum: str = ""
    maximum: str = ""
    note: str = ""
    branching: str = ""
    answer_id: str = ""                                # the data-dictionary answer it holds, if any

    @property
    def codes(self) -> set[str]:
        if self.field_type == "yesno":
            return {"1", "0"}
        return {code for code, _ in self.choices}

    def row(self) -> list[str]:
        choices = " | ".join(f"{code}, {label}" for code, label in self.choices)
        annotation = f"Answer id {self.answer_id} of the criteria file" if self.answer_id else ""
        return [self.name, FORM, "", self.field_type, self.label, choices, self.note, self.validation,
                self.minimum, self.maximum, "", self.branching, "", "", "", "", "", annotation]


# -- which answers a condition limits ------------------------------------------------------------

def conditions_by_answer(trial: Trial) -> dict[str, Condition]:
    """Answer id -> the `ask_if` of the question that fills it, where the condition holds exactly
    when the exported answers say so: the answer is filled by that one question only, and every
    answer the condition reads is filled only by questions before it (so its exported value is the
    one the condition saw; the form merges answers in question order, `actions.form.walk`). Any
    other answer gets no condition (e.g. `ivig_last_dose`, which `ig_route` fills again)."""
    fillers: dict[str, list[int]] = {}
    for index, question in enumerate(trial.questions):
        for answer_id in question_answer_ids(question):
            fillers.setdefault(answer_id, []).append(index)
    found: dict[str, Condition] = {}
    for index, question in enumerate(trial.questions):
        condition = trial.ask_if.get(question.id)
        if condition is None:
            continue
        if not all(max(fillers.get(a, [index])) < index for a in condition.answer_ids()):
            continue
        for answer_id in question_answer_ids(question):
            if fillers[answer_id] == [index]:
                found[answer_id] = condition
    return found


# -- branching logic ------------------------------------------------------------------------------

class _NotExpressible(Exception):
    pass


def _known_codes(spec: AnswerSpec) -> list[str]:
    """The codes of an answer's field that mean a known answer (not "don't know", not empty)."""
    if spec.type == "boolean":
        return [YES, NO]
    if spec.type == "choice":
        return [str(n) for n in range(1, len(spec.values) + 1)]
    return [DATE_GIVEN, *LAST_DOSE_CODES.values()]


def _value_code(spec: AnswerSpec, value: Any) -> str:
    """The code of a value an `is` / `in` compares with (booleans, choices, last-dose words)."""
    if spec.type == "boolean" and isinstance(value, bool):
        return YES if value else NO
    if spec.type == "choice" and value in spec.values:
        return str(spec.values.index(value) + 1)
    if spec.type == "last_dose" and value in LAST_DOSE_CODES:
        return LAST_DOSE_CODES[value]
    raise _NotExpressible   # a last dose compared with one date, and the like


def _any_code(name: str, codes: Iterable[str]) -> str:
    codes = list(codes)
    if not codes:
        raise _NotExpressible   # never true: a condition no answer can meet
    parts = [f"[{name}] = '{code}'" for code in codes]
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def branching(condition: Condition, trial: Trial, holds: bool = True) -> str:
    """REDCap branching logic true exactly when `condition` evaluates to `holds` (True or False)
    on the exported codes. The condition language is three-valued (an answer not asked, or "don't
    know", makes a comparison unknown), so "false" is spelt out: `is: true` is false only when the
    answer is a known no, never when it is empty or "don't know". Raises _NotExpressible."""
    if isinstance(condition, AllOf) or isinstance(condition, AnyOf):
        joiner = " and " if isinstance(condition, AllOf) == holds else " or "
        return "(" + joiner.join(branching(p, trial, holds) for p in condition.parts) + ")"
    if isinstance(condition, Not):
        return branching(condition.part, trial, not holds)
    spec = trial.answers[condition.answer_ids()[0]]
    name = condition.answer_ids()[0]
    if isinstance(condition, Answered):
        field = name + STATUS_SUFFIX if spec.type == "integer" else name
        return f"[{field}] <> ''" if holds else f"[{field}] = ''"
    assert isinstance(condition, Compare)
    op, operand = condition.op, condition.operand
    if spec.type == "integer":
        if isinstance(operand, bool) or op not in ("at_least", "below", "is", "is_not") \
                or not isinstance(operand, (int, float)):
            raise _NotExpressible
        if op in ("is", "is_not"):
            equal = (op == "is") == holds
            return f"([{name}] <> '' and [{name}] {'=' if equal else '<>'} '{operand}')"
        high = (op == "at_least") == holds
        return f"([{name}] <> '' and [{name}] {'>=' if high else '<'} {operand})"
    known = _known_codes(spec)
    if op == "is_date":
        if spec.type != "last_dose":
            raise _NotExpressible
        wanted = {DATE_GIVEN} if operand else set(LAST_DOSE_CODES.values())
    elif op in ("is", "is_not"):
        wanted = {_value_code(spec, operand)}
    elif op == "in":
        wanted = {_value_code(spec, v) for v in operand}
    else:
        raise _NotExpressible
    if op == "is_not":
        wanted = set(known) - wanted
    return _any_code(name, [c for c in known if (c in wanted) == holds])


def _branching_for(condition: Condition | None, trial: Trial) -> str:
    # a condition the codes cannot say exactly (a last dose compared with one date) gets none: the
    # field is then always shown, and its value is still empty whenever the question was not asked
    if condition is None:
        return ""
    try:
        return branching(condition, trial)
    except _NotExpressible:
        return ""


# -- the dictionary --------------------------------------------------------------------------------

def _label(text: str) -> str:
    return text.replace("|", "/").strip()


def _check_name(name: str, answer_id: str) -> None:
    if not NAME.match(name) or len(name) > NAME_MAX:
        source = "" if name == answer_id else f" (made from the answer id {answer_id!r})"
        raise DictionaryError(
            f"The answer id {answer_id!r} cannot be a REDCap variable name{source}: a REDCap name is lower-case "
            f"letters, digits and underscores, starts with a letter and has at most {NAME_MAX} characters. "
            "Rename the answer id in the criteria file.")


def dictionary(trial: Trial) -> list[Field]:
    """The data dictionary's fields, in order. Raises DictionaryError for an answer id REDCap
    cannot take (or that another field already has)."""
    english = trial.for_language("en")
    conditions = conditions_by_answer(trial)
    languages = list(dict.fromkeys([*trial.languages, *LANGUAGE_NAMES]))
    fields = [
        Field(RECORD_ID, "text", "Reference code", note="The code printed on the patient's result"),
        Field("started_at", "text", "Conversation started", validation="datetime_seconds_ymd",
              note=f"Site time ({trial.model.site.time_zone})"),
        Field("completed", "yesno", "Reached the result"),
        Field("language", "radio", "Language of the conversation",
              choices=tuple((code, LANGUAGE_NAMES.get(code, code)) for code in languages)),
        Field("criteria_version", "text", "Version of the criteria file the conversation was evaluated with"),
    ]
    for answer_id, spec in english.answers.items():
        label = _label(spec.label)
        logic = _branching_for(conditions.get(answer_id), trial)
        if spec.type == "boolean":
            fields.append(Field(answer_id, "radio", label, BOOLEAN_CHOICES, branching=logic, answer_id=answer_id))
        elif spec.type == "choice":
            if len(spec.values) >= int(DONT_KNOW):
                raise DictionaryError(f"The choice answer {answer_id!r} has {len(spec.values)} values; the REDCap "
                                      f"export codes them 1 to {int(DONT_KNOW) - 1} ({DONT_KNOW} is \"don't know\").")
            choices = tuple((str(n), _label(value)) for n, value in enumerate(spec.values, 1))
            fields.append(Field(answer_id, "radio", label, (*choices, (DONT_KNOW, "Don't know")),
                                branching=logic, answer_id=answer_id))
        elif spec.type == "integer":
            status = answer_id + STATUS_SUFFIX
            fields.append(Field(status, "radio", f"{label}: a number, or don't know", NUMBER_STATUS, branching=logic,
                                answer_id=answer_id))
            fields.append(Field(answer_id, "text", label, validation="integer",
                                minimum="" if spec.min is None else str(spec.min),
                                maximum="" if spec.max is None else str(spec.max),
                                branching=f"[{status}] = '{NUMBER_GIVEN}'", answer_id=answer_id))
        else:   # last_dose
            missing = [w for w in LAST_DOSE_WORDS if w not in LAST_DOSE_CODES]
            if missing:   # a word added to the last_dose type needs its code here
                raise DictionaryError(f"No REDCap code for the last-dose value(s) {', '.join(missing)}.")
            choices = ((DATE_GIVEN, "Date given"),
                       *((LAST_DOSE_CODES[w], LAST_DOSE_LABELS[w]) for w in LAST_DOSE_WORDS),
                       (DONT_KNOW, "Don't know"))
            fields.append(Field(answer_id, "radio", label, choices, branching=logic, answer_id=answer_id))
            fields.append(Field(answer_id + DATE_SUFFIX, "text", f"{label}: date", validation="date_ymd",
                                branching=f"[{answer_id}] = '{DATE_GIVEN}'",
                                note="A vague date (\"in March\") is its latest plausible day", answer_id=answer_id))
    fields.append(Field("outcome", "radio", "Prescreen outcome",
                        tuple((OUTCOME_CODES[o.value], OUTCOME_LABELS[o]) for o in reversed(Outcome)),
                        note="Empty until the patient reached the result"))
    fields.append(Field("eligible_from", "text", "Could start the study from (after a washout)",
                        validation="date_ymd"))
    seen: set[str] = set()
    for field in fields:
        answer_id = field.answer_id or field.name
        _check_name(field.name, answer_id)
        if field.name in seen or field.name == f"{FORM}_complete" or field.name.startswith("redcap_"):
            raise DictionaryError(f"The REDCap field {field.name!r} (from the answer id {answer_id!r}) clashes with "
                                  "another field or a name REDCap keeps for itself. Rename the answer id in the "
                                  "criteria file.")
        seen.add(field.name)
    return fields


def is_iso_date(value: Any) -> bool:
    """A real date written YYYY-MM-DD (a last dose's value when the patient gave a date)."""
    try:
        return isinstance(value, str) and len(value) == 10 and bool(dt.date.fromisoformat(value))
    except ValueError:
        return False


def _csv(rows: Iterable[list[str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for n, row in enumerate(rows, 1):
        writer.writerow(row)
        if n % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def dictionary_chunks(trial: Trial) -> Iterator[str]:
    """The data dictionary as REDCap's CSV."""
    fields = dictionary(trial)
    return _csv(itertools.chain([list(COLUMNS)], (f.row() for f in fields)))


# -- the records -----------------------------------------------------------------------------------

def answer_cells(spec: AnswerSpec, answer_id: str, answers: dict[str, Any]) -> dict[str, str]:
    """The cells of one answer: empty when not asked, the "don't know" code for None. A stored value
    the criteria file no longer allows (the file changed since) is left empty, since REDCap would
    refuse the whole import; the CSV and JSON exports keep it."""
    if answer_id not in answers or spec.problem(answers[answer_id]) is not None:
        return {}
    value = answers[answer_id]
    if spec.type == "integer":
        if value is None:
            return {answer_id + STATUS_SUFFIX: DONT_KNOW}
        return {answer_id + STATUS_SUFFIX: NUMBER_GIVEN, answer_id: str(value)}
    if value is None:
        return {answer_id: DONT_KNOW}
    if spec.type == "last_dose" and is_iso_date(value):
        return {answer_id: DATE_GIVEN, answer_id + DATE_SUFFIX: value}
    return {answer_id: _value_code(spec, value)}


def record(row: ExportRow, trial: Trial, fields: list[Field]) -> list[str]:
    """One conversation as a row of codes, in the dictionary's order."""
    cells: dict[str, str] = {
        RECORD_ID: row.reference,
        "started_at": row.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        "completed": "1" if row.completed else "0",
        "criteria_version": row.criteria_version or "",
        "outcome": OUTCOME_CODES.get(row.outcome or "", ""),
        "eligible_from": row.eligible_from.isoformat() if row.eligible_from else "",
    }
    for answer_id, spec in trial.answers.items():
        cells.update(answer_cells(spec, answer_id, row.answers))
    language = next(f for f in fields if f.name == "language")
    cells["language"] = row.language if row.language in language.codes else ""
    return [cells.get(f.name, "") for f in fields]


def records_chunks(rows: Iterator[ExportRow], trial: Trial) -> Iterator[str]:
    """The records as REDCap's flat CSV import: the dictionary's field names, then one row each."""
    fields = dictionary(trial)
    return _csv(itertools.chain([[f.name for f in fields]], (record(row, trial, fields) for row in rows)))
