"""The prescreen evaluator: answers + criteria + today -> the result object.

Pure: `today` is a parameter, nothing reads the clock or touches I/O. The
result's shape is the public contract of docs/ARCHITECTURE.md, "The result" (its JSON Schema is
`schemas/prescreen_result.schema.json`).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any, Iterable, Mapping

from dateutil.relativedelta import relativedelta

from actions.conditions import UNSET
from actions.contracts import CriterionResult, PrescreenResult
from actions.trial import Criterion, Trial, check_answer_value


class Verdict(str, Enum):
    """What one criterion says about a person."""

    PASS = "pass"        # does not stand in the way
    FAIL = "fail"        # rules the person out
    WAIT = "wait"        # a washout holds until a date
    UNKNOWN = "unknown"  # study staff must check


class Outcome(str, Enum):
    """The prescreen outcome, in order of precedence."""

    NOT_ELIGIBLE = "not_eligible"
    NEEDS_REVIEW = "needs_review"
    ELIGIBLE_AFTER_WASHOUT = "eligible_after_washout"
    LIKELY_ELIGIBLE = "likely_eligible"


class AnswersError(ValueError):
    """Answers that do not fit the trial's data dictionary; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def check_answers(trial: Trial, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Return the answers if each id and value fits the dictionary, else raise."""
    if not isinstance(answers, Mapping):
        raise AnswersError("(answers)", "expected a JSON object mapping answer ids to values")
    for answer_id, value in answers.items():
        why = check_answer_value(trial, answer_id, value)
        if why:
            raise AnswersError(answer_id, why)
    return dict(answers)


def washout_end(last_dose: dt.date, days: int | None, months: int | None) -> dt.date:
    """The first day a first dose is allowed after `last_dose`.

    Calendar months keep the day of the month; a day the target month does not
    have becomes that month's last day (31 August + 6 months = 28/29 February).
    """
    if months:
        return last_dose + relativedelta(months=months)
    return last_dose + dt.timedelta(days=days or 0)


def _verdict(kind: str, crit: Criterion, trial: Trial, answers: Mapping[str, Any],
             today: dt.date) -> tuple[Verdict, dt.date | None, str, list[str]]:
    """One criterion's verdict, its `until` day, its reason and answers used."""
    reasons = crit.reasons
    if crit.washout is not None:
        w = crit.washout
        used = [w.answer]
        value = answers.get(w.answer, UNSET)
        if value in ("never", "not_recent"):
            return Verdict.PASS, None, reasons.pass_, used
        if value == "current":
            return Verdict.UNKNOWN, None, reasons.current, used
        last = _date_or_none(value)
        if last is not None:
            until = washout_end(last, w.days, w.months)
            if until <= today:
                return Verdict.PASS, None, reasons.pass_, used
            return Verdict.WAIT, until, reasons.wait, used
        return Verdict.UNKNOWN, None, reasons.unknown, used

    cond = trial.conditions[crit.id]
    used = cond.answer_ids()
    truth = cond.evaluate(answers)
    if truth is None:
        return Verdict.UNKNOWN, None, reasons.unknown, used
    rules_out = (truth is False) if kind == "inclusion" else (truth is True)
    if not rules_out:
        return Verdict.PASS, None, reasons.pass_, used
    if not crit.patient_can_judge:
        return Verdict.UNKNOWN, None, reasons.unknown, used
    return Verdict.FAIL, None, reasons.fail, used


def rules_out(trial: Trial, answers: Mapping[str, Any]) -> bool:
    """Whether any criterion fails on these answers (as `evaluate` would say), without building
    the result: the form asks this after every answer."""
    for kind, crit in trial.criteria():   # as _verdict: washouts never fail, nor what staff must judge
        if crit.washout is None and crit.patient_can_judge:
            truth = trial.conditions[crit.id].evaluate(answers)
            if truth is not None and truth is (kind == "exclusion"):
                return True
    return False


def outcome_of(verdicts: Iterable[Verdict]) -> Outcome:
    """Outcome precedence: any fail, then any unknown, then any wait."""
    verdicts = set(verdicts)
    if Verdict.FAIL in verdicts:
        return Outcome.NOT_ELIGIBLE
    if Verdict.UNKNOWN in verdicts:
        return Outcome.NEEDS_REVIEW
    if Verdict.WAIT in verdicts:
        return Outcome.ELIGIBLE_AFTER_WASHOUT
    return Outcome.LIKELY_ELIGIBLE


def evaluate(trial: Trial, answers: Mapping[str, Any], today: dt.date,
             estimates: Iterable[str] = ()) -> PrescreenResult:
    """The prescreen result (docs/ARCHITECTURE.md, "The result") for these answers on the site date `today`.

    `answers` maps dictionary answer ids to values; a missing id is "not asked"
    and None is "don't know": both make the criteria that need them unknown.
    `estimates` names answers the patient gave only roughly (a vague date):
    staff are asked to confirm them.
    """
    estimates = set(estimates)
    criteria: list[CriterionResult] = []
    to_check: list[str] = []
    waits: list[dt.date] = []
    for kind, crit in trial.criteria():
        verdict, until, reason, used = _verdict(kind, crit, trial, answers, today)
        if verdict is Verdict.WAIT:
            waits.append(until)
        if verdict is Verdict.UNKNOWN:
            to_check.append(reason)
        for answer_id in used:
            if answer_id in estimates and _date_or_none(answers.get(answer_id)) is not None:
                to_check.append(f"{trial.answers[answer_id].label}: the date is the patient's estimate"
                                f" ({answers.get(answer_id)}); confirm it.")
        criteria.append({
            "id": crit.id,
            "kind": kind,
            "verdict": verdict.value,
            "until": until.isoformat() if until else None,
            "reason": reason,
            "answers": {a: _plain(answers.get(a, UNSET)) for a in used},
        })
    outcome = outcome_of(Verdict(c["verdict"]) for c in criteria)
    if outcome is Outcome.NOT_ELIGIBLE:  # after an early stop, questions never asked are not staff's work
        asked = [c for c in criteria if c["verdict"] == Verdict.UNKNOWN.value and
                 any(answers.get(a, UNSET) is not UNSET for a in c["answers"])]
        to_check = [c["reason"] for c in asked] + [x for x in to_check if "estimate" in x]
    eligible_from = None
    if waits and outcome in (Outcome.ELIGIBLE_AFTER_WASHOUT, Outcome.NEEDS_REVIEW):
        eligible_from = max(waits).isoformat()
    return {
        "outcome": outcome.value,
        "eligible_from": eligible_from,
        "criteria": criteria,
        "to_check": list(dict.fromkeys(to_check)),
        "status_notice": None if trial.recruiting else (trial.model.status_notice or "This study is not recruiting."),
        "contact": trial.contact(),
        "trial_id": trial.id,
        "criteria_version": trial.model.version,
        "today": today.isoformat(),
    }


def _date_or_none(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    return None if value is UNSET else value
