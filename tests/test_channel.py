"""The REST channel: Rasa's request and response shapes, the sender rule, the
body checks, /health, and idempotent repeats (docs/ARCHITECTURE.md: "The channel", "Rasa compatibility")."""

from __future__ import annotations

import pytest

from chatkit import (REPLY_KEYS, TODAY, WEBHOOK, Patient, answer_until, chat_app, chat_client, patient,
                     question_of, store, user_events)

__all__ = ["chat_app", "chat_client", "patient", "store"]


def check_reply_shape(replies, sender):
    assert isinstance(replies, list) and replies
    for item in replies:
        assert set(item) <= REPLY_KEYS, item
        assert item["recipient_id"] == sender
        assert len(item) > 1, "an item carries something besides its recipient"
        for key, value in item.items():
            assert value not in (None, "", [], {}), f"{key} should be left out when it has no value: {item}"
        for button in item.get("buttons", []):
            assert set(button) == {"title", "payload"}
            assert isinstance(button["title"], str) and isinstance(button["payload"], str)


# --- response shape ---------------------------------------------------------------------


def test_response_is_a_list_of_rasa_rest_items(patient):
    check_reply_shape(patient.says("hi"), patient.sender)
    check_reply_shape(patient.taps("Start"), patient.sender)
    answer_until(patient)
    for _, replies in patient.history:
        check_reply_shape(replies, patient.sender)


def test_text_without_buttons_is_split_on_blank_lines(patient):
    """Rasa splits a text without buttons on blank lines; an item with buttons or custom keeps its text."""
    patient.says("hi")
    replies = patient.says("what is this study?")
    assert len(replies) >= 2
    for item in replies:
        assert "\n\n" not in item["text"]
    patient.says("yes")
    assert patient.asked == "age"
    answer_until(patient)
    result_item = next(r for r in patient.replies if "custom" in r)
    assert "\n\n" in result_item["text"]


def test_question_item_keeps_text_buttons_and_custom_together(patient):
    patient.start()
    patient.says("54")
    item = next(r for r in patient.replies if question_of([r]))
    assert item["text"].startswith("Question 2 of ")
    assert [b["title"] for b in item["buttons"]][:2] == ["Yes, the diffuse type", "Yes, the limited type"]
    assert item["custom"]["question"]["id"] == "diagnosis"


def test_content_type_is_json(chat_client):
    response = chat_client.post(WEBHOOK, json={"sender": "abc-0123456789abcdef", "message": "hi"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"


# --- the sender rule ------------------------------------------------------------------------

BAD_SENDERS = {
    "missing": ...,
    "null": None,
    "empty": "",
    "129 characters": "a" * 129,
    "space": "patient one",
    "slash": "patient/1",
    "unicode letter": "patiënt",
    "emoji": "patient-\U0001F600",
    "number not string": 12345,
    "trailing newline": "patient\n",
    "128 characters and a newline": "b" * 128 + "\n",
    "tab": "pa\ttient",
    "list": ["patient"],
}


@pytest.mark.parametrize("name", list(BAD_SENDERS))
def test_bad_sender_is_a_400_json_error(chat_client, store, name):
    body = {"message": "hi"}
    if BAD_SENDERS[name] is not ...:
        body["sender"] = BAD_SENDERS[name]
    response = chat_client.post(WEBHOOK, json=body)
    assert response.status_code == 400, f"sender {BAD_SENDERS.get(name)!r} was accepted"
    assert response.is_json and isinstance(response.get_json().get("error"), str)
    if isinstance(body.get("sender"), str):
        assert store.conversation(body["sender"]) is None


@pytest.mark.parametrize("sender", ["a" * 16, "A" * 128, "x" * 127 + "9", "abc-DEF_123.456:789",
                                    "0f9c2d4e8a7b6c5d4e3f2a1b0c9d8e7f"])
def test_valid_sender_is_accepted(chat_client, store, sender):
    response = chat_client.post(WEBHOOK, json={"sender": sender, "message": "hi"})
    assert response.status_code == 200, response.get_data(as_text=True)
    replies = response.get_json()
    assert replies[0]["recipient_id"] == sender
    assert store.conversation(sender) is not None


# --- the body ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data, content_type", [
    ("not json at all", "application/json"),
    ("{\"sender\": \"abc\", ", "application/json"),
    ("[{\"sender\": \"abc\", \"message\": \"hi\"}]", "application/json"),
    ("\"hi\"", "application/json"),
    ("null", "application/json"),
    ("", "application/json"),
])
def test_body_that_is_not_a_json_object_is_a_400(chat_client, data, content_type):
    response = chat_client.post(WEBHOOK, data=data, content_type=content_type)
    assert response.status_code == 400
    assert isinstance(response.get_json()["error"], str)


@pytest.mark.parametrize("body", [
    {"sender": "abc"},
    {"sender": "abc", "message": None},
    {"sender": "abc", "message": 42},
    {"sender": "abc", "message": ["hi"]},
    {"sender": "abc", "message": {"text": "hi"}},
    {"sender": "abc", "message": ""},
    {"sender": "abc", "message": "   "},
    {"sender": "abc", "message": "hi", "metadata": "today"},
    {"sender": "abc", "message": "hi", "metadata": [1]},
], ids=["missing", "null", "number", "list", "object", "empty", "blank", "metadata string", "metadata list"])
def test_bad_message_is_a_400(chat_client, store, body):
    response = chat_client.post(WEBHOOK, json=body)
    assert response.status_code == 400
    assert isinstance(response.get_json()["error"], str)
    assert store.events("abc") == []


def test_over_long_message_is_a_400(chat_client):
    response = chat_client.post(WEBHOOK, json={"sender": "abc", "message": "x" * 5000})
    assert response.status_code == 400


def test_get_on_the_webhook_is_not_allowed(chat_client):
    assert chat_client.get(WEBHOOK).status_code == 405


def test_health(chat_client):
    response = chat_client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


# --- idempotency ------------------------------------------------------------------------------


def test_same_message_id_twice_gives_the_same_replies_and_no_new_turn(patient, store):
    patient.says("hi")
    first = patient.post("/affirm", message_id="start-1")
    assert first.status_code == 200
    events_after_first = store.events(patient.sender)
    second = patient.post("/affirm", message_id="start-1")
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    events_after_second = store.events(patient.sender)
    assert len(user_events(events_after_second)) == len(user_events(events_after_first))
    assert events_after_second == events_after_first
    assert question_of(second.get_json())["id"] == "age"


def test_a_repeat_after_later_turns_changes_nothing(patient, store):
    patient.start()
    first = patient.post("54", message_id="age-answer")
    patient.replies = first.get_json()
    patient.taps("Yes, the diffuse type")
    assert patient.asked == "refractory"
    before = store.events(patient.sender)
    again = patient.post("54", message_id="age-answer")
    assert again.get_json() == first.get_json()
    assert store.events(patient.sender) == before
    # the conversation is still where it was
    patient.says("yes")
    assert patient.asked == "features"


def test_a_repeated_id_is_per_conversation(chat_client, store):
    one, two = Patient(chat_client), Patient(chat_client)
    one.post("hi", message_id="same-id")
    response = two.post("hi", message_id="same-id")
    assert response.status_code == 200
    assert response.get_json()[0]["recipient_id"] == two.sender
    assert len(user_events(store.events(two.sender))) == 1


def test_without_message_id_every_message_is_a_turn(chat_client, store):
    for _ in range(2):
        chat_client.post(WEBHOOK, json={"sender": "no-ids-0123456789ab", "message": "hi", "metadata": {"today": TODAY}})
    assert len(user_events(store.events("no-ids-0123456789ab"))) == 2


def test_a_repeated_delete_confirmation_deletes_once(patient, store):
    """A client retrying "Yes, delete them" (same message id) must not record a second deletion."""
    patient.start()
    patient.says("54")
    patient.says("delete my answers")
    payload = patient.button("Yes, delete them")["payload"]
    first = patient.post(payload, message_id="delete-1")
    again = patient.post(payload, message_id="delete-1")
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert store.events(patient.sender) == []
    assert len(store.tombstones(patient.sender)) == 1
