"""Translations in a criteria file: one documented, checkable form.

A patient-facing text (or word list) is either plain English, or a mapping by
language code, beside each other in the same place of the file:

    text:
      en: How old are you?
      es: ¿Qué edad tiene?
      reviewed: [es]        # optional: the translations a qualified translator has checked

`languages: [en, es]` lists the languages offered to patients. The loader
builds one view of the trial per language (`project`): a text takes that
language's words; a word list (synonyms, names, means_*) takes that language's
words followed by the English ones, so that a reply mixing both languages is
read too. `check` reports, with line numbers, every text missing in an offered
language (an error) and every translation not marked reviewed (one warning per
language, listing the lines).
"""

from __future__ import annotations

import re
from typing import Any, Callable

REVIEWED = "reviewed"
LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")

# The patient-facing fields: a path pattern ("*" is any list index or mapping key).
PATIENT_TEXTS = (
    ("answers", "*", "label"),      # shown to the patient when an answer is checked back or reviewed
    ("short_title",), ("summary",), ("status_notice",), ("next_steps", "*"), ("contact", "note"),
    ("questions", "*", "text"), ("questions", "*", "help"),
    *(("questions", "*", group, "*", key) for group in ("choices", "extra_choices", "options")
      for key in ("title", "synonyms")),
    ("questions", "*", "none", "title"), ("questions", "*", "none", "synonyms"),
    *(("questions", "*", key) for key in ("names", "means_yes", "means_no", "means_unknown")),
    ("inclusion", "*", "reasons", "*"), ("exclusion", "*", "reasons", "*"),
)
# the languages the bot can speak (a dialogue variation, widget texts and a reader for each), by name
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}
OWN_NAMES = {"en": "English", "es": "Español"}        # each name in its own language (staff list, switches)
LANGUAGE_SLOT = "language"     # the dialogue slot that holds a conversation's language


def is_translation(value: Any) -> bool:
    """Whether a value is a mapping by language (an `en` key, and only language codes and `reviewed`)."""
    return isinstance(value, dict) and "en" in value and all(
        isinstance(k, str) and (LANGUAGE_CODE.match(k) or k == REVIEWED) for k in value)


def project(data: Any, language: str) -> Any:
    """The criteria data with every translation mapping replaced by its words in `language`
    (English where that language has none: `check` reports those)."""
    if is_translation(data):
        english = data["en"]
        own = data.get(language, english)
        if isinstance(english, list) and language != "en" and isinstance(own, list):
            return list(dict.fromkeys([*own, *english]))   # Spanish words first, English ones too
        return own
    if isinstance(data, dict):
        return {k: project(v, language) for k, v in data.items()}
    if isinstance(data, list):
        return [project(v, language) for v in data]
    return data


def _matches(path: tuple, pattern: tuple) -> bool:
    return len(path) == len(pattern) and all(p == "*" or p == s for s, p in zip(path, pattern))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def check(data: Any, offered: list[str], add: Callable[[tuple, str], None],
          line_of: Callable[[tuple], int]) -> list[str]:
    """Report translation problems through `add(path, message)`; return the warnings (unreviewed
    translations, one line per language with every line number)."""
    unreviewed: dict[str, list[int]] = {lang: [] for lang in offered if lang != "en"}

    def walk(value: Any, path: tuple) -> None:
        if is_translation(value):
            translation(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, path + (key,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, path + (i,))
        elif not _empty(value) and any(_matches(path, p) for p in PATIENT_TEXTS):
            for lang in offered:
                if lang != "en":
                    add(path, f"no {LANGUAGE_NAMES.get(lang, lang)} text: write it as a mapping "
                              f"(en: ..., {lang}: ...), since `languages` offers {lang}")

    def translation(value: dict, path: tuple) -> None:
        reviewed = value.get(REVIEWED, [])
        if not isinstance(reviewed, list) or not all(r in value and r != "en" for r in reviewed):
            add(path + (REVIEWED,), "`reviewed` lists the languages of this text a qualified translator has"
                                    " checked, for example [es]")
            reviewed = []
        for lang, words in value.items():
            if lang in ("en", REVIEWED):
                continue
            if lang not in offered:
                add(path + (lang,), f"a {lang!r} translation, but `languages` does not offer {lang!r}")
            elif type(words) is not type(value["en"]):
                add(path + (lang,), "the translation must have the same form as the English (a text or a list)")
            elif lang not in reviewed:
                unreviewed[lang].append(line_of(path + (lang,)))
        if not _empty(value["en"]):
            for lang in offered:
                if lang != "en" and _empty(value.get(lang)):
                    add(path, f"no {LANGUAGE_NAMES.get(lang, lang)} text ({lang}:), since `languages` offers {lang}")

    walk(data, ())
    return [f"{len(lines)} {LANGUAGE_NAMES.get(lang, lang)} texts are not marked as reviewed by a qualified"
            f" translator (an IRB usually requires approved translations; add `reviewed: [{lang}]` beside each"
            f" once checked): lines {', '.join(map(str, sorted(lines)))}"
            for lang, lines in unreviewed.items() if lines]
