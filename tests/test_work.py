"""The coordinator's work (issue 16) through Flask's test client with CSRF on: the work queue,
follow-up with owner and dates, contact attempts, ticked "to check" items, staff corrections
re-evaluated as of the conversation's date, how each answer was obtained, the visit summary, the
"abandoned at" filter, and what the audit log keeps (no health values)."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import func, select, update

from bot.db.schema import (check_items, contact_attempts, conversations, corrections, notifications,
                           result_criteria)
from dbkit import postgres_schema, postgres_url  # noqa: F401  (fixture)
from test_staff_helpers import (REAL_ABANDONED, REAL_LIKELY, REAL_TOO_YOUNG, Chat, add_staff, csrf_app, login,
                                opt_in, page_token, store_of)

HIV = 7   # REAL_LIKELY's step that answers the HIV question
REAL_HIV_UNSURE = REAL_LIKELY[:HIV] + ["tap:Not sure"] + REAL_LIKELY[HIV + 1:]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app(request, tmp_path):
    """The real trial with two staff users, on SQLite and on a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'work.sqlite3'}"
        application = csrf_app(tmp_path, DATABASE_URL=url)
        add_staff(application, "carol")
        add_staff(application, "dave")
        yield application
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), "work") as url:
        application = csrf_app(tmp_path, DATABASE_URL=url)
        add_staff(application, "carol")
        add_staff(application, "dave")
        yield application
        store_of(application).forgetter.flush()   # a deletion's pass, before the schema is dropped
        store_of(application).engine.dispose()


@pytest.fixture()
def staff(app):
    c = app.test_client()
    assert login(c).status_code == 302
    return c


def engine(app):
    return store_of(app).engine


def set_since(app, sender: str, days_ago: int) -> None:
    with engine(app).begin() as conn:
        conn.execute(update(conversations).where(conversations.c.id == sender).values(
            needs_person_since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_ago)))


def queue_refs(page: str) -> list[str]:
    return re.findall(r'<th scope="row" class="ref"><a [^>]*><code>([^<]+)</code>', page)


def reference(app, sender: str) -> str:
    return store_of(app).conversation(sender)["reference"]


def post(staff, sender: str, path: str, data: dict):
    token = page_token(staff, f"/staff/conversations/{sender}")
    return staff.post(f"/staff/conversations/{sender}/{path}", data={"csrf_token": token, **data},
                      follow_redirects=True)


def audit_details(app) -> list[str]:
    return [f"{e['action']} {e['detail'] or ''}" for e in store_of(app).audit_entries()]


def test_the_queue_holds_who_needs_a_person_oldest_first(app, staff):
    Chat(app, "likely-conversation-01").run(REAL_LIKELY)
    Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
    Chat(app, "young-conversation-001").run(REAL_TOO_YOUNG)
    Chat(app, "gone-conversation-0001").run(REAL_ABANDONED)
    set_since(app, "likely-conversation-01", 2)
    set_since(app, "unsure-conversation-01", 5)
    page = staff.get("/staff/").get_data(as_text=True)
    assert queue_refs(page) == [reference(app, "unsure-conversation-01"), reference(app, "likely-conversation-01")]
    assert re.search(r'id="queue-total">2<', page) and re.search(r'id="queue-nobody">2<', page)
    assert "5 days" in page and "2 days" in page
    # the needs-review row counts its items to check and says the first in words
    row = page[page.index(reference(app, "unsure-conversation-01")):]
    assert re.search(r"<strong>1</strong>: [^<]*HIV", row[:2000])
    # ruled out and in progress are in the full list only
    everything = staff.get("/staff/conversations").get_data(as_text=True)
    for sender in ("young-conversation-001", "gone-conversation-0001"):
        assert reference(app, sender) in everything and reference(app, sender) not in page


def test_the_queue_shows_the_contact_the_patient_left_as_links_escaped(tmp_path):
    from test_staff_helpers import FICTIONAL
    app = csrf_app(tmp_path, CRITERIA=FICTIONAL)
    add_staff(app, "carol")
    staff = app.test_client()
    login(staff)
    opt_in(app, "contact-conversation-01", "<script>alert(1)</script> Ann", "+1 555 0100")
    page = staff.get("/staff/").get_data(as_text=True)
    assert "<script>alert(1)" not in page and html.escape("<script>alert(1)</script> Ann") in page
    assert 'href="tel:' in page and "Contact requested" in page


def test_follow_up_records_owner_dates_and_status_and_the_queue_filters_by_owner(app, staff):
    Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
    Chat(app, "likely-conversation-01").run(REAL_LIKELY)
    done = post(staff, "unsure-conversation-01", "follow-up", {
        "status": "contacted", "owner": "carol", "next_action_on": "2026-12-01", "visit_on": "2026-12-10",
        "note": "Called, she has HIV test results to bring"})
    page = done.get_data(as_text=True)
    assert "Follow-up saved." in page
    assert re.search(r'id="owner">carol<', page) and re.search(r'id="next-action">2026-12-01<', page)
    assert re.search(r'id="visit">2026-12-10<', page) and re.search(r'id="status">Contacted<', page)
    mine = staff.get("/staff/?owner=me").get_data(as_text=True)
    assert queue_refs(mine) == [reference(app, "unsure-conversation-01")]
    nobody = staff.get("/staff/?owner=nobody").get_data(as_text=True)
    assert queue_refs(nobody) == [reference(app, "likely-conversation-01")]
    # the audit says what kind of change, never the note
    detail = [d for d in audit_details(app) if d.startswith("follow_up")]
    assert detail == ["follow_up changed: status, owner, next_action_on, visit_on, note"]
    assert not any("HIV" in d for d in audit_details(app))
    # a bad date or an unknown owner: a clear error, nothing saved
    bad = post(staff, "unsure-conversation-01", "follow-up", {"status": "contacted", "owner": "mallory"})
    assert "is not an active staff user" in bad.get_data(as_text=True)
    bad = post(staff, "unsure-conversation-01", "follow-up", {"status": "contacted", "next_action_on": "31/12/2026"})
    assert "is not a date" in bad.get_data(as_text=True)
    assert store_of(app).conversation("unsure-conversation-01")["owner"] == "carol"
    # the page's "Back" still leads where it led (a same-site staff page only)
    kept = post(staff, "unsure-conversation-01", "follow-up", {"status": "contacted", "owner": "carol",
                                                               "note": "x", "back": "/staff/conversations?outcome=x"})
    assert 'href="/staff/conversations?outcome=x">← Back' in kept.get_data(as_text=True)
    elsewhere = post(staff, "unsure-conversation-01", "follow-up", {"status": "contacted", "owner": "carol",
                                                                    "note": "y", "back": "https://evil.example/"})
    assert 'href="/staff/">← Back' in elsewhere.get_data(as_text=True)
    # closed follow-ups leave the queue unless asked for
    post(staff, "unsure-conversation-01", "follow-up", {"status": "enrolled", "owner": "carol"})
    assert queue_refs(staff.get("/staff/").get_data(as_text=True)) == [reference(app, "likely-conversation-01")]
    assert len(queue_refs(staff.get("/staff/?closed=yes").get_data(as_text=True))) == 2


def test_contact_attempts_are_recorded_and_checked(app, staff):
    Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
    page = post(staff, "unsure-conversation-01", "attempts", {"at": "2026-11-24T09:30", "method": "phone",
                                                              "result": "left_message", "note": "voicemail"})
    text = page.get_data(as_text=True)
    assert "Contact attempt saved." in text and "Left a message" in text and "2026-11-24 09:30" in text
    assert re.search(r'id="attempt-count">1<', text)
    for data, error in (({"method": "pigeon", "result": "reached"}, "Unknown way of contact"),
                        ({"method": "phone", "result": "maybe"}, "Unknown result"),
                        ({"method": "phone", "result": "reached", "at": "2999-01-01T10:00"}, "cannot be in the future"),
                        ({"method": "phone", "result": "reached", "at": "yesterday"}, "is not a date and time")):
        assert error in post(staff, "unsure-conversation-01", "attempts", data).get_data(as_text=True)
    with engine(app).connect() as conn:
        assert conn.execute(select(func.count()).select_from(contact_attempts)).scalar() == 1


def test_to_check_items_show_the_patients_words_and_can_be_ticked(app, staff):
    Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
    page = staff.get("/staff/conversations/unsure-conversation-01").get_data(as_text=True)
    checks = page[page.index('id="to-check"'):page.index('id="answers"')]
    assert "<code>hiv</code> = <strong>unknown</strong>" in checks and "<q class=\"said\">" in checks
    assert "tapped" in checks
    key = re.search(r'name="item" value="([0-9a-f]{64})"', checks).group(1)
    done = post(staff, "unsure-conversation-01", "check", {"item": key, "done": "yes", "note": "negative test 2025"})
    text = done.get_data(as_text=True)
    assert "Item ticked." in text and "(1 of 1 done)" in text and "negative test 2025" in text
    queue = staff.get("/staff/").get_data(as_text=True)
    row = queue[queue.index(reference(app, "unsure-conversation-01")):]
    assert re.search(r'<td class="checks">—</td>', row[:3000]), "a ticked item no longer counts in the queue"
    assert "item ticked" in " ".join(audit_details(app)) and "negative test" not in " ".join(audit_details(app))
    stale = post(staff, "unsure-conversation-01", "check", {"item": "0" * 64, "done": "yes"})
    assert "no longer in the result" in stale.get_data(as_text=True)


def test_a_correction_keeps_the_original_and_re_evaluates_as_of_the_conversation_date(app, staff):
    Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
    before = store_of(app).conversation("unsure-conversation-01")
    assert before["outcome"] == "needs_review"
    missing = post(staff, "unsure-conversation-01", "correct", {"answer": "hiv", "value": "no", "reason": ""})
    assert "Say why" in missing.get_data(as_text=True)
    bad = post(staff, "unsure-conversation-01", "correct", {"answer": "age", "value": "old", "reason": "x"})
    assert "is not a whole number" in bad.get_data(as_text=True)
    done = post(staff, "unsure-conversation-01", "correct",
                {"answer": "hiv", "value": "no", "reason": "Her records show a negative test"})
    text = done.get_data(as_text=True)
    assert "The result changed from Needs review to Likely eligible." in text
    after = store_of(app).conversation("unsure-conversation-01")
    assert after["outcome"] == "likely_eligible"
    assert after["result"]["today"] == before["result"]["today"] == "2026-11-25"   # the conversation's date
    assert after["result"]["re_evaluated"]["as_of"] == "2026-11-25"
    row = text[text.index('id="answer-hiv"'):]
    row = row[:row.index("</tr>")]
    assert "<strong>no</strong>" in row and "Patient's answer: <strong>unknown</strong>" in row
    assert "corrected by staff" in row and "Her records show a negative test" in row and "carol" in row
    assert 'id="re-evaluated"' in text and "The patient was told Needs review" in text
    with engine(app).connect() as conn:
        fix = conn.execute(select(corrections)).mappings().one()
        assert (fix["original"], fix["value"], fix["outcome_before"], fix["outcome_after"]) == \
            (None, False, "needs_review", "likely_eligible")
        assert conn.execute(select(result_criteria.c.criterion_id).where(
            result_criteria.c.conversation_id == "unsure-conversation-01")).all() == []
    entries = [d for d in audit_details(app) if d.startswith("correct_answer")]
    assert entries == ["correct_answer answer hiv; result re-evaluated"]
    # correcting again keeps the patient's original
    post(staff, "unsure-conversation-01", "correct", {"answer": "hiv", "value": "yes", "reason": "misread"})
    page = staff.get("/staff/conversations/unsure-conversation-01").get_data(as_text=True)
    row = page[page.index('id="answer-hiv"'):]
    assert "Patient's answer: <strong>unknown</strong>" in row[:row.index("</tr>")]
    assert store_of(app).conversation("unsure-conversation-01")["outcome"] == "not_eligible"


def test_a_last_dose_correction_gives_a_washout_date_and_todays_view(app, staff):
    Chat(app, "likely-conversation-01").run(REAL_LIKELY)
    done = post(staff, "likely-conversation-01", "correct",
                {"answer": "cyclophosphamide_last_dose", "value": "date", "date": "2026-10-31",
                 "reason": "pharmacy record"})
    text = done.get_data(as_text=True)
    assert "to Eligible after washout" in text
    result = store_of(app).conversation("likely-conversation-01")["result"]
    assert result["outcome"] == "eligible_after_washout" and result["eligible_from"] > "2026-11-25"
    # the washout is over by now (the test's conversation date is 2026-11-25): today's view says so
    assert 'id="today-view"' in text and "Likely eligible" in text[text.index('id="today-view"'):][:400]
    missing = post(staff, "likely-conversation-01", "correct",
                   {"answer": "ivig_last_dose", "value": "date", "reason": "x"})
    assert "Give the date of the last dose" in missing.get_data(as_text=True)


def test_each_answer_says_how_it_was_obtained(app, staff):
    Chat(app, "young-conversation-001").run(REAL_TOO_YOUNG)      # 17 typed, checked back, confirmed
    Chat(app, "likely-conversation-01").run(REAL_LIKELY)         # 54 typed, never checked back
    young = staff.get("/staff/conversations/young-conversation-001").get_data(as_text=True)
    assert re.search(r'id="answer-age".*?typed, confirmed by the patient', young, re.S)
    likely = staff.get("/staff/conversations/likely-conversation-01").get_data(as_text=True)
    age = likely[likely.index('id="answer-age"'):]
    assert "typed, not confirmed" in age[:age.index("</tr>")]
    hiv = likely[likely.index('id="answer-hiv"'):]
    assert ">tapped<" in hiv[:hiv.index("</tr>")]


def test_changed_in_review_is_said(app, staff):
    chat = Chat(app, "review-conversation-01").run(REAL_LIKELY[:-1])
    chat.run(["tap:Change answer 6", "tap:No"])   # answer 6 is the HIV question, answered again
    page = staff.get("/staff/conversations/review-conversation-01").get_data(as_text=True)
    hiv = page[page.index('id="answer-hiv"'):]
    assert "changed in review" in hiv[:hiv.index("</tr>")]


def test_the_visit_summary_is_one_printable_page(app, staff):
    Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
    post(staff, "unsure-conversation-01", "attempts", {"method": "phone", "result": "reached"})
    post(staff, "unsure-conversation-01", "follow-up", {"status": "screening_visit_scheduled", "owner": "carol",
                                                        "visit_on": "2026-12-10"})
    page = staff.get("/staff/conversations/unsure-conversation-01/visit-summary").get_data(as_text=True)
    assert reference(app, "unsure-conversation-01") in page
    assert re.search(r'id="vs-visit">2026-12-10<', page) and "Needs review" in page
    assert "HIV infection" in page and "☐" in page and "Reached the patient" in page
    assert "Scheduled for screening visit" in page
    assert "view_visit_summary" in " ".join(audit_details(app))


def test_the_list_filters_abandoned_at_a_question(app, staff):
    Chat(app, "gone-conversation-0001").run(REAL_ABANDONED)
    Chat(app, "likely-conversation-01").run(REAL_LIKELY)
    with engine(app).begin() as conn:   # idle for two hours: abandoned
        conn.execute(update(conversations).values(last_activity=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)))
    question = store_of(app).conversation("gone-conversation-0001")["current_question"]
    page = staff.get(f"/staff/conversations?abandoned={question}").get_data(as_text=True)
    assert reference(app, "gone-conversation-0001") in page and reference(app, "likely-conversation-01") not in page
    assert staff.get("/staff/conversations?abandoned=Bad Id!").status_code == 400


def test_a_result_that_needs_a_person_is_queued_once_with_its_non_passing_criteria(app):
    Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
    Chat(app, "young-conversation-001").run(REAL_TOO_YOUNG)
    with engine(app).connect() as conn:
        sent = conn.execute(select(notifications.c.conversation_id, notifications.c.reason)).all()
        assert sent == [("unsure-conversation-01", "needs_review")]
        rows = dict(conn.execute(select(result_criteria.c.criterion_id, result_criteria.c.verdict)
                                 .where(result_criteria.c.conversation_id == "unsure-conversation-01")).all())
        assert set(rows.values()) == {"unknown"} and len(rows) == 1
        young = conn.execute(select(conversations.c.needs_person_since, conversations.c.completed_at)
                             .where(conversations.c.id == "young-conversation-001")).one()
        assert young[0] is None and young[1] is not None
    # a second result of the same conversation (start over, same answers) is not a new notification
    Chat(app, "unsure-conversation-01").run(["start over"] + REAL_HIV_UNSURE[2:])
    with engine(app).connect() as conn:
        assert conn.execute(select(func.count()).select_from(notifications)).scalar() == 1


def test_deleting_a_conversation_deletes_its_work(app, staff):
    Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
    post(staff, "unsure-conversation-01", "attempts", {"method": "phone", "result": "reached"})
    post(staff, "unsure-conversation-01", "correct", {"answer": "hiv", "value": "no", "reason": "records"})
    key = re.search(r'name="item" value="([0-9a-f]{64})"',
                    staff.get("/staff/conversations/unsure-conversation-01").get_data(as_text=True))
    assert key is None   # after the correction nothing is left to check
    Chat(app, "unsure-conversation-01").run(["delete my answers", "tap:Yes, delete them"])
    with engine(app).connect() as conn:
        for table in (contact_attempts, corrections, check_items, result_criteria, notifications):
            assert conn.execute(select(func.count()).select_from(table)).scalar() == 0, table.name


def test_a_spanish_result_is_re_evaluated_in_spanish_with_its_items_in_english(app):
    from bot.engine import initial_slots
    from bot.staff import work
    from bot.staff.transcript import record

    Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
    trial = app.extensions["prescreen_trial"]
    dialogue = app.extensions["prescreen"].dialogue_engine.dialogue
    rec = record(trial, store_of(app).events("unsure-conversation-01"), initial=initial_slots(dialogue))
    stored = dict(store_of(app).conversation("unsure-conversation-01")["result"], language="es")
    values = work.merged_corrections(trial, rec, [])
    spanish = work.reevaluate(trial, rec, values, stored, [], "carol")
    english = work.reevaluate(trial, rec, values, dict(stored, language="en"), [], "carol")
    assert spanish["outcome"] == english["outcome"] == "needs_review" and spanish["language"] == "es"
    assert spanish["to_check"] == english["to_check"] and "HIV" in spanish["to_check"][0]   # staff tick these
    hiv = {c["id"]: c["reason"] for c in spanish["criteria"]}["hiv"]
    expected = {c.id: c for _, c in trial.for_language("es").criteria()}["hiv"].reasons.unknown
    assert hiv == expected and hiv != {c["id"]: c["reason"] for c in english["criteria"]}["hiv"]
