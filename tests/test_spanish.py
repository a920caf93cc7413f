"""Spanish, end to end through the REST channel (issue 15): a conversation asked for with
metadata.language = es is in Spanish, reaches the same outcomes and dates as the same answers
in English, by buttons and by typing; the language is part of the conversation (switching
keeps the answers, a restart keeps the language); buttons send ids, never words; the result
carries the patient's texts in Spanish and what staff check in English; `prescreen check`
reports a missing Spanish text with its line, and `prescreen parse --language es` reads Spanish.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chatkit import ROOT, Patient, chat_app, chat_client, run_script, store

__all__ = ["chat_app", "chat_client", "store"]


class SpanishPatient(Patient):
    """A patient whose widget sends metadata.language = es with every message."""

    def post(self, message, message_id=None, **metadata):
        return super().post(message, message_id, **{"language": "es", **metadata})


@pytest.fixture
def paciente(chat_client):
    return SpanishPatient(chat_client)


START_ES = [("hola", "~¿Empezamos?"), ("tap:Empezar", "age")]

ELIGIBLE_BY_TAPS = START_ES + [
    ("54", "diagnosis"),
    ("tap:Sí, el tipo difuso", "refractory"),
    ("tap:Sí", "features"),
    ("tap:La piel se pone más gruesa o más dura", "heart"),
    ("tap:Ninguno de estos", "hiv"),
    ("tap:No", "hepatitis_b"),
    ("tap:No", "hepatitis_c"),
    ("tap:No", "serious_infection"),
    ("tap:No", "labs"),
    ("tap:No", "ivig"),
    ("tap:Nunca", "cyclophosphamide"),
    ("tap:Nunca", "biologic"),
    ("tap:Nunca", "rituximab"),
    ("tap:Nunca", "other_biologic"),
    ("tap:No", "pregnancy"),
    ("tap:No es mi caso", "REVIEW"), ("tap:Está bien, ver mi resultado", "RESULT:likely_eligible"),
]

ELIGIBLE_BY_TYPING = START_ES + [
    ("tengo cincuenta y cuatro años", "diagnosis"),
    ("sí, la limitada", "refractory"),
    ("sí, nada me ha funcionado", "features"),
    ("tengo llagas en los dedos", "heart"),
    ("no, nada de eso", "hiv"),
    ("no", "hepatitis_b"),
    ("que yo sepa no", "hepatitis_c"),
    ("no, nunca", "serious_infection"),
    ("no", "labs"),
    ("no", "ivig"),
    ("nunca", "cyclophosphamide"),
    ("nunca la he tomado", "biologic"),
    ("no, ninguno", "rituximab"),
    ("nunca", "other_biologic"),
    ("no", "pregnancy"),
    ("soy hombre", "REVIEW"), ("tap:Está bien, ver mi resultado", "RESULT:likely_eligible"),
]


@pytest.mark.parametrize("script", [ELIGIBLE_BY_TAPS, ELIGIBLE_BY_TYPING], ids=["taps", "typing"])
def test_a_spanish_patient_reaches_likely_eligible(paciente, script):
    run_script(paciente, script)
    result = paciente.result
    assert result["language"] == "es"
    shown = paciente.text
    assert "Resultado:" in shown and "Result:" not in shown
    # the patient's texts are Spanish; what staff check stays English
    assert all(c["reason"] for c in result["criteria"])
    assert "Usted tiene 18 años o más" in shown or "18 años" in shown
    english_reasons = {"You are 18 or older."}
    assert not english_reasons & {c["reason"] for c in result["criteria"]}
    assert all(not any(ch in x for ch in "áéíóúñ¿") for x in result["to_check"])


def test_buttons_send_ids_never_words(paciente):
    run_script(paciente, START_ES + [("54", "diagnosis")])
    payloads = [b["payload"] for b in paciente.buttons]
    assert payloads[:5] == ['/inform{"diagnosis":"%s"}' % id_ for id_ in
                            ("diffuse", "limited", "yes_type_unknown", "no", "unknown")]


def test_a_washout_gives_the_same_date_in_spanish_as_in_english(chat_client):
    english = Patient(chat_client)
    spanish = SpanishPatient(chat_client)
    en = ["hi", "tap:Start", "54", "tap:Yes, the diffuse type", "tap:Yes", "tap:Skin getting thicker or tighter",
          "tap:None of these", "tap:No", "tap:No", "tap:No", "tap:No", "tap:No",
          "2 weeks ago", "tap:Into a vein (IV drip)", "tap:Never had it", "tap:Never had them", "tap:Never had it",
          "tap:No", "tap:Doesn't apply to me", "tap:That's right, show my result"]
    es = ["hola", "tap:Empezar", "54", "tap:Sí, el tipo difuso", "tap:Sí", "tap:La piel se pone más gruesa o más dura",
          "tap:Ninguno de estos", "tap:No", "tap:No", "tap:No", "tap:No", "tap:No",
          "hace 2 semanas", "tap:En la vena (suero)", "tap:Nunca", "tap:Nunca", "tap:Nunca",
          "tap:No", "tap:No es mi caso", "tap:Está bien, ver mi resultado"]
    for step in en:
        english.answer(step)
    for step in es:
        spanish.answer(step)
    assert english.result["outcome"] == spanish.result["outcome"] == "eligible_after_washout"
    assert english.result["eligible_from"] == spanish.result["eligible_from"] == "2026-12-09"
    assert "December 9, 2026" in english.text
    assert "9 de diciembre de 2026" in spanish.text


def test_switching_language_midway_keeps_the_answers(chat_client):
    patient = Patient(chat_client)
    run_script(patient, [("hi", "~Shall we start?"), ("tap:Start", "age"), ("54", "diagnosis"),
                         ("tap:Yes, the diffuse type", "refractory")])
    replies = patient.says('/switch_language{"language":"es"}')
    assert any((r.get("custom") or {}).get("language") == "es" for r in replies)
    assert patient.asked == "refractory"                    # the same question, asked again in Spanish
    assert "esclerodermia" in patient.text and "Muy bien, seguimos en español." in patient.text
    assert [b["title"] for b in patient.buttons][:3] == ["Sí", "No", "No lo sé"]
    patient.taps("Sí")
    assert patient.asked == "features"                      # the earlier answers were kept


def test_typing_espanol_offers_the_languages(chat_client):
    patient = Patient(chat_client)
    run_script(patient, [("hi", "~Shall we start?"), ("tap:Start", "age")])
    patient.says("español")
    assert [b["title"] for b in patient.buttons][:2] == ["English", "Español"]
    patient.taps("Español")
    assert patient.asked == "age" and "¿Qué edad tiene?" in patient.text


def test_a_restart_and_a_reload_keep_the_language(chat_client):
    patient = SpanishPatient(chat_client)
    run_script(patient, START_ES + [("54", "diagnosis")])
    plain = Patient(chat_client, sender=patient.sender)     # a reload: the same conversation, no metadata.language
    plain.says("empezar de nuevo")
    assert "¿Qué edad tiene?" in plain.text and "How old" not in plain.text


def test_prescreen_check_reports_a_missing_spanish_text_with_its_line(tmp_path):
    text = (ROOT / "criteria.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "es: ¿Qué edad tiene?")
    del lines[at]
    path = tmp_path / "c.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "bot.cli", "check", str(path)], capture_output=True, text=True,
                         cwd=ROOT)
    assert run.returncode != 0
    problem = next(line for line in run.stderr.splitlines() + run.stdout.splitlines() if "no Spanish text" in line)
    assert f"c.yaml:{at - 1}:" in problem and "questions.0.text" in problem   # the line of `text:`


def test_prescreen_check_warns_about_unreviewed_translations():
    run = subprocess.run([sys.executable, "-m", "bot.cli", "check", "criteria.yaml"], capture_output=True, text=True,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "Spanish texts are not marked as reviewed by a qualified translator" in run.stderr + run.stdout


def test_prescreen_parse_reads_spanish():
    def parse(*args):
        run = subprocess.run([sys.executable, "-m", "bot.cli", "parse", "--language", "es", "--today", "2026-11-25",
                              *args], capture_output=True, text=True, cwd=ROOT)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    assert parse("hiv", "no, nunca")["value"] is False
    assert parse("age", "cincuenta y cuatro")["value"] == 54
    assert parse("rituximab_last_dose", "hace 3 semanas")["value"] == "2026-11-04"
    assert parse("hepatitis_b", "ni idea")["value"] is None


def test_a_reply_mixing_languages_is_read(paciente):
    run_script(paciente, START_ES + [("54", "diagnosis"), ("tap:Sí, el tipo difuso", "refractory"),
                                     ("tap:Sí", "features"), ("tap:La piel se pone más gruesa o más dura", "heart")])
    paciente.says("si, tengo high blood pressure pero controlada")
    assert paciente.asked == "hiv"          # read: the blood pressure is under control, so none is uncontrolled
