"""Changed answers on the staff side (issue 12, item 5): the record derives each question's
changes from the event log (old value, new value, when, how), marks the answers the patient
confirmed after a check-back, and the conversation page shows both, escaped.

The conversations are real ones, through the REST channel (tests/chatkit.py `Patient`)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest

from bot.engine import initial_slots
from bot.staff.transcript import EVENT, GO_BACK, PATIENT, REVIEW, Change, record, tapped_title, transcript
from chatkit import Patient, answer_until
from test_staff_helpers import add_staff, csrf_app, login, store_of

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture()
def app(tmp_path):
    app = csrf_app(tmp_path)
    add_staff(app, "carol")
    yield app
    store_of(app).engine.dispose()


@pytest.fixture()
def staff(app):
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def patient(app, sender: str) -> Patient:
    """A patient whose conversation id starts with `sender` (ids are 16-128 characters)."""
    return Patient(app.test_client(), sender=f"{sender}-0123456789abcdef")


def events_of(app, sender: str) -> list[dict]:
    return store_of(app).events(sender)


def record_of(app, sender: str):
    trial = app.extensions["prescreen_trial"]
    dialogue = app.extensions["prescreen"].dialogue_engine.dialogue
    return record(trial, events_of(app, sender), trial.zone, initial=initial_slots(dialogue))


def user_time(app, sender: str, said: str, nth: int = -1) -> dt.datetime:
    """The site-zone time of the `nth` user event whose text is `said` (the last by default)."""
    zone = app.extensions["prescreen_trial"].zone
    stamps = [e["timestamp"] for e in events_of(app, sender) if e.get("event") == "user" and e.get("text") == said]
    return dt.datetime.fromtimestamp(stamps[nth], dt.timezone.utc).astimezone(zone)


def answers_row(page: str, answer_id: str) -> str:
    """The answers-table row of one answer id, as HTML."""
    match = re.search(r'<tr id="answer-' + re.escape(answer_id) + r'">\s*<th scope="row"><code>' + re.escape(answer_id) + r'</code></th>.*?</tr>', page, re.S)
    assert match, f"no row for {answer_id} in the answers table"
    return match.group(0)


def row_of(rec, answer_id: str):
    return next(a for a in rec.answers if a.answer_id == answer_id)


# -- "Change answer N" from the review --------------------------------------------------

def change_from_review(app) -> Patient:
    p = patient(app, "changed")
    p.start()
    p.says("54")
    assert p.asked == "diagnosis"
    p.taps("No")                                   # a rule-out: the review comes at once
    assert p.review is not None
    p.taps("Change answer 2")
    assert p.asked == "diagnosis"
    p.taps("Yes, the diffuse type")
    answer_until(p, stop_at="review")
    p.confirm_review()
    assert p.result is not None
    return p


def test_a_change_from_the_review_is_in_the_record(app):
    p = change_from_review(app)
    rec = record_of(app, p.sender)

    assert list(rec.changes) == ["diagnosis"]       # nothing else changed
    [change] = rec.changes["diagnosis"]
    assert isinstance(change, Change)
    assert change.old_answers["ssc_diagnosis"] is False and change.new_answers["ssc_diagnosis"] is True
    assert change.new_answers["ssc_subtype"] == "diffuse"
    assert change.old["text"] == "No" and change.new["text"] == "Yes, the diffuse type"
    assert change.how == REVIEW and change.changed and not change.confirmed
    # when: the time of the patient's new answer, in the site's zone
    assert change.at == user_time(app, p.sender, '/inform{"diagnosis":"diffuse"}')
    assert str(change.at.tzinfo) == str(app.extensions["prescreen_trial"].zone) == "America/Los_Angeles"

    # the answers table: the changed answer carries its history, the others none
    diagnosis = row_of(rec, "ssc_diagnosis")
    assert diagnosis.value is True
    assert [(c.old, c.new, c.how) for c in diagnosis.changes] == [(False, True, REVIEW)]
    assert diagnosis.changes[0].at == change.at and diagnosis.changes[0].old_words == "No"
    assert [(c.old, c.new) for c in row_of(rec, "ssc_subtype").changes] == [(None, "diffuse")]
    assert row_of(rec, "age").changes == [] and row_of(rec, "refractory").changes == []
    assert not any(a.checked_back for a in rec.answers)   # every answer was a tap or needed no check


def test_the_transcript_reads_the_review_the_tap_and_the_change(app):
    p = change_from_review(app)
    lines = record_of(app, p.sender).lines

    reviews = [line for line in lines if line.review]
    assert len(reviews) == 2                         # the rule-out review, and the one after the change
    assert reviews[0].text.startswith("Here is what you told me")
    assert "Change answer 2" in reviews[0].choices
    tap = next(line for line in lines if line.speaker == PATIENT and line.text == "Change answer 2")
    assert tap.tapped and tap.reopens == "diagnosis"
    assert not any("/change_answer" in line.text for line in lines)

    changed = [line for line in lines if line.changed]
    assert len(changed) == 1 and changed[0].speaker == EVENT and changed[0].changed == "diagnosis"
    assert "ssc_diagnosis no → yes" in changed[0].text and "Change answer" in changed[0].text
    # it follows the patient's new answer, before the next question
    at = lines.index(changed[0])
    assert lines[at - 1].speaker == PATIENT and lines[at - 1].text == "Yes, the diffuse type"
    assert lines[at + 1].question == "refractory"


def test_the_staff_page_shows_the_change(app, staff):
    p = change_from_review(app)
    page = staff.get(f"/staff/conversations/{p.sender}").get_data(as_text=True)
    at = record_of(app, p.sender).changes["diagnosis"][0].at.strftime("%Y-%m-%d %H:%M:%S")

    row = answers_row(page, "ssc_diagnosis")
    assert '<td class="value"><strong>yes</strong>' in row and "changed in review" in row
    assert "changed from <strong>no</strong> to <strong>yes</strong>" in row
    assert f">{at}</time>" in row and html.escape("“Change answer” on the review") in row
    assert "earlier words: <q class=\"said\">No</q>" in row
    assert '<th scope="col">Changes</th>' in page
    unchanged = answers_row(page, "age")
    assert re.search(r'<td class="changes">—\s', unchanged) and "changed from" not in unchanged
    assert '<td class="value"><strong>54</strong>' in unchanged and "typed, not confirmed" in unchanged

    text = html.unescape(page)
    assert "Patient (tapped) · takes back the answer to <code>diagnosis</code>" in text
    assert "Change answer 2</div>" in text and "/change_answer" not in text
    assert "Bot · review of the answers" in text and "Here is what you told me" in text
    assert "Answer to question diagnosis changed: ssc_diagnosis no → yes" in text


# -- "Change my last answer" ------------------------------------------------------------

def test_change_my_last_answer(app, staff):
    p = patient(app, "went-back")
    p.start()
    p.says(f"I'm 54 {SCRIPT}")
    assert p.asked == "diagnosis"
    p.taps("Yes, the diffuse type")
    assert p.asked == "refractory"
    p.taps("Change my last answer")                  # back to the diagnosis
    assert p.asked == "diagnosis"
    p.taps("Yes, the limited type")
    p.taps("Change my last answer")                  # back to the diagnosis again ...
    p.taps("Change my last answer")                  # ... and to the age
    assert p.asked == "age"
    p.says("60")
    assert p.asked == "diagnosis"                    # asked again: the answer was taken back
    answer_until(p, stop_at="review", overrides={"diagnosis": "tap:Yes, the limited type"})
    p.confirm_review()
    assert p.result is not None

    rec = record_of(app, p.sender)
    assert set(rec.changes) == {"age", "diagnosis"}
    [age] = rec.changes["age"]
    assert (age.old_answers, age.new_answers, age.how) == ({"age": 54}, {"age": 60}, GO_BACK)
    assert age.at == user_time(app, p.sender, "60")
    first, second = rec.changes["diagnosis"]
    assert (first.old_answers["ssc_subtype"], first.new_answers["ssc_subtype"], first.how) == \
        ("diffuse", "limited", GO_BACK)
    assert first.at == user_time(app, p.sender, '/inform{"diagnosis":"limited"}', 0)
    assert second.at == user_time(app, p.sender, '/inform{"diagnosis":"limited"}', 1)
    # asked again after the second "back", answered the same: kept, not a change of value
    assert not second.changed and second.new_answers["ssc_subtype"] == "limited"
    assert [(c.old, c.new) for c in row_of(rec, "ssc_subtype").changes] == [("diffuse", "limited"),
                                                                            ("limited", "limited")]

    page = staff.get(f"/staff/conversations/{p.sender}").get_data(as_text=True)
    row = answers_row(page, "age")
    assert "changed from <strong>54</strong> to <strong>60</strong>" in row
    assert html.escape("“Change my last answer”") in row
    # the earlier typed words are shown as text, escaped
    assert html.escape(SCRIPT) in row and SCRIPT not in page
    subtype = answers_row(page, "ssc_subtype")
    assert "changed from <strong>diffuse</strong> to <strong>limited</strong>" in subtype
    assert "asked again, kept <strong>limited</strong>" in subtype
    assert "Change my last answer</div>" in html.unescape(page)


# -- check-backs ------------------------------------------------------------------------

def test_an_answer_confirmed_after_a_check_back_is_marked(app, staff):
    p = patient(app, "young")
    p.start()
    p.says("17")                                     # typed, rules out: checked back
    assert any("confirm" in (r.get("custom") or {}) for r in p.replies)
    p.taps("Yes, that's right")
    p.confirm_review()
    rec = record_of(app, p.sender)
    assert row_of(rec, "age").value == 17 and row_of(rec, "age").checked_back is True
    assert rec.changes == {}
    check = next(line for line in rec.lines if line.check_back)
    assert check.question == "age" and "Just to check" in check.text

    row = answers_row(page := staff.get(f"/staff/conversations/{p.sender}").get_data(as_text=True), "age")
    assert "typed, confirmed by the patient" in row
    assert "Bot · question <code>age</code> · check-back" in html.unescape(page)


def test_a_confirmed_reading_changed_to_one_taken_as_read(app, staff):
    p = patient(app, "young-then-not")
    p.start()
    p.says("17")
    p.taps("Yes, that's right")
    assert p.review is not None
    p.taps("Change answer 1")
    assert p.asked == "age"
    p.says("54")                                     # needs no check
    answer_until(p, stop_at="review")
    p.confirm_review()

    rec = record_of(app, p.sender)
    [change] = rec.changes["age"]
    assert (change.old_answers, change.new_answers, change.how, change.confirmed) == \
        ({"age": 17}, {"age": 54}, REVIEW, False)
    assert row_of(rec, "age").checked_back is False   # the answer now is the one taken as read
    row = answers_row(staff.get(f"/staff/conversations/{p.sender}").get_data(as_text=True), "age")
    assert "changed from <strong>17</strong> to <strong>54</strong>" in row and "confirmed by the patient" not in row
    assert "changed in review" in row


def test_a_check_back_denied_is_no_change(app):
    p = patient(app, "denied")
    p.start()
    p.says("17")
    p.taps(next(b["title"] for b in p.buttons if b["title"] != "Yes, that's right"
                and b["payload"] != "/go_back"))
    assert p.asked == "age"
    p.says("54")
    rec = record_of(app, p.sender)
    assert rec.changes == {} and row_of(rec, "age").checked_back is False


# -- start over -------------------------------------------------------------------------

def test_a_restart_is_not_a_change(app, staff):
    p = patient(app, "restarted")
    p.start()
    p.says("54")
    p.taps("No")
    assert p.review is not None
    p.says("start over")
    assert p.asked == "age"
    p.says("60")
    p.taps("Yes, the diffuse type")
    answer_until(p, stop_at="review")
    p.confirm_review()

    rec = record_of(app, p.sender)
    assert rec.changes == {}
    assert all(a.changes == [] for a in rec.answers)
    assert row_of(rec, "age").value == 60 and row_of(rec, "ssc_diagnosis").value is True
    assert [line.text for line in rec.lines if line.speaker == EVENT] == ["The patient started over."]
    page = staff.get(f"/staff/conversations/{p.sender}").get_data(as_text=True)
    assert "changed from" not in page and "Answer changed" not in page


def test_changes_within_a_run_before_a_restart_stay_in_the_transcript(app):
    p = patient(app, "changed-then-restarted")
    p.start()
    p.says("54")
    p.taps("No")
    p.taps("Change answer 2")
    p.taps("Yes, the diffuse type")
    assert p.asked == "refractory"
    p.says("start over")
    p.says("61")
    p.taps("Yes, the limited type")
    rec = record_of(app, p.sender)
    assert rec.changes == {}                         # the answers now are the new run's, unchanged
    assert row_of(rec, "age").value == 61 and row_of(rec, "ssc_subtype").value == "limited"
    assert all(a.changes == [] for a in rec.answers)
    markers = [line.text for line in rec.lines if line.speaker == EVENT]
    assert len(markers) == 2 and markers[0].startswith("Answer to question diagnosis changed: ssc_diagnosis no → yes")
    assert markers[1] == "The patient started over."


# -- the transcript's reading of taps ---------------------------------------------------

def test_a_tap_is_its_title_however_its_json_is_spaced():
    buttons = [{"title": "Change answer 2", "payload": '/change_answer{"question":"diagnosis"}'}]
    assert tapped_title('/change_answer{"question": "diagnosis"}', buttons) == "Change answer 2"
    assert tapped_title('/change_answer{"question":"age"}', buttons) == "age"     # not offered: its words
    assert tapped_title("change answer 2", buttons) is None                         # typed


def test_a_tap_on_an_earlier_message_is_its_title():
    review = {"event": "bot", "text": "Here is what you told me", "timestamp": 1.0,
              "data": {"buttons": [{"title": "That's right, show my result", "payload": "/affirm"},
                                   {"title": "Change answer 1", "payload": '/change_answer{"question":"age"}'}],
                       "custom": {"review": {"answers": []}}}}
    hint = {"event": "bot", "text": 'Tap "Change answer"', "timestamp": 2.0, "data": {}}
    tap = {"event": "user", "text": '/change_answer{"question":"age"}', "timestamp": 3.0}
    lines = transcript([review, {"event": "user", "text": "no", "timestamp": 1.5}, hint, tap])
    assert lines[0].review and lines[-1].text == "Change answer 1" and lines[-1].tapped


def test_changes_from_a_log_alone():
    """A hand-made log: cleared by action_go_back, answered again, restarted, answered."""
    def slot(name, value, at):
        return {"event": "slot", "name": name, "value": value, "timestamp": at}

    def answer(value, text):
        return {"answers": {"x": value}, "text": text, "status": "accepted", "estimate": False}

    log = [{"event": "user", "text": "yes", "timestamp": 1.0}, slot("q", answer(True, "yes"), 1.0),
           {"event": "user", "text": "/go_back", "timestamp": 2.0}, {"event": "action", "name": "action_go_back"},
           slot("q", None, 2.0),
           {"event": "user", "text": "no", "timestamp": 3.0}, {"event": "action", "name": "validate_prescreen_form"},
           slot("q", answer(False, "no"), 3.0),
           {"event": "user", "text": "restart", "timestamp": 4.0}, {"event": "restart", "timestamp": 4.0},
           {"event": "user", "text": "yes", "timestamp": 5.0}, slot("q", answer(True, "yes"), 5.0)]
    lines = transcript(log, questions={"q"})
    assert [line.text for line in lines if line.speaker == EVENT] == \
        ["Answer to question q changed: x yes → no (after “Change my last answer”).", "The patient started over."]
    assert lines[1].reopens == "q"
    assert lines[3].at == dt.datetime.fromtimestamp(3.0, dt.timezone.utc)


def test_the_json_export_carries_each_answers_changes(app, staff):
    change_from_review(app)
    document = json.loads(staff.get("/staff/export?format=json").get_data(as_text=True))
    answers = {c["id"]: c for c in document["conversations"]}["changed-0123456789abcdef"]["answers"]
    (change,) = answers["ssc_diagnosis"]["changes"]
    assert (change["old"], change["new"], change["how"]) == (False, True, "review") and change["at"]
    assert answers["age"]["changes"] == []
