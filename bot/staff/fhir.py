"""FHIR R4: a Questionnaire made from the criteria file, and the conversations as a Bundle of
QuestionnaireResponses for it.

`prescreen export --format fhir-questionnaire` writes the Questionnaire (JSON), `--format fhir` a
Bundle (type `collection`) with one QuestionnaireResponse per filtered conversation.

Names: nothing here is a web address we made up. The Questionnaire's canonical `url` is the URN
`urn:prescreen:<trial id>`; each choice answer's code system is `urn:prescreen:<trial id>:<answer id>`
(the outcome's `...:outcome`, the reference codes' `...:reference`). Only HL7's own canonical URLs
are used besides (the data-absent-reason extension and the minValue / maxValue extensions).

Items: one per data-dictionary answer id (linkId = the answer id), in the criteria file's order,
rather than one group per question: a question id and an answer id are often the same word (`age`,
`hiv`) and linkIds must be unique in a Questionnaire, and one answer can be filled by two questions
(`ivig_last_dose` by `ivig` and `ig_route`). A boolean is `boolean`, a number `integer`, a choice
`choice` with an `answerOption` per value; a last dose is a `choice` of its status (`date`, `never`,
`current`, `not_recent`) plus `<id>_date` (`date`, enabled when the status is `date`). Two read-only
items carry the result: `outcome` (`choice`) and `eligible_from` (`date`).

"Don't know" is an item with no `answer` and HL7's data-absent-reason extension with the code
`asked-unknown` ("the source was asked but does not know the value"); an answer not asked has no
item at all.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote

from actions.conditions import AllOf, AnyOf, Compare, Condition, Not
from actions.evaluator import Outcome
from actions.qtypes import LAST_DOSE_WORDS
from actions.trial import AnswerSpec, Trial
from bot.staff.queries import OUTCOME_LABELS
from bot.staff.redcap import DATE_SUFFIX, LAST_DOSE_LABELS, conditions_by_answer

if TYPE_CHECKING:
    from bot.staff.export import ExportRow

DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
ASKED_UNKNOWN = "asked-unknown"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
DATE_GIVEN = "date"
LAST_DOSE_STATUSES = {DATE_GIVEN: "Date given", **{w: LAST_DOSE_LABELS.get(w, w) for w in LAST_DOSE_WORDS}}
OUTCOME, ELIGIBLE_FROM = "outcome", "eligible_from"


class QuestionnaireError(ValueError):
    """A criteria file whose answer ids cannot be the Questionnaire's linkIds."""


def canonical(trial: Trial) -> str:
    """The Questionnaire's canonical URL: a URN of the trial id (no web address invented)."""
    return f"urn:prescreen:{quote(trial.id, safe='')}"


def system(trial: Trial, name: str) -> str:
    """The code system of one answer id's codes (or of `outcome`, `reference`)."""
    return f"{canonical(trial)}:{name}"


def _coding(trial: Trial, name: str, code: str, display: str) -> dict[str, str]:
    return {"system": system(trial, name), "code": code, "display": display}


def _options(spec: AnswerSpec) -> list[tuple[str, str]]:
    """(code, display) of a choice or last-dose item's answer options."""
    if spec.type == "choice":
        return [(value, value) for value in spec.values]
    return list(LAST_DOSE_STATUSES.items())


# -- enableWhen -----------------------------------------------------------------------------------

class _NotExpressible(Exception):
    pass


def _atoms(condition: Condition, trial: Trial, holds: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """(behavior, enableWhens): the enableWhens joined by `behavior` ("all" or "any") are true exactly
    when `condition` evaluates to `holds`. Exact because FHIR's `=`, `<`, `>=` are false when the
    question has no answer, as a comparison of the condition language is unknown (so the question
    is not asked) when the answer is missing or "don't know"; and a negation is pushed into the
    comparisons (`not: {hiv is true}` is `hiv = false`, `not: {age at_least 18}` is `age < 18`). FHIR's
    `!=` is TRUE without an answer, so it is never used. Raises _NotExpressible."""
    if isinstance(condition, Not):
        return _atoms(condition.part, trial, not holds)
    if isinstance(condition, (AllOf, AnyOf)):
        conjunction = isinstance(condition, AllOf) == holds
        parts = [_atoms(p, trial, holds) for p in condition.parts]
        whens = [w for _, ws in parts for w in ws]
        # FHIR has one level: all of single comparisons, or any of comparisons (a part that is itself
        # "any of" several flattens into an "any"; an "all" of "any"s does not)
        if conjunction and any(len(ws) > 1 for _, ws in parts):
            raise _NotExpressible
        if not conjunction and any(len(ws) > 1 and b == "all" for b, ws in parts):
            raise _NotExpressible
        return ("all" if conjunction else "any"), whens
    if not isinstance(condition, Compare):
        raise _NotExpressible          # `answered`: `exists` is false for a "don't know", `answered` true
    answer_id = condition.answer
    spec = trial.answers[answer_id]
    op, operand = condition.op, condition.operand
    if op == "is_not":
        op, holds = "is", not holds
    if spec.type == "integer":
        if type(operand) is not int:
            raise _NotExpressible
        if op == "at_least" or op == "below":
            high = (op == "at_least") == holds
            return "all", [{"question": answer_id, "operator": ">=" if high else "<", "answerInteger": operand}]
        if op == "is":
            if holds:
                return "all", [{"question": answer_id, "operator": "=", "answerInteger": operand}]
            return "any", [{"question": answer_id, "operator": "<", "answerInteger": operand},
                           {"question": answer_id, "operator": ">", "answerInteger": operand}]
        raise _NotExpressible
    if spec.type == "boolean":
        known: list[Any] = [True, False]
    elif spec.type == "choice":
        known = list(spec.values)
    else:
        known = [DATE_GIVEN, *LAST_DOSE_WORDS]
    if op == "is_date" and spec.type == "last_dose":
        wanted = {DATE_GIVEN} if operand else set(LAST_DOSE_WORDS)
    elif op in ("is", "in"):
        wanted = set(operand) if op == "in" else {operand}
        if spec.type == "last_dose" and not wanted <= set(LAST_DOSE_WORDS):
            raise _NotExpressible      # a last dose compared with one date
    else:
        raise _NotExpressible
    values = [v for v in known if (v in wanted) == holds]
    if not values:
        raise _NotExpressible
    whens = []
    for value in values:
        when: dict[str, Any] = {"question": answer_id, "operator": "="}
        if spec.type == "boolean":
            when["answerBoolean"] = value
        elif spec.type == "choice":
            when["answerCoding"] = _coding(trial, answer_id, value, value)
        else:
            when["answerCoding"] = _coding(trial, answer_id, value, LAST_DOSE_STATUSES[value])
        whens.append(when)
    return "any", whens


def enable_when(condition: Condition, trial: Trial) -> dict[str, Any]:
    """`enableWhen` (and `enableBehavior`) for an ask_if, or {} when FHIR cannot say it exactly
    (`_atoms`: `answered`, an "all" of "any"s, a last dose compared with one date): such an item is
    then always enabled, and has no answer in a response whenever its question was not asked."""
    try:
        behavior, whens = _atoms(condition, trial)
    except _NotExpressible:
        return {}
    return {"enableWhen": whens, **({"enableBehavior": behavior} if len(whens) > 1 else {})}


# -- the Questionnaire ----------------------------------------------------------------------------

def questionnaire(trial: Trial) -> dict[str, Any]:
    """The Questionnaire (a dict in FHIR R4 JSON form)."""
    english = trial.for_language("en")
    conditions = conditions_by_answer(trial)
    items: list[dict[str, Any]] = []
    for answer_id, spec in english.answers.items():
        item: dict[str, Any] = {"linkId": answer_id, "text": spec.label}
        if spec.type == "boolean":
            item["type"] = "boolean"
        elif spec.type == "integer":
            item["type"] = "integer"
            limits = [{"url": url, "valueInteger": value}
                      for url, value in ((MIN_VALUE, spec.min), (MAX_VALUE, spec.max)) if value is not None]
            if limits:
                item = {"extension": limits, **item}
        else:
            item["type"] = "choice"
            item["answerOption"] = [{"valueCoding": _coding(trial, answer_id, code, display)}
                                    for code, display in _options(spec)]
        if answer_id in conditions:
            item.update(enable_when(conditions[answer_id], trial))
        items.append(item)
        if spec.type == "last_dose":
            items.append({"linkId": answer_id + DATE_SUFFIX, "text": f"{spec.label}: date", "type": "date",
                          "enableWhen": [{"question": answer_id, "operator": "=", "answerCoding": _coding(
                              trial, answer_id, DATE_GIVEN, LAST_DOSE_STATUSES[DATE_GIVEN])}]})
    items.append({"linkId": OUTCOME, "text": "Prescreen outcome", "type": "choice", "readOnly": True,
                  "answerOption": [{"valueCoding": _coding(trial, OUTCOME, o.value, OUTCOME_LABELS[o])}
                                   for o in reversed(Outcome)]})
    items.append({"linkId": ELIGIBLE_FROM, "text": "Could start the study from (after a washout)", "type": "date",
                  "readOnly": True})
    seen: set[str] = set()
    for item in items:
        if item["linkId"] in seen:
            raise QuestionnaireError(f"The linkId {item['linkId']!r} would appear twice in the FHIR Questionnaire "
                                     "(an answer id, a last dose's `_date` item, `outcome` and `eligible_from` "
                                     "must all differ). Rename the answer id in the criteria file.")
        seen.add(item["linkId"])
    return {
        "resourceType": "Questionnaire",
        "language": "en",
        "url": canonical(trial),
        "version": trial.model.version,
        "name": "Prescreen_" + re.sub(r"[^A-Za-z0-9_]", "_", trial.id),
        "title": english.model.title,
        "status": "active",
        "subjectType": ["Patient"],
        "description": english.model.summary,
        "item": items,
    }


def questionnaire_chunks(trial: Trial) -> Iterator[str]:
    yield json.dumps(questionnaire(trial), ensure_ascii=False, indent=2) + "\n"


# -- the responses --------------------------------------------------------------------------------

def _unknown(link_id: str) -> dict[str, Any]:
    return {"linkId": link_id, "extension": [{"url": DATA_ABSENT_REASON, "valueCode": ASKED_UNKNOWN}]}


def _answer_items(trial: Trial, answer_id: str, spec: AnswerSpec, value: Any) -> list[dict[str, Any]]:
    """The response items of one answer given (value None: "don't know"). A stored value the
    criteria file no longer allows (the file changed since) gives no item."""
    if spec.problem(value) is not None:
        return []
    if value is None:
        return [_unknown(answer_id)]
    if spec.type == "boolean":
        return [{"linkId": answer_id, "answer": [{"valueBoolean": value}]}]
    if spec.type == "integer":
        return [{"linkId": answer_id, "answer": [{"valueInteger": value}]}]
    if spec.type == "choice":
        return [{"linkId": answer_id, "answer": [{"valueCoding": _coding(trial, answer_id, value, value)}]}]
    code = value if value in LAST_DOSE_WORDS else DATE_GIVEN     # a last dose: a word, or a date
    status = _coding(trial, answer_id, code, LAST_DOSE_STATUSES[code])
    items = [{"linkId": answer_id, "answer": [{"valueCoding": status}]}]
    if code == DATE_GIVEN:
        items.append({"linkId": answer_id + DATE_SUFFIX, "answer": [{"valueDate": value}]})
    return items


def response(row: ExportRow, trial: Trial) -> dict[str, Any]:
    """One conversation as a QuestionnaireResponse: identified by its reference code (never by the
    conversation id, its credential), for the Questionnaire of the criteria version it was
    evaluated with, authored at its last activity in the site's zone."""
    items: list[dict[str, Any]] = []
    for answer_id, spec in trial.answers.items():
        if answer_id in row.answers:
            items += _answer_items(trial, answer_id, spec, row.answers[answer_id])
    if row.outcome in {o.value for o in Outcome}:
        outcome = Outcome(row.outcome)
        items.append({"linkId": OUTCOME, "answer": [{"valueCoding": _coding(trial, OUTCOME, outcome.value,
                                                                            OUTCOME_LABELS[outcome])}]})
    if row.eligible_from:
        items.append({"linkId": ELIGIBLE_FROM, "answer": [{"valueDate": row.eligible_from.isoformat()}]})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "language": row.language,
        "identifier": {"system": system(trial, "reference"), "value": row.reference},
        "questionnaire": f"{canonical(trial)}|{row.criteria_version or trial.model.version}",
        "status": "completed" if row.completed else "in-progress",
        "authored": row.last_activity.isoformat(timespec="seconds"),
    }
    if items:
        resource["item"] = items
    return resource


def bundle_chunks(rows: Iterator[ExportRow], trial: Trial, now: dt.datetime) -> Iterator[str]:
    """The Bundle (type collection) of the responses, one entry a line, streamed. No conversation:
    no `entry` at all (FHIR JSON has no empty arrays)."""
    head = json.dumps({"resourceType": "Bundle", "type": "collection",
                       "timestamp": now.astimezone(trial.zone).isoformat(timespec="seconds")}, ensure_ascii=False)
    count = 0
    for row in rows:
        entry = json.dumps({"resource": response(row, trial)}, ensure_ascii=False)
        yield (head[:-1] + ', "entry": [\n' if count == 0 else ",\n") + entry
        count += 1
    yield "\n]}\n" if count else head + "\n"
