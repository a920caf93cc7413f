"""The condition language shared by `ask_if` and the criteria.

A condition is a small tree of YAML mappings with a fixed vocabulary (never
`eval`). It is three-valued (Kleene logic): every node evaluates to True,
False or None ("unknown"), and an answer that was not given, or was "I don't
know", makes a comparison unknown. Every node can describe itself in plain
words and list the answer ids it reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

Truth = bool | None


class _Unset:
    """The "not asked" marker: distinct from None, which means "don't know"."""

    _instance: "_Unset | None" = None

    def __new__(cls) -> "_Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET = _Unset()

COMPARISONS = ("is", "is_not", "in", "at_least", "below", "is_date")
VOCABULARY = "all, any, not, answered, or answer with one of " + ", ".join(COMPARISONS)


class ConditionError(ValueError):
    """A condition that is not of the language; `path` points inside it."""

    def __init__(self, message: str, path: tuple = ()) -> None:
        super().__init__(message)
        self.path = path


def _is_date(value: Any) -> bool:
    return isinstance(value, str) and _parse_iso(value) is not None


def _parse_iso(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


class Condition:
    """Base of every node: evaluates to a Truth and describes itself."""

    def evaluate(self, answers: Mapping[str, Any]) -> Truth:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def answer_ids(self) -> list[str]:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class AllOf(Condition):
    """True when every part is true; false as soon as one part is false."""

    parts: tuple[Condition, ...]

    def evaluate(self, answers: Mapping[str, Any]) -> Truth:
        values = [p.evaluate(answers) for p in self.parts]
        if False in values:
            return False
        return None if None in values else True

    def describe(self) -> str:
        return "all of: " + "; ".join(p.describe() for p in self.parts)

    def answer_ids(self) -> list[str]:
        return _unique(i for p in self.parts for i in p.answer_ids())


@dataclass(frozen=True)
class AnyOf(Condition):
    """True as soon as one part is true; false when every part is false."""

    parts: tuple[Condition, ...]

    def evaluate(self, answers: Mapping[str, Any]) -> Truth:
        values = [p.evaluate(answers) for p in self.parts]
        if True in values:
            return True
        return None if None in values else False

    def describe(self) -> str:
        return "any of: " + "; ".join(p.describe() for p in self.parts)

    def answer_ids(self) -> list[str]:
        return _unique(i for p in self.parts for i in p.answer_ids())


@dataclass(frozen=True)
class Not(Condition):
    """The opposite of its part; unknown stays unknown."""

    part: Condition

    def evaluate(self, answers: Mapping[str, Any]) -> Truth:
        value = self.part.evaluate(answers)
        return None if value is None else not value

    def describe(self) -> str:
        return f"not ({self.part.describe()})"

    def answer_ids(self) -> list[str]:
        return self.part.answer_ids()


@dataclass(frozen=True)
class Answered(Condition):
    """True when the question behind the answer was asked (even "don't know")."""

    answer: str

    def evaluate(self, answers: Mapping[str, Any]) -> Truth:
        return answers.get(self.answer, UNSET) is not UNSET

    def describe(self) -> str:
        return f"{self.answer} was asked"

    def answer_ids(self) -> list[str]:
        return [self.answer]


@dataclass(frozen=True)
class Compare(Condition):
    """One answer compared with a value; unknown when the answer is unknown."""

    answer: str
    op: str
    operand: Any

    def evaluate(self, answers: Mapping[str, Any]) -> Truth:
        value = answers.get(self.answer, UNSET)
        if value is UNSET or value is None:
            return None
        if self.op == "is":
            return value == self.operand and type(value) is type(self.operand)
        if self.op == "is_not":
            return not (value == self.operand and type(value) is type(self.operand))
        if self.op == "in":
            return any(value == v and type(value) is type(v) for v in self.operand)
        if self.op == "is_date":
            return _is_date(value) == self.operand
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        if self.op == "at_least":
            return value >= self.operand
        return value < self.operand  # below

    def describe(self) -> str:
        words = {
            "is": "is", "is_not": "is not", "in": "is one of",
            "at_least": "is at least", "below": "is below",
        }
        if self.op == "is_date":
            return f"{self.answer} is {'' if self.operand else 'not '}a date"
        return f"{self.answer} {words[self.op]} {_show(self.operand)}"

    def answer_ids(self) -> list[str]:
        return [self.answer]


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _unique(ids) -> list[str]:
    return list(dict.fromkeys(ids))


def parse_condition(data: Any, path: tuple = ()) -> Condition:
    """Build a condition tree from YAML data, or raise ConditionError with a path."""
    if not isinstance(data, dict) or not data:
        raise ConditionError(f"a condition must be a mapping using {VOCABULARY}", path)
    keys = set(data)
    for combinator, cls in (("all", AllOf), ("any", AnyOf)):
        if combinator in keys:
            _only(keys, {combinator}, path)
            parts = data[combinator]
            if not isinstance(parts, list) or not parts:
                raise ConditionError(f"'{combinator}' needs a non-empty list of conditions", path + (combinator,))
            return cls(tuple(parse_condition(p, path + (combinator, i)) for i, p in enumerate(parts)))
    if "not" in keys:
        _only(keys, {"not"}, path)
        return Not(parse_condition(data["not"], path + ("not",)))
    if "answered" in keys:
        _only(keys, {"answered"}, path)
        return Answered(_answer_id(data["answered"], path + ("answered",)))
    if "answer" in keys:
        ops = keys & set(COMPARISONS)
        if len(ops) != 1:
            unknown = sorted(keys - set(COMPARISONS) - {"answer"})
            hint = f" (unknown: {', '.join(unknown)})" if unknown else ""
            raise ConditionError(
                f"'answer' needs exactly one of {', '.join(COMPARISONS)}{hint}", path)
        op = ops.pop()
        _only(keys, {"answer", op}, path)
        operand = data[op]
        _check_operand(op, operand, path + (op,))
        if op == "in":
            operand = tuple(operand)
        return Compare(_answer_id(data["answer"], path + ("answer",)), op, operand)
    raise ConditionError(f"unknown condition key(s) {sorted(keys)}; expected {VOCABULARY}", path)


def _only(keys: set, allowed: set, path: tuple) -> None:
    extra = keys - allowed
    if extra:
        raise ConditionError(f"unexpected key(s) {sorted(extra)} beside {sorted(allowed)}", path)


def _answer_id(value: Any, path: tuple) -> str:
    if not isinstance(value, str) or not value:
        raise ConditionError("an answer id must be a non-empty string", path)
    return value


def _check_operand(op: str, operand: Any, path: tuple) -> None:
    if op in ("at_least", "below"):
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise ConditionError(f"'{op}' needs a number", path)
    elif op == "is_date":
        if not isinstance(operand, bool):
            raise ConditionError("'is_date' needs true or false", path)
    elif op == "in":
        if not isinstance(operand, list) or not operand or any(v is None for v in operand):
            raise ConditionError("'in' needs a non-empty list of values (not null)", path)
    elif operand is None:
        raise ConditionError(
            f"'{op}: null' is not allowed: an unknown answer is never equal to anything;"
            " use 'answered' to test whether a question was asked", path)
