"""Several answers to "any of these" (issue 13, item 6): an option's button sends a list with its
answer id, several are sent together after "Done", "None of these" sends an empty list; what was
picked is yes and the rest no. Typed replies keep their meaning (what is named is yes)."""

from __future__ import annotations

import json

import pytest

from chatkit import chat_app, chat_client, patient, question_of, run_script, store

__all__ = ["chat_app", "chat_client", "patient", "store"]  # fixtures used below

TO_FEATURES = [("hi", "~Shall we start?"), ("tap:Start", "age"), ("54", "diagnosis"),
               ("tap:Yes, the diffuse type", "refractory"), ("tap:Yes", "features")]
REST = [("tap:None of these", "hiv"), ("tap:No", "hepatitis_b"), ("tap:No", "hepatitis_c"),
        ("tap:No", "serious_infection"), ("tap:No", "labs"), ("tap:No", "ivig"),
        ("tap:Never had it", "cyclophosphamide"), ("tap:Never had it", "biologic"),
        ("tap:Never had them", "rituximab"), ("tap:Never had it", "other_biologic"), ("tap:No", "pregnancy"),
        ("tap:No", "REVIEW")]
FEATURES = ["skin_worsening", "lung_fibrosis", "pulmonary_hypertension", "digital_ulcers"]


def features_in_review(patient) -> dict:
    return {a["answer_id"]: a["value"] for a in patient.review["answers"] if a["answer_id"] in FEATURES}


def test_the_buttons_carry_answer_ids(patient):
    run_script(patient, TO_FEATURES)
    payloads = {b["title"]: b["payload"] for b in patient.buttons}
    assert payloads["Scarring of the lungs (ILD)"] == '/inform{"features":["lung_fibrosis"]}'
    assert payloads["None of these"] == '/inform{"features":[]}'
    assert question_of(patient.replies)["type"] == "multi"


@pytest.mark.parametrize("picked", [["lung_fibrosis", "digital_ulcers"], ["skin_worsening"]])
def test_picked_together_are_yes_and_the_others_no(patient, picked):
    run_script(patient, TO_FEATURES)
    replies = patient.says("/inform" + json.dumps({"features": picked}))
    assert question_of(replies)["id"] == "heart"
    run_script(patient, REST)
    assert features_in_review(patient) == {a: a in picked for a in FEATURES}


def test_an_empty_list_is_none_of_these(patient):
    run_script(patient, TO_FEATURES)
    patient.says('/inform{"features":[]}')   # none of the four the study needs: the review comes early
    assert features_in_review(patient) == {a: False for a in FEATURES}


def test_an_unknown_id_is_refused_and_the_question_asked_again(patient):
    run_script(patient, TO_FEATURES)
    replies = patient.says('/inform{"features":["lung_fibrosis","not_an_option"]}')
    assert question_of(replies)["id"] == "features"


def test_a_typed_reply_names_only_what_it_names(patient):
    run_script(patient, TO_FEATURES + [("scarring of the lungs and sores on my fingers", "heart")])
    run_script(patient, REST)
    assert features_in_review(patient) == {"skin_worsening": None, "lung_fibrosis": True,
                                           "pulmonary_hypertension": None, "digital_ulcers": True}
