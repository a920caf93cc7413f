"""The conversation, as transcripts through the REST channel.

Each transcript is a table: what the patient types (or taps: "tap:<button
title>", which sends the payload of that button from the bot's previous reply)
-> the id of the question the bot must ask next (custom.question.id),
"RESULT:<outcome>" for the result message, or "~<phrase>" the bot must say.
The site date is pinned to 2026-11-25 through metadata.today.
"""

from __future__ import annotations

import pytest

from chatkit import (CONTACT_ADDRESS, CRISIS_988, CRITERIA, CRITERION_KEYS, ELIGIBLE, EMERGENCY_911, NOT_RECRUITING,
                     QUESTION_KEYS, RESULT_KEYS, STAFF_DECIDE, answer_until, assert_says, chat_app, chat_client,
                     patient, question_of, result_of, run_script, store, texts)

__all__ = ["chat_app", "chat_client", "patient", "store"]  # fixtures used below

START = [("hi", "~Shall we start?"), ("tap:Start", "age")]


def check_result_message(replies: list[dict], result_validator=None) -> dict:
    """What every result message must carry (docs/ARCHITECTURE.md: "Clinical rules", "The result")."""
    result = result_of(replies)
    assert result is not None, texts(replies)
    assert set(result) == RESULT_KEYS
    for criterion in result["criteria"]:
        assert set(criterion) == CRITERION_KEYS
    assert result["trial_id"] == "NCT00506831"
    assert result["today"] == "2026-11-25"
    assert CONTACT_ADDRESS in result["contact"]["address"]
    assert NOT_RECRUITING in result["status_notice"]
    if result_validator is not None:
        result_validator.validate(result)
    message = next(r for r in replies if (r.get("custom") or {}).get("prescreen_result"))
    assert_says([message], CONTACT_ADDRESS, NOT_RECRUITING, STAFF_DECIDE)
    assert not any(question_of([r]) for r in replies), "no question after the result"
    return result


# --- 1. each outcome, by buttons and by typing ---------------------------------------

LIKELY_ELIGIBLE_BY_BUTTONS = START + [
    ("54", "diagnosis"),
    ("tap:Yes, the diffuse type", "refractory"),
    ("tap:Yes", "features"),
    ("tap:Skin getting thicker or tighter", "heart"),
    ("tap:None of these", "hiv"),
    ("tap:No", "hepatitis_b"),
    ("tap:No", "hepatitis_c"),
    ("tap:No", "serious_infection"),
    ("tap:No", "labs"),
    ("tap:No", "ivig"),
    ("tap:Never had it", "cyclophosphamide"),
    ("tap:Never had it", "biologic"),
    ("tap:Never had them", "rituximab"),
    ("tap:Never had it", "other_biologic"),
    ("tap:No", "pregnancy"),
    ("tap:Doesn't apply to me", "REVIEW"), ("tap:That's right, show my result", "RESULT:likely_eligible"),
]

LIKELY_ELIGIBLE_BY_TYPING = START + [
    ("I'm 54", "diagnosis"),
    ("limited", "refractory"),
    ("yes it didn't help enough", "features"),
    ("ulcers on my fingers", "heart"),
    ("all under control", "hiv"),
    ("no", "hepatitis_b"),
    ("nope", "hepatitis_c"),
    ("no I don't", "serious_infection"),
    ("not that I know of", "labs"),
    ("no", "ivig"),
    ("never had it", "cyclophosphamide"),
    ("never", "biologic"),
    ("never taken any of them", "rituximab"),
    ("no never", "other_biologic"),
    ("no", "pregnancy"),
    ("I'm a man", "REVIEW"), ("tap:That's right, show my result", "RESULT:likely_eligible"),
]


@pytest.mark.parametrize("script", [LIKELY_ELIGIBLE_BY_BUTTONS, LIKELY_ELIGIBLE_BY_TYPING],
                         ids=["buttons", "typing"])
def test_likely_eligible(patient, script, result_validator):
    history = run_script(patient, script)
    result = check_result_message(history[-1][1], result_validator)
    assert result["eligible_from"] is None
    assert {c["verdict"] for c in result["criteria"]} == {"pass"}
    assert_says(history[-1][1], "you may be able to take part")


NOT_ELIGIBLE_SCRIPTS = {
    # the form stops as soon as the person is ruled out: the result comes right after the age
    # a typed reading that rules the person out is checked back first (nothing ruled out silently)
    "age 17 (typed)": (START + [("17", "~Just to check"), ("tap:Yes, that's right", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")], "adult", "18 or older"),
    "age 17 (words)": (START + [("I am seventeen", "~Just to check"), ("tap:Yes, that's right", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")], "adult", "18 or older"),
    "HIV yes (buttons)": (START + [
        ("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory"), ("tap:Yes", "features"),
        ("tap:Scarring of the lungs (ILD)", "heart"), ("tap:None of these", "hiv"),
        ("tap:Yes", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")], "hiv", "HIV"),
    "HIV yes (typed)": (START + [
        ("60", "diagnosis"), ("diffuse", "refractory"), ("yes", "features"), ("ulcers", "heart"),
        ("no", "hiv"), ("yes I have HIV", "~Just to check"), ("tap:Yes, that's right", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")], "hiv", "HIV"),
    "morphea (typed)": (START + [("40", "diagnosis"), ("morphea", "~Just to check"), ("tap:Yes, that's right", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")],
                        "ssc_diagnosis", "Localized scleroderma"),
    "pregnant (buttons)": (START + [
        ("33", "diagnosis"), ("tap:Yes, the limited type", "refractory"), ("tap:Yes", "features"),
        ("tap:Sores on fingers or toes", "heart"), ("tap:None of these", "hiv"), ("tap:No", "hepatitis_b"),
        ("tap:No", "hepatitis_c"), ("tap:No", "serious_infection"), ("tap:No", "labs"), ("tap:No", "ivig"),
        ("tap:Never had it", "cyclophosphamide"), ("tap:Never had it", "biologic"),
        ("tap:Never had them", "rituximab"), ("tap:Never had it", "other_biologic"), ("tap:No", "pregnancy"),
        ("tap:Yes", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")], "pregnancy", "pregnant or breastfeeding"),
}


@pytest.mark.parametrize("name", list(NOT_ELIGIBLE_SCRIPTS))
def test_not_eligible(patient, name, result_validator):
    script, failing, phrase = NOT_ELIGIBLE_SCRIPTS[name]
    history = run_script(patient, script)
    replies = history[-1][1]
    result = check_result_message(replies, result_validator)
    assert result["eligible_from"] is None
    assert [c["id"] for c in result["criteria"] if c["verdict"] == "fail"] == [failing]
    assert_says(replies, "not likely to be able to take part", "Why:", phrase)


def test_age_17_is_checked_back_then_the_result_comes_straight_after(patient):
    """A typed reading that rules the person out is checked back (custom.confirm), never counted
    silently; confirmed, the result comes at once."""
    patient.start()
    assert patient.asked == "age"
    replies = patient.says("17")
    assert result_of(replies) is None
    confirm = next(r["custom"]["confirm"] for r in replies if "confirm" in (r.get("custom") or {}))
    assert confirm == {"answer_id": "age", "value": 17}
    assert_says(replies, "Just to check", "17")
    replies = patient.taps("Yes, that's right")
    assert question_of(replies) is None
    assert_says(replies, "Here is what you told me", "Age in whole years: 17", "could not take part")
    replies = patient.confirm_review()
    assert result_of(replies)["outcome"] == "not_eligible"
    assert [q for q, _ in patient.history].count("17") == 1


def test_a_tapped_rule_out_is_not_checked_back(patient):
    patient.start()
    answer_until(patient, "hiv")
    replies = patient.taps("Yes")
    assert patient.review is not None and result_of(replies) is None
    assert result_of(patient.confirm_review())["outcome"] == "not_eligible"


def test_a_check_back_answered_no_asks_again(patient):
    patient.start()
    patient.says("17")
    replies = patient.taps("No, let me answer again")
    assert_says(replies, "answer again")
    replies = patient.says("71")
    assert patient.asked == "diagnosis"


def test_eligible_after_washout_rituximab(patient, result_validator):
    """Rituximab on 31 August 2026 + 6 months: the day missing in February becomes its last day."""
    patient.start()
    answer_until(patient, "rituximab")
    replies = patient.says("2026-08-31")
    assert patient.asked == "other_biologic"
    answer_until(patient)
    replies = patient.replies
    result = check_result_message(replies, result_validator)
    assert result["outcome"] == "eligible_after_washout"
    assert result["eligible_from"] == "2027-02-28"
    rituximab = next(c for c in result["criteria"] if c["id"] == "rituximab_washout")
    assert rituximab["verdict"] == "wait" and rituximab["until"] == "2027-02-28"
    assert rituximab["answers"] == {"rituximab_last_dose": "2026-08-31"}
    assert_says(replies, "February 28, 2027", "6 months", "Do not stop or change any medicine without talking to your doctor")


def test_eligible_after_washout_ivig_weeks_ago_asks_the_route(patient):
    """IVIG "3 weeks ago" (4 November) + 28 days = 2 December 2026; the route is asked."""
    script = START + [
        ("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory"), ("tap:Yes", "features"),
        ("tap:Skin getting thicker or tighter", "heart"), ("tap:None of these", "hiv"), ("tap:No", "hepatitis_b"),
        ("tap:No", "hepatitis_c"), ("tap:No", "serious_infection"), ("tap:No", "labs"), ("tap:No", "ivig"),
        ("3 weeks ago", "ig_route"),
        ("tap:Into a vein (IV drip)", "cyclophosphamide"),
        ("tap:Never had it", "biologic"), ("tap:Never had them", "rituximab"), ("tap:Never had it", "other_biologic"),
        ("tap:No", "pregnancy"), ("tap:No", "REVIEW"), ("tap:That's right, show my result", "RESULT:eligible_after_washout"),
    ]
    history = run_script(patient, script)
    result = check_result_message(history[-1][1])
    assert result["eligible_from"] == "2026-12-02"
    assert_says(history[-1][1], "December 2, 2026")


NEEDS_REVIEW_SCRIPTS = {
    "uncontrolled blood pressure (button)": (
        {"heart": "tap:High blood pressure"}, "uncontrolled_heart_or_blood_pressure", "under control"),
    "uncontrolled blood pressure (typed)": (
        {"heart": "my blood pressure is not under control"}, "uncontrolled_heart_or_blood_pressure",
        "under control"),
    "biologic: still taking it (typed)": (
        {"biologic": "still taking it"}, "biologic_washout", "would need to stop"),
    "biologic: still taking one (button)": (
        {"biologic": "tap:I'm still taking one"}, "biologic_washout", "would need to stop"),
    "labs abnormal (patient cannot judge)": (
        {"labs": "tap:Yes"}, "blood_kidney_liver", "blood, kidney and liver"),
    "HIV not sure": ({"hiv": "tap:Not sure"}, "hiv", "check for HIV"),
}


@pytest.mark.parametrize("name", list(NEEDS_REVIEW_SCRIPTS))
def test_needs_review(patient, name, result_validator):
    overrides, criterion, phrase = NEEDS_REVIEW_SCRIPTS[name]
    patient.start()
    answer_until(patient, overrides=overrides)
    replies = patient.replies
    result = check_result_message(replies, result_validator)
    assert result["outcome"] == "needs_review"
    assert [c["id"] for c in result["criteria"] if c["verdict"] == "unknown"] == [criterion]
    assert result["eligible_from"] is None
    assert any(phrase.lower() in item.lower() for item in result["to_check"]), result["to_check"]
    assert_says(replies, "needs to check", phrase)


def test_still_taking_a_biologic_says_it_would_need_stopping(patient):
    patient.start()
    answer_until(patient, overrides={"biologic": "I'm still taking it"})
    reason = next(c for c in patient.result["criteria"] if c["id"] == "biologic_washout")
    assert reason["verdict"] == "unknown"
    assert "stop" in reason["reason"] and "8 weeks" in reason["reason"]
    assert_says(patient.replies, "You would need to stop etanercept, infliximab, adalimumab or abatacept")


def test_needs_review_with_a_washout_gives_the_date(patient):
    patient.start()
    answer_until(patient, overrides={"heart": "tap:High blood pressure", "rituximab": "2026-08-31"})
    result = patient.result
    assert result["outcome"] == "needs_review"
    assert result["eligible_from"] == "2027-02-28"
    assert_says(patient.replies, "February 28, 2027")


def test_not_recruiting_notice_comes_with_the_greeting_before_start(patient):
    """Status first (issue 13, item 1): a study that is not recruiting says so before the patient
    taps Start, and the patient can still go on."""
    replies = patient.says("hi")
    notice = [i for i, r in enumerate(replies) if NOT_RECRUITING in (r.get("text") or "")]
    start = [i for i, r in enumerate(replies) if any(b["title"] == "Start" for b in r.get("buttons") or [])]
    assert notice and start and notice[0] < start[0], texts(replies)
    replies = patient.taps("Start")
    assert patient.asked == "age" and NOT_RECRUITING not in texts(replies)   # said once, not again


def test_a_recruiting_study_says_nothing_of_the_kind(tmp_path):
    from chatkit import Patient, make_app, store_of
    text = open(CRITERIA, encoding="utf-8").read().replace("status: not_recruiting", "status: recruiting", 1)
    criteria = tmp_path / "recruiting.yaml"
    criteria.write_text(text, encoding="utf-8")
    app = make_app(tmp_path / "r.sqlite3", criteria=str(criteria))
    try:
        patient = Patient(app.test_client())
        patient.start()
        assert patient.asked == "age"
        assert all(NOT_RECRUITING not in texts(replies) for _, replies in patient.history)
    finally:
        store_of(app).engine.dispose()


def test_greeting_says_who_what_and_emergency(patient):
    replies = patient.says("hi")
    assert_says(replies, "automated", "Imatinib", "not medical advice", "study staff decide", "stored",
                "911", "Shall we start?")
    assert [b["title"] for b in patient.buttons] == ["Start", "Not now"]


# --- 2. every question message ------------------------------------------------------


def test_every_question_carries_custom_question_and_progress(patient, trial):
    patient.start()
    seen = []
    for _ in range(30):
        q = patient.question
        if q is None:
            break
        seen.append(q["id"])
        assert set(q) == QUESTION_KEYS
        question = trial.questions_by_id[q["id"]]
        assert q["type"] == question.type
        assert isinstance(q["answer_ids"], list) and q["answer_ids"]
        assert set(q["answer_ids"]) <= set(trial.answers)
        assert 1 <= q["step"] <= q["total"] <= len(trial.questions)
        message = next(r for r in patient.replies if question_of([r]))
        assert f"Question {q['step']} of {q['total']}" in message["text"]
        assert question.text.split()[0] in message["text"]
        if question.type != "age":
            assert message.get("buttons"), message
        patient.answer(ELIGIBLE[q["id"]])
    patient.confirm_review()
    assert patient.result["outcome"] == "likely_eligible"
    assert seen[0] == "age" and len(seen) == len(set(seen))


def test_the_counter_is_steady(patient):
    """Question N of M (issue 13, item 7): N goes 1, 2, 3 without a gap, also past a question answered
    in passing, and back when the patient goes back; M never grows."""
    patient.start()
    shown = []
    for _ in range(30):
        q = patient.question
        if q is None:
            break
        shown.append((q["id"], q["step"], q["total"]))
        if q["id"] == "cyclophosphamide":
            patient.says("never had cytoxan, and rituximab never either")   # rituximab answered in passing
        else:
            patient.answer(ELIGIBLE[q["id"]])
    steps = [step for _, step, _ in shown]
    totals = [total for _, _, total in shown]
    assert steps == list(range(1, len(steps) + 1)), shown
    assert totals == sorted(totals, reverse=True), shown
    assert "rituximab" not in [qid for qid, _, _ in shown]
    assert totals[-1] == steps[-1]


def test_the_counter_goes_back_with_the_patient(patient):
    patient.start()
    for _ in range(3):
        patient.answer(ELIGIBLE[patient.question["id"]])
    before = patient.question["step"]
    patient.says("go back")
    assert patient.question["step"] == before - 1


@pytest.mark.parametrize("ivig, route_asked", [
    ("tap:Never had it", False),
    ("tap:Yes, more than 4 weeks ago", False),
    ("tap:Not sure", False),
    ("tap:I'm still getting it", True),
    ("still getting it every month", True),
    ("3 weeks ago", True),
    ("2026-10-01", True),
])
def test_ig_route_only_when_ivig_current_or_dated(patient, ivig, route_asked):
    patient.start()
    answer_until(patient, "ivig")
    patient.answer(ivig)
    assert patient.asked == ("ig_route" if route_asked else "cyclophosphamide")
    answer_until(patient)
    asked = [question_of(r)["id"] for _, r in patient.history if question_of(r)]
    assert ("ig_route" in asked) is route_asked


def test_under_the_skin_immune_globulin_is_for_the_team_to_check(patient):
    patient.start()
    answer_until(patient, overrides={"ivig": "I'm still getting it", "ig_route": "tap:Under the skin"})
    ivig = next(c for c in patient.result["criteria"] if c["id"] == "ivig_washout")
    assert ivig["verdict"] == "unknown"
    assert patient.result["outcome"] == "needs_review"


# --- 3. digressions ---------------------------------------------------------------------


def test_help_mid_form_then_the_same_question(patient):
    run_script(patient, START + [("54", "diagnosis")])
    replies = patient.says("help")
    assert_says(replies, "why do you ask", "go back", "start over", "talk to a person", "delete my answers")
    assert patient.asked == "diagnosis"


def test_why_do_you_ask_gives_the_questions_help(patient, trial):
    run_script(patient, START + [("54", "diagnosis")])
    replies = patient.says("why do you ask?")
    assert replies[0]["text"] == " ".join(trial.questions_by_id["diagnosis"].help.split())
    assert patient.asked == "diagnosis"
    run_script(patient, [("tap:Yes, the limited type", "refractory"), ("why are you asking", "refractory")])
    assert_says(patient.replies, trial.questions_by_id["refractory"].help)


def test_go_back_reasks_the_previous_question_and_the_new_answer_wins(patient, store):
    run_script(patient, START + [
        ("54", "diagnosis"),
        ("tap:Yes, the diffuse type", "refractory"),
        ("go back", "diagnosis"),
    ])
    assert_says(patient.replies, "go back one question")
    assert patient.question["step"] == 2
    run_script(patient, [("tap:No", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")])
    result = patient.result
    assert next(c for c in result["criteria"] if c["id"] == "ssc_diagnosis")["answers"] == {"ssc_diagnosis": False}
    # both answers stay in the event log
    values = [e["value"] for e in store.events(patient.sender)
              if e.get("event") == "slot" and e.get("name") == "diagnosis"]
    answered = [v["text"] for v in values if isinstance(v, dict)]
    assert answered == ["Yes, the diffuse type", "No"]
    assert None in values


def test_i_made_a_mistake_after_the_result_reasks_and_replaces(patient, store):
    run_script(patient, START + [
        ("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory"), ("tap:Yes", "features"),
        ("tap:Skin getting thicker or tighter", "heart"), ("tap:None of these", "hiv"),
        ("tap:Yes", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible"),
        ("I made a mistake", "hiv"),
        ("no", "hepatitis_b"),
    ])
    answer_until(patient)
    assert patient.result["outcome"] == "likely_eligible"
    assert store.conversation(patient.sender)["outcome"] == "likely_eligible"
    hiv_answers = [e["value"]["answers"]["hiv"] for e in store.events(patient.sender)
                   if e.get("event") == "slot" and e.get("name") == "hiv" and isinstance(e.get("value"), dict)]
    assert hiv_answers == [True, False]


def test_go_back_at_the_first_question(patient):
    run_script(patient, START + [("go back", "age")])
    assert_says(patient.replies, "no earlier answer")


def test_start_over_mid_form(patient, store):
    run_script(patient, START + [("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory"),
                                 ("start over", "age")])
    assert_says(patient.replies, "start the questions again")
    assert patient.question["step"] == 1
    events = store.events(patient.sender)
    assert any(e.get("event") == "restart" for e in events)
    assert store.conversation(patient.sender) is not None
    # the second run asks the diagnosis again: the first run's answers are gone from the state
    run_script(patient, [("61", "diagnosis"), ("tap:No", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible")])
    assert store.conversation(patient.sender)["outcome"] == "not_eligible"


def test_start_over_after_a_result_keeps_both_runs_and_the_latest_outcome(patient, store):
    run_script(patient, START + [("17", "~Just to check"), ("tap:Yes, that's right", "REVIEW"), ("tap:That's right, show my result", "RESULT:not_eligible"), ("start over", "age")])
    # until the new run gives a result, the latest result is still the first one
    assert store.conversation(patient.sender)["outcome"] == "not_eligible"
    answer_until(patient)
    assert patient.result["outcome"] == "likely_eligible"
    events = store.events(patient.sender)
    results = [e["data"]["custom"]["prescreen_result"]["outcome"] for e in events
               if e.get("event") == "bot" and (e.get("data") or {}).get("custom", {}).get("prescreen_result")]
    assert results == ["not_eligible", "likely_eligible"]
    restarts = [i for i, e in enumerate(events) if e.get("event") == "restart"]
    assert len(restarts) == 1
    texts_before = [e["text"] for e in events[:restarts[0]] if e.get("event") == "user"]
    assert "17" in texts_before
    assert store.conversation(patient.sender)["outcome"] == "likely_eligible"


def test_talk_to_a_person_mid_form(patient):
    run_script(patient, START + [("54", "diagnosis"), ("talk to a person", "diagnosis")])
    assert_says(patient.replies, CONTACT_ADDRESS, "Stanford", "NCT00506831")


def test_stop_then_continue(patient, store):
    run_script(patient, START + [("54", "diagnosis")])
    replies = patient.says("stop")
    assert_says(replies, "stopped")
    assert question_of(replies) is None
    assert store.conversation(patient.sender)["outcome"] is None
    # coming back: the questions continue where they stopped
    run_script(patient, [("continue", "diagnosis"), ("tap:Yes, the diffuse type", "refractory")])


def test_what_is_this_study_mid_form(patient):
    run_script(patient, START + [("54", "diagnosis"), ("what is this study?", "diagnosis")])
    assert_says(patient.replies, "Imatinib", "NCT00506831", "systemic sclerosis")


def test_delete_my_answers_confirmed_by_the_button(patient, store):
    run_script(patient, START + [("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory")])
    replies = patient.says("delete my answers")
    assert_says(replies, "delete all your answers", "cannot be undone")
    assert [b["title"] for b in patient.buttons] == ["Yes, delete them", "No, keep them"]
    assert store.events(patient.sender)
    replies = patient.taps("Yes, delete them")
    assert_says(replies, "have been deleted")
    assert store.events(patient.sender) == []
    assert store.conversation(patient.sender) is None
    tombstones = store.tombstones(patient.sender)
    assert len(tombstones) == 1
    assert set(tombstones[0]) == {"id", "conversation_id", "deleted_at", "reason"}
    reason = tombstones[0]["reason"]   # the only free text kept (the id and time are random digits)
    assert "54" not in reason and "diffuse" not in reason.lower()


def test_delete_my_answers_confirmed_in_words(patient, store):
    run_script(patient, START + [("54", "diagnosis")])
    patient.says("delete my data")
    assert_says(patient.says("yes"), "have been deleted")
    assert store.events(patient.sender) == [] and store.conversation(patient.sender) is None
    assert len(store.tombstones(patient.sender)) == 1


def test_no_keep_them_keeps_the_answers_and_continues(patient, store):
    run_script(patient, START + [("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory")])
    patient.says("delete my answers")
    run_script(patient, [("tap:No, keep them", "refractory")])
    assert_says(patient.replies, "nothing was deleted")
    assert store.tombstones(patient.sender) == []
    answer_until(patient)
    result = patient.result
    assert result["outcome"] == "likely_eligible"
    assert next(c for c in result["criteria"] if c["id"] == "adult")["answers"] == {"age": 54}


def test_no_keep_them_at_the_greeting_does_not_skip_the_study_notice(patient):
    """Declining a deletion before the questions started must not start them silently.

    At the least, the not-recruiting notice must come before the first question
    (docs/ARCHITECTURE.md, "Clinical rules")."""
    greeting = patient.says("hi")
    patient.says("delete my answers")
    replies = patient.taps("No, keep them")
    assert_says(replies, "nothing was deleted")
    if question_of(replies) is not None:
        assert_says(greeting, NOT_RECRUITING)   # said with the greeting, before any question


@pytest.mark.parametrize("words", ["I have chest pain right now", "I can't breathe", "I want to die"])
def test_emergency_guidance_first_then_the_same_question(patient, words):
    run_script(patient, START + [("54", "diagnosis"), ("tap:Yes, the limited type", "refractory")])
    replies = patient.says(words)
    first = replies[0]["text"]
    assert EMERGENCY_911 in first and CRISIS_988 in first
    assert question_of(replies)["id"] == "refractory"


@pytest.mark.parametrize("words", ["I have chest pain right now", "I can't breathe", "I want to die"])
def test_emergency_guidance_at_the_greeting(patient, words):
    patient.says("hi")
    replies = patient.says(words)
    assert EMERGENCY_911 in replies[0]["text"] and CRISIS_988 in replies[0]["text"]
    assert question_of(replies) is None


def test_not_now_at_the_greeting(patient):
    patient.says("hi")
    replies = patient.taps("Not now")
    assert_says(replies, CONTACT_ADDRESS, "Thank you for your time")
    assert question_of(replies) is None
    assert "Take care" in replies[-1]["text"]


def test_not_now_typed(patient):
    patient.says("hello")
    assert_says(patient.says("not now"), CONTACT_ADDRESS, "Thank you for your time")


def test_a_button_of_an_earlier_question_is_not_taken_as_this_answer(patient):
    run_script(patient, START + [("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory")])
    stale = patient.button("Yes")["payload"]
    run_script(patient, [("tap:Yes", "features")])
    replies = patient.says(stale)
    assert_says(replies, "earlier question")
    assert patient.asked == "features"


# --- 4. unclear answers -------------------------------------------------------------------


def test_unclear_answer_reasked_once_then_recorded_unknown(patient, trial, store):
    run_script(patient, START + [("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory")])
    replies = patient.says("blah blah")
    assert_says(replies, "did not understand", trial.questions_by_id["refractory"].help)
    assert patient.asked == "refractory"
    replies = patient.says("qwerty zzz")
    assert_says(replies, "noted this one for the study team")
    assert patient.asked == "features"
    answer_until(patient)
    result = patient.result
    assert result["outcome"] == "needs_review"
    refractory = next(c for c in result["criteria"] if c["id"] == "refractory")
    assert refractory["verdict"] == "unknown" and refractory["answers"] == {"refractory": None}
    slot = [e["value"] for e in store.events(patient.sender)
            if e.get("event") == "slot" and e.get("name") == "refractory" and isinstance(e.get("value"), dict)]
    assert slot[-1]["status"] == "unknown"


def test_a_clear_answer_resets_the_unclear_count(patient):
    run_script(patient, START + [("54", "diagnosis"), ("tap:Yes, the diffuse type", "refractory")])
    patient.says("blah blah")
    run_script(patient, [("yes", "features"), ("blah blah", "features")])
    assert_says(patient.replies, "did not understand")


def test_unclear_age_reasked_then_unknown(patient):
    run_script(patient, START + [("around fifty", "age"), ("in my fifties", "diagnosis")])
    answer_until(patient)
    adult = next(c for c in patient.result["criteria"] if c["id"] == "adult")
    assert adult["verdict"] == "unknown"
    assert patient.result["outcome"] == "needs_review"


# --- the summary row follows the conversation ------------------------------------------------


def test_summary_row_after_a_result(patient, store):
    patient.start()
    answer_until(patient, overrides={"rituximab": "2026-08-31"})
    row = store.conversation(patient.sender)
    assert row["outcome"] == "eligible_after_washout"
    assert str(row["eligible_from"]) == "2027-02-28"
    assert row["completed"] is True
    assert row["contact_requested"] is False
    assert row["result"]["outcome"] == "eligible_after_washout"


def test_the_review_changes_an_answer_and_the_result_follows_it(patient, trial):
    """Issue 12 item 5: "Here is what you told me", each answer changeable; the result comes from
    the reviewed answers; questions that now apply are asked."""
    patient.start()
    patient.says("54")
    patient.taps("No")                      # a tap that rules the person out
    review = patient.review
    assert review is not None and patient.result is None
    assert {"answer_id": "ssc_diagnosis", "value": False} == {k: review["answers"][1][k] for k in ("answer_id", "value")}
    assert_says(patient.replies, "2. A doctor diagnosed systemic sclerosis (scleroderma): no", "could not take part")
    patient.taps("Change answer 2")
    assert patient.asked == "diagnosis"
    patient.taps("Yes, the diffuse type")
    assert patient.asked == "refractory"    # the questions that now apply
    answer_until(patient, stop_at="review")
    assert patient.review is not None
    replies = patient.confirm_review()
    assert result_of(replies)["outcome"] == "likely_eligible"


def test_a_no_to_the_review_says_how_to_change(patient):
    patient.start()
    answer_until(patient, stop_at="review")
    assert_says(patient.says("no"), "Change answer")
    assert patient.result is None


@pytest.mark.parametrize("words", ["yes that's right", "looks good", "that's correct", "show my result"])
def test_the_review_is_accepted_in_words(patient, words):
    patient.start()
    answer_until(patient, stop_at="review")
    patient.says(words)
    assert patient.result["outcome"] == "likely_eligible"


def test_changing_another_answer_on_a_rule_out_review_asks_it(patient):
    """The review after a rule-out: "Change answer 1" (the age, not the rule-out) asks the age again."""
    patient.start()
    patient.says("54")
    patient.taps("No")
    patient.taps("Change answer 1")
    assert patient.asked == "age"
    patient.says("60")
    assert patient.review is not None
    assert_says(patient.replies, "1. Age in whole years: 60")


def test_a_check_back_answered_not_sure_records_unknown(patient):
    """Typed "yes I have HIV" is checked back; "Not sure" on the check-back records it as unknown (staff check)."""
    patient.start()
    answer_until(patient, stop_at="hiv")
    patient.says("yes I have HIV")
    assert [b["title"] for b in patient.buttons][:3] == ["Yes, that's right", "No, let me answer again", "Not sure"]
    patient.taps("Not sure")
    assert patient.asked == "hepatitis_b"
    answer_until(patient, stop_at="review")
    assert_says(patient.replies, "HIV infection: not sure")
    assert patient.confirm_review() and patient.result["outcome"] == "needs_review"


def test_an_answer_that_no_longer_applies_is_dropped(patient):
    """Changing the diagnosis to No drops the refractory answer (asked only after a Yes)."""
    patient.start()
    patient.says("54")
    patient.taps("Yes, the diffuse type")
    patient.taps("Yes")                         # refractory
    assert patient.asked == "features"
    patient.says("go back")
    patient.says("go back")
    assert patient.asked == "diagnosis"
    patient.taps("No")
    assert patient.review is not None
    assert "Did not respond enough" not in patient.text
    patient.taps("Change answer 2")
    patient.taps("Yes, the diffuse type")
    assert patient.asked == "refractory"        # asked again: its earlier answer was dropped
