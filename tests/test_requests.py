"""Requests by meaning (issue 12, item 6): the blind request corpus through the real NLU.

`tests/corpus/requests.yaml` holds, per request kind, about 36 phrasings of the request and
about 36 answer-like replies that must NOT be taken as it (`negative: true`). Each kind is
the intent of the same name in dialogues/domain.yml. A negative counts as wrongly taken when
its intent is one a rule handles while the questions are open (then the reply is not the
answer); an emergency is scored by misses (target 0).

The corpus is the one bot/requests.py was developed against: its figure is a regression
figure. `held_out()` puts aside a fixed random third (seed 12, per kind and polarity, 168
replies) whose misses were not looked at while tuning (its texts had been read once, before
the split, to learn the corpus' format). Measured once, at the end of the tuning:

    before (release NLU: examples + fuzzy match)  whole corpus: 38/254 requests recognised,
        5/252 negatives taken as a request (all as emergency), 21/36 emergencies missed;
        held-out third 13/84, 2/84, 6/12 missed
    held-out third, first measurement after        83/84 recognised, 1/84 negatives taken as a
        request, 0/12 emergencies missed (the miss, "he wants his answers deleted", and the
        negative, "clear of all biologics" as delete_data, were then fixed by general changes:
        a third person's wish, "clear of" is no verb), so it now reads 84/84 and 0/84 too.

Run `python tests/test_requests.py` for the per-kind table, the held-out third and the speed.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:             # run as a script
    sys.path.insert(0, str(ROOT))
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from actions.trial import load_trial  # noqa: E402
from bot import requests as request_module  # noqa: E402
from bot.dialogue import load_dialogue  # noqa: E402
from bot.nlu import NLU  # noqa: E402
from chatkit import (CONTACT_ADDRESS, CRISIS_988, EMERGENCY_911, answer_until, assert_says,  # noqa: E402,F401
                     chat_app, chat_client, patient, question_of, run_script)

CORPUS = ROOT / "tests" / "corpus" / "requests.yaml"
ANSWER_CORPORA = ("answers.yaml", "fresh_1.yaml", "holdout.yaml")
KINDS = ("human", "delete_data", "restart", "go_back", "stop", "explain", "emergency")
SEED = 12

# The figures reached (whole corpus): every kind 100 % recognised, no negative taken as a request.
# The limits leave one miss and one wrong request per kind for future wording changes; none for
# emergencies.
MAX_MISSED = {kind: 1 for kind in KINDS} | {"emergency": 0}
MAX_WRONG = {kind: 1 for kind in KINDS}
MAX_WRONG_TOTAL = 2


@lru_cache(maxsize=1)
def corpus() -> list[dict]:
    return yaml.safe_load(CORPUS.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def dialogue():
    return load_dialogue(ROOT / "dialogues", load_trial(ROOT / "criteria.yaml"))


@lru_cache(maxsize=1)
def nlu() -> NLU:
    """The NLU the engine builds (bot/engine.py: NLU(dialogue.examples, dialogue.intents))."""
    return NLU(dialogue().examples, dialogue().intents)


def request_intents() -> set[str]:
    """Intents a rule handles while the questions are open: such a reply is not taken as the answer."""
    return {r.intent for r in dialogue().rules if r.intent and r.active_loop == "prescreen_form"}


def held_out(items: list[dict], seed: int = SEED) -> set[int]:
    """Indexes of the held-out third: a fixed random third of each (kind, negative) group."""
    groups: dict[tuple[str, bool], list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault((item["kind"], bool(item.get("negative"))), []).append(i)
    rng = random.Random(seed)
    chosen: set[int] = set()
    for key in sorted(groups):
        chosen.update(rng.sample(groups[key], round(len(groups[key]) / 3)))
    return chosen


def score(items: list[dict]) -> dict[str, dict]:
    """Per kind: the requests recognised as that kind, missed, and negatives taken as the kind
    or as any request (with their texts and what they were taken as)."""
    parser, requests = nlu(), request_intents()
    table = {kind: {"requests": 0, "recognised": 0, "missed": [], "negatives": 0, "as_kind": [], "as_request": []}
             for kind in KINDS}
    for item in items:
        row = table[item["kind"]]
        intent = parser.parse(item["text"])["intent"]["name"]
        if item.get("negative"):
            row["negatives"] += 1
            if intent == item["kind"]:
                row["as_kind"].append(item["text"])
            if intent in requests:
                row["as_request"].append((item["text"], intent))
        else:
            row["requests"] += 1
            if intent == item["kind"]:
                row["recognised"] += 1
            else:
                row["missed"].append((item["text"], intent))
    return table


def report(title: str, table: dict[str, dict]) -> str:
    lines = [title, f"{'kind':12s} {'recognised':>12s} {'negatives as kind':>18s} {'as any request':>15s}"]
    totals = [0, 0, 0, 0, 0]
    for kind, row in table.items():
        lines.append(f"{kind:12s} {row['recognised']:>5d} / {row['requests']:<4d} {len(row['as_kind']):>9d} / "
                     f"{row['negatives']:<5d} {len(row['as_request']):>7d} / {row['negatives']:<4d}")
        totals = [totals[0] + row["recognised"], totals[1] + row["requests"], totals[2] + len(row["as_kind"]),
                  totals[3] + row["negatives"], totals[4] + len(row["as_request"])]
    lines.append(f"{'total':12s} {totals[0]:>5d} / {totals[1]:<4d} {totals[2]:>9d} / {totals[3]:<5d} "
                 f"{totals[4]:>7d} / {totals[3]:<4d}")
    lines.append(f"emergencies missed: {len(table['emergency']['missed'])} / {table['emergency']['requests']}")
    return "\n".join(lines)


def median_ms(texts: list[str], rounds: int = 5) -> float:
    parser = nlu()
    for text in texts:
        parser.parse(text)
    times = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            parser.parse(text)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


# -- the corpus ---------------------------------------------------------------------------------


def test_the_corpus_has_at_least_30_requests_and_30_negatives_per_kind():
    for kind in KINDS:
        items = [i for i in corpus() if i["kind"] == kind]
        assert sum(1 for i in items if not i.get("negative")) >= 30, kind
        assert sum(1 for i in items if i.get("negative")) >= 30, kind
    assert set(KINDS) <= set(dialogue().intents)


@pytest.mark.parametrize("kind", KINDS)
def test_requests_are_recognised_and_answers_are_not_taken_for_them(kind):
    row = score(corpus())[kind]
    assert len(row["missed"]) <= MAX_MISSED[kind], f"{kind}: not recognised: {row['missed']}"
    assert len(row["as_request"]) <= MAX_WRONG[kind], f"{kind}: answers taken as a request: {row['as_request']}"


def test_no_emergency_is_missed():
    row = score(corpus())["emergency"]
    assert row["missed"] == [], f"emergencies missed: {row['missed']}"


def test_answers_taken_as_requests_in_all():
    wrong = [w for row in score(corpus()).values() for w in row["as_request"]]
    assert len(wrong) <= MAX_WRONG_TOTAL, wrong


def test_the_held_out_third():
    """Measured once at the end of the tuning (see the module's docstring); kept as a regression."""
    items = corpus()
    chosen = held_out(items)
    assert 160 <= len(chosen) <= 175
    table = score([items[i] for i in sorted(chosen)])
    assert sum(len(r["missed"]) for r in table.values()) <= 2
    assert table["emergency"]["missed"] == []
    assert sum(len(r["as_request"]) for r in table.values()) <= 2


def test_replies_with_an_answer_in_the_answer_corpora_are_not_taken_as_requests():
    """The answer corpora are answers to the questions: those a coordinator would record (not the
    questions back, which are `explain` requests) stay answers."""
    parser, requests = nlu(), request_intents()
    wrong = []
    for name in ANSWER_CORPORA:
        for item in yaml.safe_load((ROOT / "tests" / "corpus" / name).read_text(encoding="utf-8")):
            status = item.get("status")
            statuses = status if isinstance(status, list) else [status]
            recorded = item.get("clear") is True or "accepted" in statuses or "confirm" in statuses
            intent = parser.parse(item["text"])["intent"]["name"]
            if recorded and intent in requests:
                wrong.append((name, item["text"], intent))
    # one today: "I'm a man, why are you asking me that?" (pregnancy) is read as a question back
    assert len(wrong) <= 1, wrong


# -- the recogniser's shape ------------------------------------------------------------------------


@pytest.mark.parametrize("text, intent", [
    ("can I talk to a real person please", "human"),
    ("I stopped rituximab in March", "nlu_fallback"),
    ("called 911 in June for my pneumonia", "nlu_fallback"),
    ("yes, nothing helped, so I start over on methotrexate next week", "nlu_fallback"),
    ("wait, I meant yes", "go_back"),
    ("oops wrong button", "go_back"),
    ("delete my last answer", "go_back"),
    ("please delete my answers", "delete_data"),
    ("I'm having chest pain right now", "emergency"),
    ("I had a heart attack in 2015 but I'm having chest pain now", "emergency"),
    ("I had chest pain last year, it was heartburn", "nlu_fallback"),
    ("no chest pain", "nlu_fallback"),
    ("call me at 650 555 1234", "nlu_fallback"),           # the contact questions' answer
    ("yes, please have someone call me", "nlu_fallback"),   # consent to be contacted
    ("not now", "deny"),                                     # the greeting's "Not now" stays a no
    ("Not now, maybe later", "stop"),
    ("hi", "greet"),
    ("yes", "affirm"),
    ("54", "nlu_fallback"),
    ("y", "nlu_fallback"),
    ("/affirm", "affirm"),
    ("/human", "human"),
])
def test_some_readings(text, intent):
    assert nlu().parse(text)["intent"]["name"] == intent


def test_the_parse_data_keeps_rasas_shape():
    for text in ("can someone call me", "I stopped rituximab in March", "I can't breathe", "/affirm", ""):
        parse = nlu().parse(text)
        assert set(parse) == {"text", "intent", "entities"}
        assert parse["text"] == text
        assert set(parse["intent"]) == {"name", "confidence"}
        assert isinstance(parse["intent"]["name"], str) and 0 < parse["intent"]["confidence"] <= 1
        assert isinstance(parse["entities"], list)


def test_the_keyword_prefilter_loses_nothing(monkeypatch):
    """bot/requests.py skips a kind when none of its words is in the message (speed only): the
    readings without that shortcut are the same."""
    recogniser = request_module.Recogniser(dialogue().examples.get("emergency", []))
    texts = [i["text"] for i in corpus()]
    with_filter = [recogniser.recognise(t) for t in texts]
    everything = request_module.re.compile("")
    monkeypatch.setattr(request_module, "NEEDS", {k: everything for k in request_module.NEEDS})
    assert [recogniser.recognise(t) for t in texts] == with_filter


def test_parsing_stays_fast():
    texts = [i["text"] for i in corpus()]
    assert median_ms(texts) < 1.0


# -- in the conversation ---------------------------------------------------------------------------


def test_asking_for_a_person_during_a_question_gives_the_contact_and_the_same_question(patient):
    patient.start()
    answer_until(patient, stop_at="diagnosis")
    replies = patient.says("can I talk to a real person please")
    assert_says(replies, "Study contact for", CONTACT_ADDRESS)
    assert question_of(replies)["id"] == "diagnosis"


def test_a_stopped_medicine_is_the_answer_not_a_stop(patient):
    patient.start()
    answer_until(patient, stop_at="rituximab")
    replies = patient.says("I stopped rituximab in March")
    assert "stopped here" not in patient.text
    assert question_of(replies)["id"] == "other_biologic"


def test_a_past_911_call_is_the_answer_not_an_emergency(patient):
    patient.start()
    answer_until(patient, stop_at="serious_infection")
    replies = patient.says("called 911 in June for my pneumonia")
    assert EMERGENCY_911 not in patient.text
    assert question_of(replies)["id"] != "serious_infection" or "Just to check" in patient.text


def test_wait_i_meant_yes_goes_back(patient):
    patient.start()
    run_script(patient, [("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory"), ("tap:No", None)])
    assert patient.asked != "refractory"
    replies = patient.says("wait, I meant yes")
    assert_says(replies, "go back")
    assert question_of(replies)["id"] == "refractory"


def test_an_emergency_in_other_words_gets_the_guidance_and_the_same_question(patient):
    patient.start()
    answer_until(patient, stop_at="diagnosis")
    replies = patient.says("my chest hurts really bad and my arm is numb")
    assert EMERGENCY_911 in replies[0]["text"] and CRISIS_988 in replies[0]["text"]
    assert question_of(replies)["id"] == "diagnosis"


if __name__ == "__main__":
    items = corpus()
    chosen = held_out(items)
    print(report(f"whole corpus ({len(items)} replies; developed against: a regression figure)", score(items)))
    print()
    print(report(f"held-out third ({len(chosen)} replies, seed {SEED}; first measured at 83/84, 1/84, 0 missed)",
                 score([items[i] for i in sorted(chosen)])))
    print()
    print(f"median parse: {median_ms([i['text'] for i in items]):.3f} ms per message")

