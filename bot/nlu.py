"""Intent recognition: button payloads exactly; free text by its shape (bot/requests.py: requests
by meaning, emergencies first) and against the nlu.yml examples."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from rapidfuzz import fuzz, process

from bot.requests import Recogniser

PAYLOAD_RE = re.compile(r"^/(\w+)(\{.*\})?$", re.S)
FALLBACK = "nlu_fallback"


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text as a database can store it: control characters (but tab and newlines) dropped,
    lone surrogates (from JSON escapes) replaced."""
    return SURROGATE.sub("\ufffd", CONTROL.sub("", text))


@dataclass(frozen=True)
class Payload:
    """A button payload: `/intent` or `/intent{"entity": "value", ...}`; `entities` is None when
    the braces do not hold a JSON object."""

    intent: str
    entities: dict[str, Any] | None


def parse_payload(text: str) -> Payload | None:
    """The payload a message is, or None when it is not shaped like one."""
    match = PAYLOAD_RE.match(text.strip())
    if not match:
        return None
    if not match.group(2):
        return Payload(match.group(1), {})
    try:
        entities = json.loads(match.group(2))
    except ValueError:
        entities = None
    return Payload(match.group(1), entities if isinstance(entities, dict) else None)


def _clean(value):
    return clean_text(value) if isinstance(value, str) else value


def _norm(text: str) -> str:
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^\w' ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


class NLU:
    """Turns a message into Rasa parse data: text, intent, entities."""

    def __init__(self, examples: dict[str, list[str]], intents: list[str], threshold: float = 88) -> None:
        self.intents = set(intents)
        self.threshold = threshold
        self.exact: dict[str, str] = {}
        self.choices: list[str] = []
        self.labels: list[str] = []
        self.requests = Recogniser(examples.get("emergency", []))
        for intent, lines in examples.items():
            for line in lines:
                key = _norm(line)
                self.exact.setdefault(key, intent)
                self.choices.append(key)
                self.labels.append(intent)

    def parse(self, text: str, is_answer: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """Parse data for one message (Rasa's `parse_data` shape). `is_answer`: whether the text is a
        confident answer to the question being asked; then a request's shape does not win (an
        emergency always does)."""
        payload = parse_payload(text)
        if payload and payload.intent in self.intents:
            if payload.entities is None:
                return self._result(text, FALLBACK, 1.0)
            entities = [{"entity": _clean(k), "value": _clean(v)} for k, v in payload.entities.items()]
            return self._result(text, payload.intent, 1.0, entities)
        norm = _norm(text)
        # a request by its shape (an emergency first, wherever it is in the message); an exact
        # example still names its own intent ("not now" at the greeting is a "no")
        request = self.requests.recognise(text)
        if request and request.intent == "emergency" and "emergency" in self.intents:
            return self._result(text, "emergency", request.confidence)
        if norm in self.exact:
            return self._result(text, self.exact[norm], 1.0)
        if request and request.intent in self.intents:
            if is_answer is not None and is_answer(text):
                return self._result(text, FALLBACK, 1.0)   # the form takes it as the answer
            return self._result(text, request.intent, request.confidence)
        if norm and len(norm) >= 4:
            best = process.extractOne(norm, self.choices, scorer=fuzz.ratio, score_cutoff=self.threshold)
            if best:
                return self._result(text, self.labels[best[2]], best[1] / 100)
        return self._result(text, FALLBACK, 1.0)

    @staticmethod
    def _result(text: str, intent: str, confidence: float, entities: list | None = None) -> dict[str, Any]:
        return {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities or []}
