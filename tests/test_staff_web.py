"""The staff screens through Flask's test client, with CSRF protection ON:
login and its protections, access control, the list, a conversation, follow-up,
the audit log, exports, escaping, security headers and cookies."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest
from sqlalchemy import select

from bot.staff import accounts
from bot.db.schema import followups, transcript_index
from test_staff_helpers import (ADMIN_PASSWORD, FICTIONAL, PASSWORD, REAL_ABANDONED, REAL_LIKELY, REAL_TOO_YOUNG, Chat,
                                add_staff, csrf_app, login, opt_in, page_token, store_of,
                                token_of)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HYPERLINK = '=HYPERLINK("http://x","y")'


@pytest.fixture()
def app(tmp_path):
    app = csrf_app(tmp_path)
    add_staff(app, "carol")
    add_staff(app, "admin", ADMIN_PASSWORD, admin=True)
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def staff(app):
    c = app.test_client()
    assert login(c).status_code == 302
    return c


@pytest.fixture()
def admin(app):
    c = app.test_client()
    assert login(c, "admin", ADMIN_PASSWORD).status_code == 302
    return c


@pytest.fixture()
def three(app):
    """A likely-eligible, a too-young and an abandoned conversation of the real trial."""
    Chat(app, "likely").run(REAL_LIKELY)
    Chat(app, "young").run(REAL_TOO_YOUNG)
    Chat(app, "gone").run(REAL_ABANDONED)
    return app


def audit_of(app):
    return [(e["actor"], e["action"], e["target"]) for e in store_of(app).audit_entries()]


# -- login -----------------------------------------------------------------------------

def test_login_form_posts_username_password_and_csrf_token(client):
    page = client.get("/staff/login").get_data(as_text=True)
    for name in ("username", "password", "csrf_token"):
        assert f'name="{name}"' in page


def test_login_and_logout(app, client):
    response = login(client)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200
    token = page_token(client, "/staff/")
    response = client.post("/staff/logout", data={"csrf_token": token})
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert client.get("/staff/").status_code == 302
    actions = [a for _, a, _ in audit_of(app)]
    assert "login" in actions and "logout" in actions


def test_wrong_user_and_wrong_password_give_the_same_answer(app):
    wrong_user = login(app.test_client(), "nobody", PASSWORD)
    wrong_password = login(app.test_client(), "carol", "not the password at all")
    assert wrong_user.status_code == wrong_password.status_code == 401
    def normalised(response):   # the page without its token and the name typed
        body = response.get_data(as_text=True)
        body = re.sub(r'name="csrf_token" value="[^"]+"', "", body)
        return re.sub(r'(id="username"[^>]*value=")[^"]*"', r"\1", body)
    assert normalised(wrong_user) == normalised(wrong_password)
    assert "Wrong user name or password." in wrong_user.get_data(as_text=True)
    assert [a for _, a, _ in audit_of(app)].count("login_failed") == 2


def test_login_goes_to_the_page_asked_for_but_never_elsewhere(app):
    c = app.test_client()
    token = token_of(c.get("/staff/login").get_data(as_text=True))
    response = c.post("/staff/login?next=/staff/audit", data={"username": "carol", "password": PASSWORD,
                                                               "csrf_token": token})
    assert response.headers["Location"] == "/staff/audit"
    for evil in ("https://evil.example/", "//evil.example/staff/", "/widget.js", "/\\evil.example"):
        c = app.test_client()
        token = token_of(c.get("/staff/login").get_data(as_text=True))
        response = c.post("/staff/login", query_string={"next": evil},
                          data={"username": "carol", "password": PASSWORD, "csrf_token": token})
        assert response.headers["Location"] == "/staff/", evil


def test_repeated_failed_logins_lock_the_name_for_a_while(app):
    c = app.test_client()
    for _ in range(accounts.USER_FREE):
        assert login(c, "carol", "guessing wrongly again").status_code == 401
    assert login(c, "carol", "guessing wrongly again").status_code == 401      # this one locks
    locked = login(c, "carol", PASSWORD)                                      # even the right password waits
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.get_data(as_text=True)
    # an unknown name is locked in the same way (nothing tells which names exist)
    for _ in range(accounts.USER_FREE + 1):
        login(c, "nobody", "guessing wrongly again")
    assert login(c, "nobody", PASSWORD).status_code == 429


def test_lock_grows_with_each_attempt_and_a_success_clears_it(app):
    import datetime as dt
    engine = store_of(app).engine
    now = accounts.now_utc()
    for _ in range(accounts.USER_FREE):
        assert accounts.begin_attempt(engine, "carol", now) == 0      # free attempts
    assert accounts.begin_attempt(engine, "carol", now) == 0          # the next may try, and claims a lock
    first = accounts.begin_attempt(engine, "carol", now)              # locked
    assert first > 0
    later = now + dt.timedelta(seconds=first + 1)
    assert accounts.begin_attempt(engine, "carol", later) == 0        # the lock passed: one more try, a longer lock
    second = accounts.begin_attempt(engine, "carol", later)
    assert first < second <= accounts.MAX_LOCK.total_seconds()
    assert accounts.failures_of(engine, "carol") == accounts.USER_FREE + 4   # every attempt counted
    accounts.clear_failures(engine, "carol")
    assert accounts.failures_of(engine, "carol") == 0 and accounts.begin_attempt(engine, "carol", later) == 0


def test_one_address_does_not_lock_its_colleagues(app):
    """Issue 14: one address's failures locked every account used from it (a hospital's NAT)."""
    c = app.test_client()
    for _ in range(accounts.USER_FREE + 3):
        login(c, "mallory", "guessing wrongly again")
    assert login(c, "carol", PASSWORD).status_code == 302


def test_a_disabled_account_cannot_log_in_and_its_session_ends(app, staff):
    accounts.disable_user(store_of(app).engine, "carol")
    assert staff.get("/staff/").status_code == 302
    response = login(app.test_client())
    assert response.status_code == 401 and "Wrong user name or password." in response.get_data(as_text=True)


def test_a_password_reset_ends_open_sessions(app, staff):
    accounts.reset_password(store_of(app).engine, "carol", "a completely new password")
    assert staff.get("/staff/").status_code == 302
    assert login(app.test_client(), "carol", "a completely new password").status_code == 302


def _sessions(app) -> list:
    from bot.db.schema import staff_sessions
    with store_of(app).engine.connect() as conn:
        return conn.execute(select(staff_sessions)).mappings().all()


def test_session_expires_after_inactivity_on_the_server(app, staff):
    import datetime as dt
    from bot.db.schema import staff_sessions
    assert staff.get("/staff/").status_code == 200
    with store_of(app).engine.begin() as conn:   # 31 minutes without a request, as the server saw it
        conn.execute(staff_sessions.update().values(last_seen=dt.datetime.now(dt.timezone.utc)
                                                     - dt.timedelta(minutes=31)))
    response = staff.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert staff.get("/staff/").status_code == 302          # logged out for good
    assert _sessions(app) == []                              # and gone from the server
    page = staff.get("/staff/login").get_data(as_text=True)
    assert "session has ended" in page


def test_a_copied_cookie_stops_working_at_logout(app, staff):
    """Issue 14: a cookie copied before logout opened /staff/ and the export for 30 idle minutes."""
    assert staff.get("/staff/").status_code == 200
    cookie = staff.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain or "localhost")
    assert thief.get("/staff/").status_code == 200          # the copy works while the session is open
    staff.post("/staff/logout", data={"csrf_token": page_token(staff, "/staff/")})
    for url in ("/staff/", "/staff/export?format=csv"):
        response = thief.get(url)
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"], url
    assert _sessions(app) == []


def test_the_session_table_holds_no_token(app, staff):
    with staff.session_transaction() as cookie_session:
        token = cookie_session["staff_session"]
    (row,) = _sessions(app)
    assert token not in str(dict(row)) and len(row["token_hash"]) == 64


def test_disabling_an_account_ends_its_sessions_on_the_server(app, staff):
    accounts.disable_user(store_of(app).engine, "carol")
    assert _sessions(app) == []
    assert staff.get("/staff/").status_code == 302


def test_idle_minutes_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESCREEN_STAFF_IDLE_MINUTES", "5")
    app = csrf_app(tmp_path)
    add_staff(app)
    c = app.test_client()
    login(c)
    import datetime as dt
    from bot.db.schema import staff_sessions
    with store_of(app).engine.begin() as conn:
        conn.execute(staff_sessions.update().values(last_seen=dt.datetime.now(dt.timezone.utc)
                                                     - dt.timedelta(minutes=4)))
    assert c.get("/staff/").status_code == 200       # 4 idle minutes: still open
    with store_of(app).engine.begin() as conn:
        conn.execute(staff_sessions.update().values(last_seen=dt.datetime.now(dt.timezone.utc)
                                                     - dt.timedelta(minutes=6)))
    assert c.get("/staff/").status_code == 302       # 6: ended
    assert app.config["STAFF_IDLE_MINUTES"] == 5.0


# -- access control and CSRF ------------------------------------------------------------

ROUTES = [("GET", "/staff/"), ("GET", "/staff/conversations?outcome=needs_review"), ("GET", "/staff/conversations/likely"),
          ("GET", "/staff/conversations/no-such-id"), ("GET", "/staff/audit"), ("GET", "/staff/export?format=csv"),
          ("GET", "/staff/export?format=json"), ("GET", "/staff/export"),
          ("POST", "/staff/conversations/likely/follow-up"), ("POST", "/staff/logout")]


@pytest.mark.parametrize("method, url", ROUTES)
def test_anonymous_access_is_refused(app, three, client, method, url):
    token = token_of(client.get("/staff/login").get_data(as_text=True))
    attempts = [None] if method == "GET" else [{"csrf_token": token, "status": "contacted", "note": "x"},
                                               {"status": "contacted", "note": "x"}]
    for data in attempts:
        response = client.open(url, method=method, data=data)
        assert response.status_code in (302, 401, 403)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/staff/login")
        body = response.get_data(as_text=True)
        assert "54" not in body and "likely_eligible" not in body
    assert store_of(app).conversation("likely")["status"] == "new"


def test_post_without_csrf_token_is_refused(app, three, staff):
    response = staff.post("/staff/conversations/likely/follow-up", data={"status": "contacted", "note": "called"})
    assert response.status_code == 400
    response = staff.post("/staff/conversations/likely/follow-up",
                          data={"status": "contacted", "note": "called", "csrf_token": "forged"})
    assert response.status_code == 400
    assert store_of(app).conversation("likely")["status"] == "new"
    with store_of(app).engine.connect() as conn:
        assert conn.execute(select(followups)).all() == []


def test_login_without_csrf_token_is_refused(client):
    response = client.post("/staff/login", data={"username": "carol", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302


def test_logout_without_csrf_token_is_refused(staff):
    assert staff.post("/staff/logout").status_code == 400
    assert staff.get("/staff/").status_code == 200


def test_only_admins_see_the_audit_log(staff, admin):
    assert staff.get("/staff/audit").status_code == 403
    assert "Audit log" not in staff.get("/staff/").get_data(as_text=True)
    assert admin.get("/staff/audit").status_code == 200


# -- the list ----------------------------------------------------------------------------

def test_list_shows_each_conversation_with_its_summary(three, staff):
    page = staff.get("/staff/conversations").get_data(as_text=True)
    assert page.count('href="/staff/conversations/') == 3
    assert "Likely eligible" in page and "Not eligible" in page
    assert "In progress at refractory" in page or "Abandoned at refractory" in page
    assert 'id="count-started">3<' in page and 'id="count-completed">2<' in page
    assert 'id="count-likely_eligible">1<' in page and 'id="count-not_eligible">1<' in page
    assert 'id="count-contact">0<' in page


def test_list_filters_and_counts(three, staff):
    page = staff.get("/staff/conversations?outcome=not_eligible").get_data(as_text=True)
    assert page.count('href="/staff/conversations/') == 1 and "/staff/conversations/young" in page
    assert 'id="count-started">1<' in page
    page = staff.get("/staff/conversations?outcome=none").get_data(as_text=True)
    assert "/staff/conversations/gone" in page and page.count('href="/staff/conversations/') == 1
    page = staff.get("/staff/conversations?q=limited").get_data(as_text=True)
    assert "/staff/conversations/gone" in page and page.count('href="/staff/conversations/') == 1
    assert "Yes, the limited type" in page                           # the matching words
    page = staff.get("/staff/conversations?outcome=bogus").get_data(as_text=True)
    assert "Unknown outcome" in page and page.count('href="/staff/conversations/') == 3


def test_list_pages(app, staff):
    app.config["STAFF_PAGE_SIZE"] = 2
    for n in range(5):
        Chat(app, f"p{n}").run(["hi"])
    first = staff.get("/staff/conversations").get_data(as_text=True)
    assert "page 1 of 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    last = staff.get("/staff/conversations?page=3").get_data(as_text=True)
    assert last.count('href="/staff/conversations/') == 1 and "/staff/conversations/p0" in last


# -- one conversation --------------------------------------------------------------------

def test_conversation_page_shows_transcript_answers_and_the_stored_result(app, three, staff):
    page = staff.get("/staff/conversations/likely").get_data(as_text=True)
    text = html.unescape(page)
    # the transcript: who said what, button taps as the titles tapped, with times
    assert "Patient (tapped)" in page and "Yes, the diffuse type" in text
    assert "/inform{" not in text and "/affirm" not in text
    assert "How old are you?" in text and "<time datetime=" in page
    # the answers table from the replayed state
    assert re.search(r'<code>age</code></th>\s*<td class="value"><strong>54</strong>', page)
    assert re.search(r'<code>ssc_subtype</code></th>\s*<td class="value"><strong>diffuse</strong>', page)
    assert "typed, not confirmed" in page and ">tapped<" in page
    # the criterion table exactly as stored
    result = store_of(app).conversation("likely")["result"]
    for criterion in result["criteria"]:
        assert f"<code>{criterion['id']}</code>" in page
        assert criterion["reason"] in text
    assert json.dumps(result, indent=2, ensure_ascii=False) in text
    assert 'id="criteria-version">1.0.0<' in page
    assert "contact-name" not in page
    assert ("carol", "view_conversation", "likely") in audit_of(app)


def test_needs_review_shows_to_check_and_unknown_answers(app, staff):
    Chat(app, "unsure").run(["hi", "tap:Start", "54", "tap:Not sure", "tap:Skin getting thicker or tighter",
                             "tap:None of these", "tap:No", "tap:No", "tap:No", "tap:No", "tap:No",
                             "tap:Never had it", "tap:Never had it", "tap:Never had them", "tap:Never had it",
                             "tap:No", "tap:Doesn't apply to me", "tap:That's right, show my result"])
    result = store_of(app).conversation("unsure")["result"]
    assert result["outcome"] == "needs_review" and result["to_check"]
    page = staff.get("/staff/conversations/unsure").get_data(as_text=True)
    for item in result["to_check"]:
        assert html.escape(item) in page
    assert re.search(r'<code>ssc_diagnosis</code></th>\s*<td class="value"><strong>unknown</strong>', page)
    assert '<span class="verdict verdict-unknown">unknown</span>' in page


def test_unknown_and_deleted_conversations(app, staff):
    assert staff.get("/staff/conversations/never-was").status_code == 404
    chat = Chat(app, "forget-me").run(["hi", "tap:Start", "54"])
    token = page_token(staff, "/staff/conversations/forget-me")
    staff.post("/staff/conversations/forget-me/follow-up", data={"csrf_token": token, "status": "contacted",
                                                                "note": "left a message"})
    chat.run(["delete my answers", "tap:Yes, delete them"])
    response = staff.get("/staff/conversations/forget-me")
    assert response.status_code == 404 and "deleted at the patient" in response.get_data(as_text=True)
    with store_of(app).engine.connect() as conn:
        assert conn.execute(select(followups).where(followups.c.conversation_id == "forget-me")).all() == []
        assert conn.execute(select(transcript_index)
                            .where(transcript_index.c.conversation_id == "forget-me")).all() == []
    assert ("patient", "delete_conversation", "forget-me") in audit_of(app)


# -- follow-up ---------------------------------------------------------------------------

def test_follow_up_changes_are_all_kept_and_shown(app, three, staff):
    url = "/staff/conversations/likely"
    token = page_token(staff, url)
    response = staff.post(url + "/follow-up", data={"csrf_token": token, "status": "contacted",
                                                    "note": "Called, will call back Tuesday"})
    assert response.status_code == 302
    staff.post(url + "/follow-up", data={"csrf_token": token, "status": "contacted", "note": "Second call"})
    staff.post(url + "/follow-up", data={"csrf_token": token, "status": "screening_visit_scheduled", "note": ""})
    assert store_of(app).conversation("likely")["status"] == "screening_visit_scheduled"
    with store_of(app).engine.connect() as conn:
        rows = conn.execute(select(followups).order_by(followups.c.id)).mappings().all()
    assert [(r["actor"], r["previous_status"], r["status"], r["note"]) for r in rows] == [
        ("carol", "new", "contacted", "Called, will call back Tuesday"),
        ("carol", "contacted", "contacted", "Second call"),
        ("carol", "contacted", "screening_visit_scheduled", None)]
    page = staff.get(url).get_data(as_text=True)
    assert "Called, will call back Tuesday" in page and "Second call" in page
    assert "New → Contacted" in page and "Contacted → Scheduled for screening visit" in page
    listed = staff.get("/staff/conversations?status=screening_visit_scheduled").get_data(as_text=True)
    assert "/staff/conversations/likely" in listed and listed.count('href="/staff/conversations/') == 1
    assert [t for _, a, t in audit_of(app) if a == "follow_up"] == ["likely"] * 3


def test_follow_up_refuses_an_unknown_status_and_empty_changes(app, three, staff):
    url = "/staff/conversations/likely"
    token = page_token(staff, url)
    staff.post(url + "/follow-up", data={"csrf_token": token, "status": "hacked"})
    staff.post(url + "/follow-up", data={"csrf_token": token, "status": "new", "note": "   "})
    assert store_of(app).conversation("likely")["status"] == "new"
    with store_of(app).engine.connect() as conn:
        assert conn.execute(select(followups)).all() == []
    assert staff.post("/staff/conversations/nope/follow-up",
                      data={"csrf_token": token, "status": "contacted"}).status_code == 404


# -- audit -------------------------------------------------------------------------------

def test_audit_log_lists_logins_views_changes_exports_and_deletions(app, three, staff, admin):
    staff.get("/staff/conversations/young")
    token = page_token(staff, "/staff/conversations/young")
    staff.post("/staff/conversations/young/follow-up", data={"csrf_token": token, "status": "not_a_fit"})
    staff.get("/staff/export?format=csv&outcome=not_eligible").get_data()
    Chat(app, "bye").run(["hi", "delete my answers", "tap:Yes, delete them"])
    login(app.test_client(), "carol", "wrong password, twelve+")
    page = admin.get("/staff/audit").get_data(as_text=True)
    for action in ("login", "login_failed", "view_conversation", "follow_up", "export", "delete_conversation"):
        assert f"<td>{action}</td>" in page, action
    assert "changed: status" in page and "not_a_fit" not in page   # the kind of change, not the values
    assert "127.0.0.1" in page
    only = admin.get("/staff/audit?action=export").get_data(as_text=True)
    assert "<td>export</td>" in only and "<td>view_conversation</td>" not in only


# -- export ------------------------------------------------------------------------------

def test_export_csv_and_json_from_the_list_follow_its_filters(app, three, staff):
    page = staff.get("/staff/conversations?outcome=not_eligible").get_data(as_text=True)
    assert 'href="/staff/export?format=csv&amp;outcome=not_eligible"' in page
    response = staff.get("/staff/export?format=csv&outcome=not_eligible")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["conversation_id"] for r in rows] == ["young"] and rows[0]["age"] == "17"
    document = json.loads(staff.get("/staff/export?format=json").get_data(as_text=True))
    assert document["count"] == 3 and {c["id"] for c in document["conversations"]} == {"likely", "young", "gone"}
    assert ("carol", "export", "csv") in audit_of(app) and ("carol", "export", "json") in audit_of(app)
    assert staff.get("/staff/export?format=xml").status_code == 400


# -- escaping and formulas ---------------------------------------------------------------

def test_patient_markup_is_text_in_the_list_the_transcript_and_the_export(tmp_path):
    app = csrf_app(tmp_path, CRITERIA=FICTIONAL)
    add_staff(app)
    staff = app.test_client()
    login(staff)
    chat = Chat(app, "xss").run(["hi", "tap:Start", f"I'm 45 {SCRIPT}"])
    chat.run(["tap:Yes", "tap:Early", "tap:No", IMG, "no", "tap:Never", "tap:Never", "tap:That's right, show my result"])
    chat.run(["tap:Yes, contact me", SCRIPT, "ann@example.org"])
    assert store_of(app).conversation("xss")["contact_requested"] is True

    listed = staff.get("/staff/conversations?q=alert").get_data(as_text=True)
    assert "/staff/conversations/xss" in listed
    transcript = staff.get("/staff/conversations/xss").get_data(as_text=True)
    for page in (listed, transcript):
        assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(SCRIPT) in listed
    assert html.escape(SCRIPT) in transcript and html.escape(IMG) in transcript
    assert f'id="contact-name">{html.escape(SCRIPT)}<' in transcript

    rows = list(csv.DictReader(io.StringIO(staff.get("/staff/export?format=csv").get_data(as_text=True))))
    assert rows[0]["contact_name"] == SCRIPT                 # the CSV keeps the words as they were typed
    document = json.loads(staff.get("/staff/export?format=json").get_data(as_text=True))
    said = [line["text"] for line in document["conversations"][0]["transcript"] if line["from"] == "patient"]
    assert f"I'm 45 {SCRIPT}" in said and IMG in said


def test_a_formula_typed_by_a_patient_is_neutralised_in_the_csv(tmp_path):
    app = csrf_app(tmp_path, CRITERIA=FICTIONAL)
    add_staff(app)
    staff = app.test_client()
    login(staff)
    opt_in(app, "formula", HYPERLINK, "+1 555 0100")
    body = staff.get("/staff/export?format=csv").get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(body)))
    assert row["contact_name"] == "'" + HYPERLINK
    assert row["contact_details"] == "'+15550100"
    assert "\n=" not in body and ",=" not in body and ",+" not in body


@pytest.mark.parametrize("cell, expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("a=b", "a=b"), ("", ""), (None, ""), (54, "54"),
])
def test_neutralise(cell, expected):
    from bot.staff.export import neutralise
    assert neutralise(cell) == expected


# -- contact requests (the fictional recruiting trial) -------------------------------------

def test_contact_requests_are_listed_counted_filtered_and_shown(tmp_path):
    app = csrf_app(tmp_path, CRITERIA=FICTIONAL)
    add_staff(app)
    staff = app.test_client()
    login(staff)
    opt_in(app, "wants-call", "Ann Lee", "ann@example.org")
    declined = Chat(app, "no-call").run(["hi", "tap:Start", "I'm 45", "tap:Yes", "tap:Early", "tap:No", "no",
                                         "tap:Never", "tap:Never", "tap:That's right, show my result",
                                         "tap:No, thanks"])
    assert declined.replies
    row = store_of(app).conversation("wants-call")
    assert row["contact_requested"] is True and store_of(app).conversation("no-call")["contact_requested"] is False

    page = staff.get("/staff/conversations").get_data(as_text=True)
    assert 'id="count-contact">1<' in page and 'id="count-started">2<' in page
    only = staff.get("/staff/conversations?contact=yes").get_data(as_text=True)
    assert "/staff/conversations/wants-call" in only and only.count('href="/staff/conversations/') == 1
    none = staff.get("/staff/conversations?contact=no").get_data(as_text=True)
    assert "/staff/conversations/no-call" in none and none.count('href="/staff/conversations/') == 1

    shown = staff.get("/staff/conversations/wants-call").get_data(as_text=True)
    assert 'id="contact-name">Ann Lee<' in shown
    assert 'id="contact-details"><a href="mailto:ann@example.org">ann@example.org</a><' in shown
    assert 'id="contact-requested">Yes<' in shown
    assert "contact-name" not in staff.get("/staff/conversations/no-call").get_data(as_text=True)

    rows = {r["conversation_id"]: r for r in csv.DictReader(io.StringIO(
        staff.get("/staff/export?format=csv&contact=yes").get_data(as_text=True)))}
    assert list(rows) == ["wants-call"]
    assert rows["wants-call"]["contact_name"] == "Ann Lee" and rows["wants-call"]["years_old"] == "45"


# -- security headers and cookies ---------------------------------------------------------

EXPECTED_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize("url", ["/staff/login", "/staff/", "/health", "/staff/static/staff.css", "/nowhere"])
def test_security_headers_on_every_response(client, url):
    response = client.get(url)
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, (url, name)
    assert "Cross-Origin-Resource-Policy" not in response.headers
    assert "Strict-Transport-Security" not in response.headers   # plain HTTP: no HSTS


@pytest.mark.parametrize("url", ["/staff/login", "/health", "/"])
def test_hsts_over_https(client, url):
    response = client.get(url, base_url="https://clinic.example.org")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_staff_pages_are_not_cached(staff):
    assert staff.get("/staff/").headers["Cache-Control"] == "no-store"


def _session_cookie(response) -> str:
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_session_cookie_is_httponly_samesite_and_secure_only_over_https(app):
    plain = _session_cookie(login(app.test_client()))
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    c = app.test_client()
    token = token_of(c.get("/staff/login", base_url="https://localhost").get_data(as_text=True))
    secure = _session_cookie(c.post("/staff/login", base_url="https://localhost",
                                     data={"username": "carol", "password": PASSWORD, "csrf_token": token}))
    assert "Secure" in secure and "HttpOnly" in secure and "SameSite=Lax" in secure


def test_secure_cookies_can_be_forced(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESCREEN_SECURE_COOKIES", "1")
    app = csrf_app(tmp_path)
    add_staff(app)
    assert "Secure" in _session_cookie(login(app.test_client()))


# -- findings of the outside probe (issue 14, item 6) -----------------------------------

@pytest.mark.parametrize("query", ["to=9999-12-31", "from=0001-01-01", "from=2026-13-01", "to=1899-12-31"])
def test_out_of_range_dates_are_a_clear_400_on_the_form(staff, query):
    for url in ("/staff/conversations?", "/staff/export?format=csv&"):
        response = staff.get(url + query)
        assert response.status_code == 400, (url, query)
    page = staff.get("/staff/conversations?" + query).get_data(as_text=True)
    assert "is not a date from 1900 to 2999" in page


@pytest.mark.parametrize("target", ["/staff/\r\nSet-Cookie: x=1", "/staff/\n", "/staff/\x00", "/staff/\t"])
def test_control_characters_in_next_are_refused(client, target):
    from test_staff_helpers import PASSWORD
    token = page_token(client, "/staff/login")
    response = client.post("/staff/login", query_string={"next": target},
                           data={"username": "carol", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert "\r" not in response.headers["Location"] and "\n" not in response.headers["Location"]
    assert response.headers["Location"].endswith("/staff/")


def test_a_purged_conversation_is_labelled_as_purged(app, three, staff):
    import datetime as dt
    from bot.db.schema import conversations as conv
    store = store_of(app)
    with store.engine.begin() as conn:
        conn.execute(conv.update().where(conv.c.id == "gone")
                     .values(last_activity=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)))
    assert store.purge(30) == 1
    page = staff.get("/staff/conversations/gone")
    assert page.status_code == 404
    assert "retention purge" in page.get_data(as_text=True)
    assert "patient's request" not in page.get_data(as_text=True)


@pytest.mark.parametrize("site, status", [("cross-site", 403), ("same-site", 403), ("same-origin", 200),
                                          ("none", 200), (None, 200)])
def test_an_export_started_from_another_site_is_refused(staff, site, status):
    """Issue 14: the CSV export was a cross-site GET. Browsers say where a request comes from."""
    headers = {"Sec-Fetch-Site": site} if site else {}
    assert staff.get("/staff/export?format=csv", headers=headers).status_code == status


def test_a_flood_of_failed_logins_is_audited_in_aggregate(app, client):
    """Issue 14: 300 anonymous login POSTs wrote 300 audit rows; a burst is now one row with a count."""
    for _ in range(30):
        token = page_token(client, "/staff/login")
        client.post("/staff/login", data={"username": "mallory", "password": "wrong password 123",
                                          "csrf_token": token})
    rows = [e for e in store_of(app).audit_entries() if e["action"] in ("login_failed", "login_refused")]
    assert 1 <= len(rows) <= 2
    assert sum(int(e["detail"].split()[0]) for e in rows) == 30
