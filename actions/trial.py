"""The trial as data: the criteria-file model, its loader and its checks.

`load_trial(path)` reads a criteria YAML file, validates it (pydantic for the
shape, then cross-checks such as "every condition names a dictionary answer")
and returns a `Trial`. Every problem is reported with file, line and field.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from actions import translations
from actions.conditions import Condition, ConditionError, parse_condition
from actions.qtypes import COMMON_FIELDS, LAST_DOSE_WORDS, QUESTION_TYPES

AnswerType = Literal["boolean", "integer", "choice", "last_dose"]
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerSpec(_Strict):
    """One entry of the data dictionary: an answer id's type and meaning."""

    type: AnswerType
    label: str
    values: list[str] = []
    min: int | None = None
    max: int | None = None

    def problem(self, value: Any) -> str | None:
        """Why `value` is not a valid value for this answer, or None."""
        if value is None:
            return None
        if self.type == "boolean" and not isinstance(value, bool):
            return "expected true, false or null"
        if self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                return "expected a whole number or null"
            if self.min is not None and value < self.min or self.max is not None and value > self.max:
                return f"expected a number from {self.min} to {self.max}"
        if self.type == "choice" and value not in self.values:
            return f"expected one of {', '.join(self.values)} or null"
        if self.type == "last_dose" and value not in LAST_DOSE_WORDS:
            if not isinstance(value, str) or not ISO_DATE.match(value):
                return "expected a date YYYY-MM-DD, never, current, not_recent or null"
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                return f"{value!r} is not a real date (YYYY-MM-DD)"
        return None


class Choice(_Strict):
    """A button of a question, with the words that mean it and what it sets. `id` is what its
    button sends (stable in every language): given, else its `value`, else "unknown" for a
    "not sure" choice, else the English title in lower case with underscores."""

    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_]*$")
    title: str
    synonyms: list[str] = []
    value: bool | str | None = None
    sets: dict[str, Any] = {}
    unknown: bool = False
    priority: int = 0


class Option(_Strict):
    """One item of a grouped (multi) question: a yes/no answer id."""

    answer: str
    title: str
    synonyms: list[str] = []


class NoneChoice(_Strict):
    """The "none of these" button of a grouped question."""

    title: str
    synonyms: list[str] = []


class Question(_Strict):
    """A question: its wording, help, answer type, choices and when to ask it."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: str   # a name in actions.qtypes.QUESTION_TYPES
    text: str
    help: str
    answer: str | None = None
    ask_if: Any = None
    choices: list[Choice] = []
    extra_choices: list[Choice] = []
    options: list[Option] = []
    none: NoneChoice | None = None
    medicines: list[str] = []
    names: list[str] = []
    means_yes: list[str] = []
    means_no: list[str] = []
    means_unknown: list[str] = []
    uncontrolled: bool = False
    # "negative": the question asks about something that did NOT happen ("treatment that did not
    # help"): a reply restating the negative ("it hasn't helped") means yes, and is checked back
    polarity: Literal["positive", "negative"] = "positive"
    # a yes counts only within this many days before today ("in the past month": 31; "are you ...
    # now": 0); an event the reply places earlier is a no
    window_days: StrictInt | None = Field(default=None, ge=0)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in QUESTION_TYPES:
            raise ValueError(f"unknown question type {value!r} (known: {', '.join(QUESTION_TYPES)})")
        return value


class Reasons(_Strict):
    """Plain-language reasons shown for each verdict of a criterion."""

    fail: str | None = None
    unknown: str
    pass_: str = Field(alias="pass")
    wait: str | None = None
    current: str | None = None


class Washout(_Strict):
    """A medicine washout: the first allowed day is last dose + days or months."""

    answer: str
    days: StrictInt | None = Field(default=None, gt=0)
    months: StrictInt | None = Field(default=None, gt=0)


class Criterion(_Strict):
    """One inclusion or exclusion criterion taken from the trial's page."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    source_text: str
    condition: Any = None
    washout: Washout | None = None
    patient_can_judge: bool = True
    reasons: Reasons


class Investigator(_Strict):
    """A named investigator, as the trial's page lists them."""

    name: str
    title: str = ""


class Contact(_Strict):
    """How to reach the study; unknown fields stay empty, never invented."""

    organisation: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""
    url: str = ""
    note: str = ""


class Site(_Strict):
    """Where the study runs: its time zone and how it writes dates."""

    time_zone: str
    date_order: Literal["MDY", "DMY"] = "MDY"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as America/Los_Angeles)")
        return value


class TrialModel(_Strict):
    """The whole criteria file, as validated by pydantic."""

    id: str
    version: str
    # the languages offered to patients (the first is the default); every patient-facing text
    # needs a translation into each of them (see `translations` below)
    languages: list[Literal["en", "es"]] = ["en"]
    title: str
    short_title: str
    drug: str = ""
    summary: str
    status: Literal["recruiting", "not_recruiting"]
    status_notice: str = ""
    # "What happens next" per outcome, shown with the result (else the dialogue's default texts)
    next_steps: dict[Literal["likely_eligible", "eligible_after_washout", "needs_review", "not_eligible"], str] = {}
    contact_opt_in: bool = False
    ask_every_question: bool = False
    site: Site
    investigators: list[Investigator] = []
    contact: Contact
    answers: dict[str, AnswerSpec]
    questions: list[Question] = Field(min_length=1)
    inclusion: list[Criterion] = []
    exclusion: list[Criterion] = []

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(f"put the version in quotes (YAML reads {value!r} as a number, so 1.10 would become 1.1)")
        return value


@dataclass(frozen=True)
class Trial:
    """A loaded, checked trial: the model plus its parsed conditions."""

    model: TrialModel
    path: str
    ask_if: dict[str, Condition | None]
    conditions: dict[str, Condition | None]
    warnings: tuple[str, ...] = ()
    questions_by_id: dict[str, Question] = field(default_factory=dict)
    language: str = "en"
    # the same trial in each offered language (patient-facing texts translated; ids, answers and
    # conditions shared); the English trial holds them all
    views: dict[str, Trial] = field(default_factory=dict)

    def for_language(self, language: str | None) -> Trial:
        """This trial's texts in `language` (an offered one), else in English."""
        return self.views.get(language or "en", self.views.get("en", self))

    @property
    def languages(self) -> list[str]:
        return list(self.model.languages)

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def questions(self) -> list[Question]:
        return self.model.questions

    @property
    def answers(self) -> dict[str, AnswerSpec]:
        return self.model.answers

    @property
    def recruiting(self) -> bool:
        return self.model.status == "recruiting"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.model.site.time_zone)

    def long_date(self, value: str | dt.date) -> str:
        """A date as patients read it, in the site's order: "February 28, 2027" (MDY) or
        "28 February 2027" (DMY)."""
        day = dt.date.fromisoformat(value) if isinstance(value, str) else value
        if self.language == "es":
            return f"{day.day} de {SPANISH_MONTHS[day.month - 1]} de {day.year}"
        if self.model.site.date_order == "DMY":
            return f"{day.day} {day:%B %Y}"
        return f"{day:%B} {day.day}, {day.year}"

    def today(self) -> dt.date:
        """The site's local date now (the only place that reads the clock)."""
        return dt.datetime.now(self.zone).date()

    def criteria(self) -> list[tuple[str, Criterion]]:
        """All criteria with their kind, inclusions first."""
        return [("inclusion", c) for c in self.model.inclusion] + [
            ("exclusion", c) for c in self.model.exclusion]

    def contact(self) -> dict[str, Any]:
        """The contact block every result carries."""
        data = self.model.contact.model_dump()
        data["investigators"] = [i.model_dump() for i in self.model.investigators]
        data["trial_id"] = self.model.id
        return data


SPANISH_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
                  "noviembre", "diciembre")


def question_answer_ids(question: Question) -> list[str]:
    """The dictionary answer ids a question fills."""
    return QUESTION_TYPES[question.type].answer_ids(question)


class TrialError(Exception):
    """A criteria file that cannot be used; `problems` lists each with its line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _line_of(node: yaml.Node | None, path: tuple) -> int | None:
    """The 1-based line of the deepest YAML node reachable along `path`."""
    line = node.start_mark.line + 1 if node is not None else None
    for step in path:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if key.value == step or key.value == str(step).rstrip("_"):
                    found = key, value
                    break
            if found is None:   # a translated value: its English words are where the value is
                en = next((v for k, v in node.value if k.value == "en"), None)
                if isinstance(en, yaml.SequenceNode) and isinstance(step, int) and step < len(en.value):
                    line = en.value[step].start_mark.line + 1
                break
            line = found[0].start_mark.line + 1
            node = found[1]
            continue
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                break
            node = node.value[step]
        else:
            continue
        line = node.start_mark.line + 1
    return line


class _Checker:
    """Collects problems with their line numbers while checking one file."""

    def __init__(self, path: str, node: yaml.Node | None) -> None:
        self.path, self.node = path, node
        self.problems: list[str] = []

    def add(self, loc: tuple, message: str) -> None:
        where = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(self.node, loc) or 1
        self.problems.append(f"{self.path}:{line}: {where}: {message}")


def load_trial(path: str | os.PathLike) -> Trial:
    """Load and check a criteria file; raise TrialError listing every problem."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrialError([f"{path}: cannot read the file: {exc}"])
    return parse_trial(text, path)


def parse_trial(text: str, path: str = "<criteria>") -> Trial:
    """Parse criteria YAML text (see `load_trial`)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        duplicates = _duplicate_keys(node)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else "?"
        raise TrialError([f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"])
    check = _Checker(path, node)
    for line, key in duplicates:
        check.problems.append(f"{path}:{line}: {key}: this key appears twice in the same mapping (the second would silently win)")
    if duplicates:
        raise TrialError(check.problems)
    if not isinstance(data, dict):
        check.add((), "the file must be a mapping of trial fields")
        raise TrialError(check.problems)
    offered = data.get("languages", ["en"])
    if not isinstance(offered, list) or "en" not in offered:
        check.add(("languages",), "`languages` lists the languages offered to patients and must include en,"
                                  " for example [en, es]")
        raise TrialError(check.problems)
    unreviewed = translations.check(data, [str(x) for x in offered], check.add, lambda loc: _line_of(node, loc) or 1)
    _choice_ids(data)
    models: dict[str, TrialModel] = {}
    for language in offered:
        try:
            models[language] = TrialModel.model_validate(translations.project(data, language))
        except ValidationError as exc:
            _report(exc, check)
        if check.problems:
            raise TrialError(check.problems)
    model = models["en"]
    ask_if, conditions = _check_semantics(model, check)
    for language, other in models.items():
        if language != "en":
            _check_semantics(other, check)
    if check.problems:
        raise TrialError(list(dict.fromkeys(check.problems)))
    warnings = [f"{path}: {w}" for w in unreviewed]
    c = model.contact
    if not (c.phone or c.email or c.url):
        warnings.append(f"{path}:{_line_of(node, ('contact',))}: contact: no phone, e-mail or URL to reach a person"
                        " (results will show the address and the contact note only)")
    views: dict[str, Trial] = {}
    for language, view in models.items():
        views[language] = Trial(model=view, path=path, ask_if=ask_if, conditions=conditions, warnings=tuple(warnings),
                                questions_by_id={q.id: q for q in view.questions}, language=language, views=views)
    return views["en"]


def _report(exc: ValidationError, check: _Checker) -> None:
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check its spelling and indentation)"
        elif isinstance(err.get("input"), bool) and err["type"] == "string_type":
            msg += " (YAML reads an unquoted yes/no/on/off as true/false: put it in quotes)"
        elif isinstance(err.get("input"), dict) and err["type"] in ("string_type", "list_type"):
            msg += " (a translated text is a mapping with an `en` key and one key per language, e.g. es)"
        check.add(loc, msg)


def _choice_ids(data: dict) -> None:
    """Give every choice without an `id` the one its button sends, the same in every language:
    its `value`, else "unknown" for a "not sure" choice, else its English title as a word id."""
    for question in data.get("questions") or []:
        if not isinstance(question, dict):
            continue
        for group in ("choices", "extra_choices"):
            for choice in question.get(group) or []:
                if not isinstance(choice, dict) or "id" in choice:
                    continue
                value, title = choice.get("value"), choice.get("title")
                english = title.get("en") if translations.is_translation(title) else title
                if isinstance(value, str):
                    choice["id"] = value
                elif choice.get("unknown") or (value is None and "sets" not in choice):
                    choice["id"] = "unknown"
                elif isinstance(english, str):
                    choice["id"] = re.sub(r"[^a-z0-9]+", "_", english.lower()).strip("_") or "choice"


def _duplicate_keys(node: yaml.Node | None) -> list[tuple[int, str]]:
    """(line, key) of every key repeated within one mapping."""
    found, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            seen = set()
            for key, value in n.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        found.append((key.start_mark.line + 1, key.value))
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return sorted(found)


OPERATOR_TYPES = {"at_least": ("integer",), "below": ("integer",), "is_date": ("last_dose",)}


def check_answer_value(trial: Trial, answer_id: str, value: Any) -> str | None:
    """Why `value` is not valid for `answer_id` of this trial, or None."""
    spec = trial.answers.get(answer_id)
    if spec is None:
        return f"unknown answer id {answer_id!r} (the criteria file defines: {', '.join(trial.answers)})"
    return spec.problem(value)


def _check_semantics(model: TrialModel, check: _Checker):
    answers = model.answers
    for aid, spec in answers.items():
        if spec.type == "choice" and not spec.values:
            check.add(("answers", aid, "values"), "a choice answer needs a list of values")

    def known(aid: str, loc: tuple) -> bool:
        if aid not in answers:
            check.add(loc, f"unknown answer id {aid!r}; the data dictionary ('answers') defines: {', '.join(answers)}")
            return False
        return True

    def condition(data: Any, loc: tuple) -> Condition | None:
        try:
            cond = parse_condition(data)
        except ConditionError as exc:
            check.add(loc + exc.path, str(exc))
            return None
        _check_refs(data, loc)
        return cond

    def _check_refs(data: Any, loc: tuple) -> None:
        if isinstance(data, dict):
            for key, value in data.items():
                if key in ("answer", "answered") and isinstance(value, str):
                    if known(value, loc + (key,)) and key == "answer":
                        for op, types in OPERATOR_TYPES.items():
                            if op in data and answers[value].type not in types:
                                check.add(loc + (op,), f"'{op}' cannot be used with {value!r}, a {answers[value].type}"
                                          f" answer ('{op}' works with: {', '.join(types)})")
                        for op in ("is", "is_not", "in"):
                            if op in data:
                                for v in data[op] if op == "in" else [data[op]]:
                                    why = answers[value].problem(v)
                                    if why:
                                        check.add(loc + (op,), f"{v!r} can never be a value of {value}: {why}")
                else:
                    _check_refs(value, loc + (key,))
        elif isinstance(data, list):
            for i, item in enumerate(data):
                _check_refs(item, loc + (i,))

    seen: set[str] = set()
    ask_if: dict[str, Condition | None] = {}
    filled: set[str] = set()
    for i, q in enumerate(model.questions):
        loc = ("questions", i)
        if q.id in seen:
            check.add(loc + ("id",), f"duplicate question id {q.id!r}")
        seen.add(q.id)
        ask_if[q.id] = condition(q.ask_if, loc + ("ask_if",)) if q.ask_if is not None else None
        if ask_if[q.id] is not None:
            for aid in ask_if[q.id].answer_ids():
                if aid in answers and aid not in filled:
                    check.add(loc + ("ask_if",), f"ask_if uses {aid!r}, which no earlier question fills"
                              " (a question can only depend on answers asked before it)")
        _check_question(q, loc, answers, known, check)
        filled.update(question_answer_ids(q))
    for aid in answers:
        if aid not in filled:
            check.add(("answers", aid), f"no question fills the answer {aid!r}")

    conditions: dict[str, Condition | None] = {}
    for kind in ("inclusion", "exclusion"):
        for i, crit in enumerate(getattr(model, kind)):
            loc = (kind, i)
            if crit.id in conditions:
                check.add(loc + ("id",), f"duplicate criterion id {crit.id!r}")
            if (crit.condition is None) == (crit.washout is None):
                check.add(loc, "a criterion needs exactly one of 'condition' or 'washout'")
                continue
            if crit.washout is not None:
                w = crit.washout
                if known(w.answer, loc + ("washout", "answer")) and answers[w.answer].type != "last_dose":
                    check.add(loc + ("washout", "answer"), f"a washout needs a last_dose answer; {w.answer!r} is {answers[w.answer].type}")
                if (w.days is None) == (w.months is None):
                    check.add(loc + ("washout",), "a washout needs exactly one of 'days' or 'months'")
                for need in ("wait", "current"):
                    if getattr(crit.reasons, need) is None:
                        check.add(loc + ("reasons",), f"a washout criterion needs a '{need}' reason")
                conditions[crit.id] = None
            else:
                if crit.reasons.fail is None:
                    check.add(loc + ("reasons",), "a criterion with a condition needs a 'fail' reason")
                conditions[crit.id] = condition(crit.condition, loc + ("condition",))
    return ask_if, conditions


def _check_question(q: Question, loc: tuple, answers: dict[str, AnswerSpec], known, check: _Checker) -> None:
    qtype = QUESTION_TYPES[q.type]
    for name in sorted(q.model_fields_set - COMMON_FIELDS - qtype.fields):
        check.add(loc + (name,), f"'{name}' does not apply to {'an' if q.type[0] in 'aeiou' else 'a'} {q.type} question (it may use: "
                                 f"{', '.join(sorted(qtype.fields)) or 'no other field'})")
    qtype.check(q, answers, lambda aid, path: known(aid, loc + path),
                lambda path, message: check.add(loc + path, message))
