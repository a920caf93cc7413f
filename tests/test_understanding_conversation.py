"""The form uses the parser: confirm steps, closer dates, questions back, answers given in passing."""

from chatkit import answer_until, assert_says, chat_app, chat_client, patient, run_script, store  # noqa: F401


def test_a_misspelled_medicine_is_checked_back_then_kept(patient):
    patient.start()
    answer_until(patient, stop_at="rituximab")
    run_script(patient, [
        ("rituxamab 3 weeks ago", "~Just to check"),
        ("tap:Yes, that's right", "other_biologic"),
    ])
    answer_until(patient)
    assert patient.result["outcome"] == "eligible_after_washout"
    assert patient.result["eligible_from"] == "2027-05-04"


def test_a_wrong_reading_can_be_refused_and_answered_again(patient):
    patient.start()
    answer_until(patient, stop_at="rituximab")
    run_script(patient, [
        ("rituxamab 3 weeks ago", "~Just to check"),
        ("tap:No, let me answer again", "~answer again"),
        ("never", "other_biologic"),
    ])


def test_a_very_vague_date_is_asked_once_more_then_taken_as_an_estimate(patient):
    patient.start()
    answer_until(patient, stop_at="rituximab")
    run_script(patient, [
        ("I stopped in the spring", "~closer date"),
        ("sorry, just the spring", "other_biologic"),
    ])
    answer_until(patient)
    result = patient.result
    assert result["eligible_from"] == "2026-11-30"      # 31 May + 6 months
    assert any("estimate" in line for line in result["to_check"])


def test_a_question_back_is_answered_and_not_counted_as_unclear(patient):
    patient.start()
    answer_until(patient, stop_at="serious_infection")
    run_script(patient, [
        ("what counts as serious?", "~has to be checked by the study team"),   # a question back: the help
        ("what do you mean?", None),
        ("no", "labs"),
    ])


def test_two_medicines_in_one_reply_skip_the_later_question(patient):
    patient.start()
    answer_until(patient, stop_at="ivig")
    run_script(patient, [("I had Humira and IVIG 3 weeks ago", "ig_route"),
                         ("tap:Into a vein (IV drip)", "cyclophosphamide"),
                         ("tap:Never had it", "rituximab")])   # the biologic question is not asked again
    answer_until(patient)
    verdicts = {c["id"]: c for c in patient.result["criteria"]}
    assert verdicts["biologic_washout"]["until"] == "2026-12-30"   # 4 Nov + 56 days
    assert verdicts["ivig_washout"]["until"] == "2026-12-02"


def test_free_text_only_whole_conversation_gives_what_a_coordinator_would(patient):
    patient.start()
    run_script(patient, [
        ("I'm 61", "diagnosis"),
        ("yes, limited - they call it CREST", "refractory"),
        # the question asks about treatment that did NOT help: its negative restated means yes, checked back
        ("methotrexate didnt help and neither did mmf", "~Just to check"),
        ("tap:Yes, that's right", "features"),
        ("my fingertips get ulcers and the lungs have some scarring", "heart"),
        ("my blood pressure is high but it's well controlled with meds", "hiv"),
        ("nope", "hepatitis_b"),
        ("had the hep b vaccine years ago", "hepatitis_c"),
        ("not that i know of", "serious_infection"),
        ("no", "labs"),
        ("nothing like that", "ivig"),
        ("never had it", "cyclophosphamide"),
        ("cytoxan infusions ended in august", "biologic"),
        ("no never", "rituximab"),
        ("no", "other_biologic"),
        ("no", "pregnancy"),
        ("I'm post-menopausal", "REVIEW"), ("tap:That's right, show my result", "RESULT:likely_eligible"),
    ])
    assert patient.result["criteria"][3]["answers"] == {"skin_worsening": None, "lung_fibrosis": True,
                                                        "pulmonary_hypertension": None, "digital_ulcers": True}


def test_a_reply_about_another_question_is_noted_and_the_question_asked_again(patient):
    """Issue 12 item 7: "I had rituximab in June" while asked about cyclophosphamide fills the
    rituximab question, says so, asks cyclophosphamide again, and skips rituximab later."""
    patient.start()
    answer_until(patient, stop_at="cyclophosphamide")
    replies = patient.says("I had rituximab in June")
    assert_says(replies, "I noted", "rituximab", "June 30, 2026")
    assert patient.asked == "cyclophosphamide"
    patient.taps("Never had it")
    assert patient.asked == "biologic"
    patient.taps("Never had them")
    assert patient.asked == "other_biologic"


def test_a_confident_answer_wins_over_a_requests_shape(patient):
    """Issue 12, item 6: a request wins only when the reply has no confident reading as an answer to
    the current question ("I had the hep b shots for work (nurse)" is a no to hepatitis B, not a
    wish to talk to a nurse); an emergency always wins."""
    patient.start()
    answer_until(patient, "hepatitis_b")
    patient.says("I had the hep b shots for work (nurse)")
    assert patient.asked == "hepatitis_c"                 # recorded, the next question asked
    patient.says("can I talk to a real person please")     # no reading as an answer: the request
    assert_says(patient.replies, "300 Pasteur Drive")
