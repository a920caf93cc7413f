"""Intent recognition: button payloads exactly, free text against nlu.yml examples."""

from __future__ import annotations

import json
import re
from typing import Any

from rapidfuzz import fuzz, process

PAYLOAD_RE = re.compile(r"^/(\w+)(\{.*\})?$", re.S)
FALLBACK = "nlu_fallback"


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text as a database can store it: control characters (but tab and newlines) dropped,
    lone surrogates (from JSON escapes) replaced."""
    return SURROGATE.sub("\ufffd", CONTROL.sub("", text))


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
        self.emergency = [_norm(e) for e in examples.get("emergency", [])]
        for intent, lines in examples.items():
            for line in lines:
                key = _norm(line)
                self.exact.setdefault(key, intent)
                self.choices.append(key)
                self.labels.append(intent)

    def parse(self, text: str) -> dict[str, Any]:
        """Parse data for one message (Rasa's `parse_data` shape)."""
        match = PAYLOAD_RE.match(text.strip())
        if match and match.group(1) in self.intents:
            entities = []
            if match.group(2):
                try:
                    data = json.loads(match.group(2))
                except ValueError:
                    data = None
                if not isinstance(data, dict):
                    return self._result(text, FALLBACK, 1.0)
                entities = [{"entity": _clean(k), "value": _clean(v)} for k, v in data.items()]
            return self._result(text, match.group(1), 1.0, entities)
        norm = _norm(text)
        padded = f" {norm} "
        if any(f" {e} " in padded for e in self.emergency if e):
            return self._result(text, "emergency", 1.0)
        if norm in self.exact:
            return self._result(text, self.exact[norm], 1.0)
        if norm and len(norm) >= 4:
            best = process.extractOne(norm, self.choices, scorer=fuzz.ratio, score_cutoff=self.threshold)
            if best:
                return self._result(text, self.labels[best[2]], best[1] / 100)
        return self._result(text, FALLBACK, 1.0)

    @staticmethod
    def _result(text: str, intent: str, confidence: float, entities: list | None = None) -> dict[str, Any]:
        return {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities or []}
