"""The JSON shapes other tools rely on, as types (docs/ARCHITECTURE.md,
"Contracts"): the prescreen result and the question metadata every question
message carries. Plain `TypedDict`s, so the values stay the dicts that are sent
and stored; tests/test_contracts.py checks that the published JSON Schema and
these types name the same keys.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from typing_extensions import NotRequired, TypedDict   # (pydantic reads it on Python 3.11 to check the published schema)


class CriterionResult(TypedDict):
    """One criterion's verdict in a result."""

    id: str
    kind: Literal["inclusion", "exclusion"]
    verdict: Literal["pass", "fail", "wait", "unknown"]
    until: Optional[str]          # the first allowed day of a wait (ISO date), else None
    reason: str                   # plain language, for the patient
    answers: dict[str, Any]       # the answer ids the verdict used, with their values (None: unknown/not asked)


class PrescreenResult(TypedDict):
    """The result of one prescreen: printed by `prescreen evaluate`, sent as
    `custom.prescreen_result`, stored on the conversation's summary row."""

    outcome: Literal["not_eligible", "needs_review", "eligible_after_washout", "likely_eligible"]
    eligible_from: Optional[str]
    criteria: list[CriterionResult]
    to_check: list[str]
    status_notice: Optional[str]
    contact: dict[str, Any]
    trial_id: str
    criteria_version: str
    today: str
    # with a conversation's result (not `prescreen evaluate`): its reference code, what happens next
    reference: NotRequired[str]
    next_steps: NotRequired[str]
    language: NotRequired[Literal["en", "es"]]   # the patient-facing texts' language (to_check: English)


class QuestionMetadata(TypedDict):
    """`custom.question` of a question message: what is asked, without its wording."""

    id: str
    answer_ids: list[str]
    type: str
    step: int
    total: int
