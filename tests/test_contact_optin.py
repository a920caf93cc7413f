"""The contact opt-in, with the fictional recruiting trial
(tests/fixtures/fictional_trial.yaml: contact_opt_in true, ask_every_question
true); and, with the real trial (not recruiting, no opt-in), nothing
identifying is ever asked."""

from __future__ import annotations

import pytest

from chatkit import (CRITERIA, FICTIONAL, Patient, answer_until, assert_says, chat_app, chat_client, make_app,
                     patient, result_of, run_script, store, store_of, texts)

__all__ = ["chat_app", "chat_client", "patient", "store"]

OFFER = "Would you like the study team to contact you"
ASK_NAME = "What name should the study team use?"
ASK_DETAILS = "What phone number or e-mail address should they use?"

FICTIONAL_ELIGIBLE = {
    "how_old": "50",
    "ejs": "tap:Yes",
    "stage": "tap:Early",
    "dialysis": "tap:No",
    "liver": "tap:No",
    "steroid_shot": "tap:Never",
    "examplumab": "tap:Never",
}


@pytest.fixture
def fictional_app(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", FICTIONAL)
    app = make_app(tmp_path / "fictional.sqlite3", criteria=FICTIONAL)
    yield app
    store_of(app).engine.dispose()


@pytest.fixture
def fictional_patient(fictional_app):
    return Patient(fictional_app.test_client())


def to_the_offer(p: Patient, overrides: dict | None = None) -> list[dict]:
    p.says("hi")
    p.taps("Start")
    answers = {**FICTIONAL_ELIGIBLE, **(overrides or {})}
    for _ in range(20):
        if p.result is not None:
            return p.replies
        if p.review is not None:
            p.confirm_review()
            continue
        p.answer(answers[p.asked])
    raise AssertionError("no result")


def test_the_offer_comes_after_the_result(fictional_patient):
    replies = to_the_offer(fictional_patient)
    result = result_of(replies)
    assert result["outcome"] == "likely_eligible"
    assert result["status_notice"] is None
    assert "not recruiting" not in texts(replies)
    assert_says(replies, "555-0142", "fictional-study@example.org", "The study team makes the final decision")
    result_index = next(i for i, r in enumerate(replies) if result_of([r]))
    offer_index = next(i for i, r in enumerate(replies) if OFFER in (r.get("text") or ""))
    assert result_index < offer_index
    assert [b["title"] for b in fictional_patient.buttons] == ["Yes, contact me", "No, thanks"]


def test_yes_then_name_and_phone_invalid_ones_reasked(fictional_app, fictional_patient):
    p = fictional_patient
    to_the_offer(p)
    run_script(p, [
        ("tap:Yes, contact me", "~" + ASK_NAME),
        ("A", "~Please type the name"),
    ])
    assert_says(p.replies, ASK_NAME)
    run_script(p, [
        ("Ann Example", "~" + ASK_DETAILS),
        ("12", "~does not look like a phone number or e-mail"),
    ])
    assert_says(p.replies, ASK_DETAILS)
    run_script(p, [("ann@example", "~does not look like a phone number or e-mail")])
    replies = p.says("555-0100 1234")
    assert_says(replies, "Thank you, Ann Example", "55501001234")
    row = store_of(fictional_app).conversation(p.sender)
    assert row["contact_requested"] is True
    assert row["outcome"] == "likely_eligible"


def test_a_phone_number_inside_a_sentence_keeps_the_rest_as_a_note(fictional_app, fictional_patient):
    """Issue 13, item 9: "my cell is 555 201 3344, best after 3pm" is a phone number and a note for
    staff, both said back to the patient; staff see a tel: link and the note."""
    p = fictional_patient
    to_the_offer(p)
    p.taps("Yes, contact me")
    p.says("Ann Example")
    replies = p.says("my cell is 555 201 3344, best after 3pm")
    assert_says(replies, "Thank you, Ann Example", "555-201-3344", "best after 3pm")
    from bot.staff.transcript import contact_of
    slots = store_of(fictional_app).conversation(p.sender)
    assert slots["contact_requested"] is True
    events = store_of(fictional_app).events(p.sender)
    set_slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert set_slots["contact_details"] == "5552013344" and set_slots["contact_note"] == "best after 3pm"
    assert contact_of({**set_slots, "contact_requested": True}) == {
        "name": "Ann Example", "details": "555-201-3344", "link": "tel:5552013344", "note": "best after 3pm"}


@pytest.mark.parametrize("typed", ["call 555-0100 or 555-0199", "my phone is 555 201 3344 and a@b.org", "after 3pm"])
def test_two_numbers_or_none_are_asked_again(fictional_patient, typed):
    p = fictional_patient
    to_the_offer(p)
    p.taps("Yes, contact me")
    p.says("Ann Example")
    assert_says(p.says(typed), "does not look like a phone number or e-mail")


def test_yes_with_an_email_address(fictional_app, fictional_patient):
    p = fictional_patient
    to_the_offer(p)
    p.taps("Yes, contact me")
    p.says("Ann Example")
    replies = p.says("ann@example.org")
    assert_says(replies, "ann@example.org")
    assert store_of(fictional_app).conversation(p.sender)["contact_requested"] is True


def test_consent_in_words(fictional_app, fictional_patient):
    p = fictional_patient
    to_the_offer(p)
    assert_says(p.says("maybe"), "Please answer yes or no")
    assert_says(p.says("yes please"), ASK_NAME)


def test_no_thanks_asks_nothing_more(fictional_app, fictional_patient):
    p = fictional_patient
    to_the_offer(p)
    replies = p.taps("No, thanks")
    assert_says(replies, "we will not contact you")
    assert ASK_NAME not in texts(replies)
    assert store_of(fictional_app).conversation(p.sender)["contact_requested"] is False


def test_stop_during_the_contact_questions(fictional_app, fictional_patient):
    p = fictional_patient
    to_the_offer(p)
    p.taps("Yes, contact me")
    assert_says(p.says("stop"), "we will not contact you")
    assert store_of(fictional_app).conversation(p.sender)["contact_requested"] is False


@pytest.mark.parametrize("words", ["I want to die", "I have chest pain right now", "I can't breathe"])
def test_emergency_during_the_contact_questions(fictional_app, fictional_patient, words):
    """"At any point": an emergency typed where the bot asks for a name gets the guidance first,
    and is never kept as the patient's name."""
    p = fictional_patient
    to_the_offer(p)
    p.taps("Yes, contact me")
    replies = p.says(words)
    assert "911" in replies[0].get("text", "") and "988" in replies[0].get("text", ""), texts(replies)
    assert_says(replies, ASK_NAME)
    names = [e.get("value") for e in store_of(fictional_app).events(p.sender)
             if e.get("event") == "slot" and e.get("name") == "contact_name"]
    assert words not in names


def test_delete_my_answers_during_the_contact_questions(fictional_app, fictional_patient):
    p = fictional_patient
    to_the_offer(p)
    p.taps("Yes, contact me")
    p.says("Ann Example")
    replies = p.says("delete my answers")
    assert_says(replies, "delete all your answers")
    assert_says(p.taps("Yes, delete them"), "have been deleted")
    assert store_of(fictional_app).events(p.sender) == []


def test_help_during_the_contact_questions(fictional_patient):
    p = fictional_patient
    to_the_offer(p)
    p.taps("Yes, contact me")
    p.says("Ann Example")
    replies = p.says("help")
    assert "does not look like a phone number" not in texts(replies)
    assert_says(replies, "start over", ASK_DETAILS)


def test_not_eligible_gets_no_offer_and_every_question_is_asked(fictional_patient):
    """ask_every_question: true keeps asking after an answer that rules the person out."""
    p = fictional_patient
    p.says("hi")
    p.taps("Start")
    # under 40 (typed: checked back first), yet the form goes on
    run_script(p, [("30", "~Just to check"), ("tap:Yes, that's right", "ejs")])
    replies = to_the_offer_from_here(p)
    assert result_of(replies)["outcome"] == "not_eligible"
    assert OFFER not in texts(replies)


def to_the_offer_from_here(p: Patient) -> list[dict]:
    for _ in range(20):
        if p.result is not None:
            return p.replies
        if p.review is not None:
            p.confirm_review()
            continue
        p.answer(FICTIONAL_ELIGIBLE[p.asked])
    raise AssertionError("no result")


# --- the real trial asks nothing identifying -----------------------------------------------

IDENTIFYING = (OFFER.lower(), "what name", "what is your name", "phone number or e-mail address should",
               "date of birth", "your address", "e-mail address should")


@pytest.mark.parametrize("overrides", [{}, {"hiv": "tap:Yes"}, {"rituximab": "2026-08-31"},
                                       {"heart": "tap:High blood pressure"}],
                         ids=["likely_eligible", "not_eligible", "eligible_after_washout", "needs_review"])
def test_the_real_trial_never_asks_anything_identifying(patient, store, overrides):
    patient.start()
    answer_until(patient, overrides=overrides)
    patient.says("thanks")
    patient.says("yes")
    for said, replies in patient.history:
        body = texts(replies).lower()
        for phrase in IDENTIFYING:
            assert phrase not in body, f"after {said!r}: {phrase!r}"
    names = {e.get("name") for e in store.events(patient.sender) if e.get("event") == "slot"}
    assert not names & {"contact_consent", "contact_name", "contact_details"}
    assert store.conversation(patient.sender)["contact_requested"] is False


# --- each app keeps its own trial ---------------------------------------------------------------


def test_two_apps_in_one_process_keep_their_own_trials(tmp_path, monkeypatch):
    """create_app(CRITERIA=...) must serve that trial, whatever apps were made after it."""
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    real = make_app(tmp_path / "real.sqlite3", criteria=CRITERIA)
    fictional = make_app(tmp_path / "fictional.sqlite3", criteria=FICTIONAL)
    try:
        p = Patient(real.test_client())
        replies = p.start()
        assert p.asked == "age", texts(replies)
        assert_says(p.history[-2][1], "not recruiting")   # with the greeting, before Start
        q = Patient(fictional.test_client())
        q.start()
        assert q.asked == "how_old"
    finally:
        store_of(real).engine.dispose()
        store_of(fictional).engine.dispose()
