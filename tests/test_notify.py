"""Notifications to the study team (bot/notify.py; issue 16, part 4), against a real SMTP server
(aiosmtpd, on a free port) and a real webhook receiver (http.server in a thread): patients talk to
the app until they need a person, the sender delivers each outbox row once, the messages carry the
trial, the category and the staff link but no health data, failures are retried with their error
recorded, and two senders never send the same row. One test claims rows on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import insert, select

from bot.config import ConfigError, Settings
from bot.db.schema import notifications, now_utc
from bot.notify import (DELIVERY_HEADER, SIGNATURE_HEADER, Channels, Sender, backoff, failed_channels, sender_for)
from chatkit import CRITERIA, FICTIONAL, Patient, answer_until, free_port, make_app, store_of
from dbkit import TYPED, next_message, postgres_schema, postgres_url  # noqa: F401
from test_staff_helpers import FICTIONAL_TO_RESULT, Chat, add_staff, csrf_app, login

BASE = "https://prescreen.example.org"
SECRET = "a webhook secret for the tests"
TEAM = "study-team@example.org"
SENDER = "prescreen@example.org"
NAME, PHONE, MAIL = "Ann Quillfeather", "650 555 0100", "ann.quillfeather@example.org"


# -- the receivers ---------------------------------------------------------------------------------

class Mailbox:
    """What a real SMTP server (aiosmtpd) received; `refuse` makes it refuse every message."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "554 5.7.1 Message refused for the test"
        self.messages.append(envelope.content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def parsed(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in self.messages]


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


class Hook:
    """A webhook receiver: every call's headers and body; `statuses` are answered first (then 204)."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = hook.statuses.pop(0) if hook.statuses else 204
                hook.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):   # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/prescreen-hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.calls]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    receiver = Hook()
    yield receiver
    receiver.close()


def notify_config(smtp: Mailbox | None, hook: Hook | None, **extra) -> dict:
    config = {"STAFF_BASE_URL": BASE, "NOTIFY_MAX_ATTEMPTS": 3}
    if smtp is not None:
        config.update(NOTIFY_SMTP_HOST="127.0.0.1", NOTIFY_SMTP_PORT=smtp.port, NOTIFY_SMTP_STARTTLS=False,
                      NOTIFY_EMAIL_FROM=SENDER, NOTIFY_EMAIL_TO=TEAM)
    if hook is not None:
        config.update(NOTIFY_WEBHOOK_URL=hook.url, NOTIFY_WEBHOOK_SECRET=SECRET)
    config.update(extra)
    return config


@pytest.fixture
def app(tmp_path, monkeypatch, smtp, hook):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    application = make_app(tmp_path / "notify.sqlite3", **notify_config(smtp, hook))
    yield application
    store_of(application).engine.dispose()


@pytest.fixture
def fictional_app(tmp_path, monkeypatch, smtp, hook):
    monkeypatch.setenv("PRESCREEN_CRITERIA", FICTIONAL)
    application = make_app(tmp_path / "fictional.sqlite3", criteria=FICTIONAL, **notify_config(smtp, hook))
    yield application
    store_of(application).engine.dispose()


def now_sender(app, **options) -> Sender:
    """The app's sender; a failed row may be tried again at once (tests of the pause inject a clock)."""
    options.setdefault("backoff", lambda attempts: 0.0)
    return sender_for(app, **options)


# -- patients ----------------------------------------------------------------------------------------

def typed_likely(app) -> tuple[Patient, list[str]]:
    """A patient who types every answer (dbkit.TYPED) to "likely eligible"; the words typed."""
    patient = Patient(app.test_client())
    typed = []
    while (message := next_message(patient, TYPED)) is not None:
        if not message.startswith("/") and len(message) >= 6:   # the patient's own (distinctive) words
            typed.append(message)
        patient.says(message)
    assert patient.result["outcome"] == "likely_eligible"
    return patient, typed


def needs_review(app) -> Patient:
    patient = Patient(app.test_client())
    patient.start()
    answer_until(patient, overrides={"hiv": "tap:Not sure"})
    assert patient.result["outcome"] == "needs_review"
    return patient


def not_eligible(app) -> Patient:
    patient = Patient(app.test_client())
    patient.start()
    answer_until(patient, overrides={"hiv": "tap:Yes"})
    assert patient.result["outcome"] == "not_eligible"
    return patient


def outbox(app, sender_id: str | None = None) -> list[dict]:
    n = notifications.c
    query = select(notifications).order_by(n.id)
    if sender_id is not None:
        query = query.where(n.conversation_id == sender_id)
    with store_of(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def reference_of(app, sender_id: str) -> str:
    return store_of(app).conversation(sender_id)["reference"]


def health_words(patient: Patient) -> list[str]:
    """What a message must never hold of this patient: the conversation id, what the result says
    about them (reasons, things to check), their answers' values."""
    result = patient.result or {}
    words = [patient.sender]
    words += [c["reason"] for c in result.get("criteria", []) if c.get("reason")]
    words += list(result.get("to_check") or [])
    for criterion in result.get("criteria", []):
        for answer_id, value in (criterion.get("answers") or {}).items():
            if isinstance(value, str) and len(value) >= 4:
                words.append(value)
    return [w for w in words if w]


def raw_texts(smtp: Mailbox, hook: Hook) -> list[str]:
    """Every message as sent, and the e-mails' decoded text too."""
    found = [raw.decode("utf-8", "replace") for raw in smtp.messages]
    found += [message.get_body(("plain",)).get_content() for message in smtp.parsed()]
    found += [json.dumps(dict(headers)) + body.decode("utf-8") for headers, body in hook.calls]
    return found


def assert_nothing_of(texts: list[str], words: list[str]) -> None:
    for text in texts:
        lowered = text.lower()
        for word in words:
            assert word.lower() not in lowered, f"{word!r} is in a notification:\n{text}"


# -- the tests ------------------------------------------------------------------------------------------

def test_each_conversation_that_needs_a_person_is_notified_once_without_health_data(app, smtp, hook):
    likely, typed = typed_likely(app)
    review = needs_review(app)
    ruled_out = not_eligible(app)
    assert [r["reason"] for r in outbox(app)] == ["likely_eligible", "needs_review"]
    assert outbox(app, ruled_out.sender) == []
    assert smtp.messages == [] and hook.calls == [], "nothing is sent inside a patient's turn"

    done = now_sender(app).run_once()
    assert (done.sent, done.failed, done.gave_up) == (2, 0, 0)
    assert len(smtp.messages) == 2 and len(hook.calls) == 2
    assert all(row["sent_at"] is not None and row["attempts"] == 1 and row["last_error"] is None
               for row in outbox(app))

    for patient, category in ((likely, "likely eligible"), (review, "needs review")):
        reference = reference_of(app, patient.sender)
        link = f"{BASE}/staff/r/{reference}"
        (mail,) = [m for m in smtp.parsed() if reference in m["Subject"]]
        text = mail.get_body(("plain",)).get_content()
        for expected in ("NCT00506831", "Imatinib in Systemic Sclerosis", category, reference, link):
            assert expected in text, (expected, text)
        assert category in mail["Subject"] and mail["To"] == TEAM and mail["From"] == SENDER
        (body,) = [b for b in hook.bodies() if b["reference"] == reference]
        assert body["trial"] == {"id": "NCT00506831", "short_title": "Imatinib in Systemic Sclerosis"}
        assert body["category"] == category and body["link"] == link
    assert smtp.envelopes == [(SENDER, [TEAM])] * 2

    forbidden = health_words(likely) + health_words(review) + health_words(ruled_out) + typed
    assert len(forbidden) > 10 and likely.sender in forbidden
    assert_nothing_of(raw_texts(smtp, hook), forbidden)

    again = now_sender(app).run_once()
    assert (again.sent, again.failed) == (0, 0)
    assert len(smtp.messages) == 2 and len(hook.calls) == 2, "a second run sends nothing again"


def test_a_contact_request_is_notified_without_the_name_phone_or_email(fictional_app, smtp, hook):
    by_phone = Chat(fictional_app, "contact-phone-" + "c0ffee" * 3).run(FICTIONAL_TO_RESULT)
    by_phone.run(["tap:Yes, contact me", NAME, PHONE])
    by_mail = Chat(fictional_app, "contact-mail-" + "beef" * 4).run(FICTIONAL_TO_RESULT)
    by_mail.run(["tap:Yes, contact me", "Quillfeather", MAIL])
    for chat in (by_phone, by_mail):
        assert store_of(fictional_app).conversation(chat.sender)["contact_requested"]
    assert [r["reason"] for r in outbox(fictional_app)] == ["likely_eligible", "contact_requested"] * 2

    assert now_sender(fictional_app).run_once().sent == 4
    categories = sorted(b["category"] for b in hook.bodies())
    assert categories == ["contact requested"] * 2 + ["likely eligible"] * 2
    assert sorted(m["Subject"].split(":")[1].split("(")[0].strip() for m in smtp.parsed()) == categories
    assert all(b["trial"]["id"] == "FICTIONAL-0001" for b in hook.bodies())
    words = [by_phone.sender, by_mail.sender, "Quillfeather", PHONE, "555-0100", "5550100", MAIL, "ann.quill"]
    assert_nothing_of(raw_texts(smtp, hook), words)


def test_the_webhook_body_is_signed_and_dated_with_its_offset(app, smtp, hook):
    patient = needs_review(app)
    now_sender(app).run_once()
    ((headers, raw),) = hook.calls
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == expected
    assert headers[SIGNATURE_HEADER.lower()] != "sha256=" + hmac.new(b"another secret", raw, hashlib.sha256).hexdigest()
    assert headers["content-type"].startswith("application/json")
    assert headers[DELIVERY_HEADER.lower()] == str(outbox(app)[0]["id"])
    body = json.loads(raw)
    assert set(body) == {"trial", "reason", "category", "reference", "link", "created_at"}
    assert body["reason"] == "needs_review" and body["reference"] == reference_of(app, patient.sender)
    created = dt.datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() is not None, "ISO 8601 with its offset"
    site = app.extensions["prescreen_trial"].zone
    assert created.utcoffset() == created.astimezone(site).utcoffset()   # the site's zone
    assert abs((created - now_utc()).total_seconds()) < 300


def test_a_failing_webhook_is_tried_again_later_and_the_email_is_not_repeated(app, smtp, hook):
    needs_review(app)
    clock = {"now": now_utc()}
    sender = sender_for(app, clock=lambda: clock["now"], backoff=lambda attempts: 60.0 * attempts)
    hook.statuses = [500]
    first = sender.run_once()
    assert (first.sent, first.failed) == (0, 1)
    (row,) = outbox(app)
    assert row["sent_at"] is None and row["attempts"] == 1
    assert row["last_error"] == "webhook: HTTP 500 Internal Server Error"
    assert len(smtp.messages) == 1 and len(hook.calls) == 1

    assert sender.run_once().sent == 0, "not before its pause is over"
    assert len(hook.calls) == 1
    clock["now"] += dt.timedelta(seconds=61)
    assert sender.run_once().sent == 1
    (row,) = outbox(app)
    assert row["sent_at"] is not None and row["attempts"] == 2 and row["last_error"] is None
    assert len(hook.calls) == 2 and len(smtp.messages) == 1, "only the webhook was tried again"
    assert hook.calls[0][1] == hook.calls[1][1], "the same body"


def test_a_refused_email_is_tried_again_and_the_webhook_is_not_repeated(app, smtp, hook):
    needs_review(app)
    smtp.refuse = True
    assert now_sender(app).run_once().failed == 1
    (row,) = outbox(app)
    assert row["last_error"].startswith("e-mail: SMTPDataError: (554") and "refused for the test" in row["last_error"]
    assert failed_channels(row["last_error"]) == {"e-mail"}
    assert row["attempts"] == 1 and row["next_try_at"] is not None and len(hook.calls) == 1
    smtp.refuse = False
    assert now_sender(app).run_once().sent == 1
    assert len(smtp.messages) == 1 and len(hook.calls) == 1
    assert outbox(app)[0]["attempts"] == 2


def test_an_smtp_server_that_is_down_is_recorded_as_the_error(tmp_path, monkeypatch, hook):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    down = free_port()   # nothing listens there
    app = make_app(tmp_path / "down.sqlite3", NOTIFY_SMTP_HOST="127.0.0.1", NOTIFY_SMTP_PORT=down,
                   NOTIFY_SMTP_STARTTLS=False, NOTIFY_EMAIL_FROM=SENDER, NOTIFY_EMAIL_TO=TEAM)
    needs_review(app)
    assert now_sender(app).run_once().failed == 1
    (row,) = outbox(app)
    assert row["last_error"].startswith("e-mail: ConnectionRefusedError") and row["sent_at"] is None
    store_of(app).engine.dispose()


def test_after_the_last_attempt_the_row_stays_with_its_error_and_the_log_says_so(app, smtp, hook, caplog):
    needs_review(app)
    hook.statuses = [503] * 10
    caplog.set_level(logging.WARNING, logger="prescreen.notify")
    for attempt in (1, 2, 3):   # NOTIFY_MAX_ATTEMPTS 3
        done = now_sender(app).run_once()
        assert (done.failed, done.gave_up) == ((1, 0) if attempt < 3 else (0, 1))
    (row,) = outbox(app)
    assert row["attempts"] == 3 and row["sent_at"] is None and row["next_try_at"] is None
    assert row["last_error"] == "webhook: HTTP 503 Service Unavailable"
    assert now_sender(app).run_once().gave_up == 0 and len(hook.calls) == 3, "no fourth try"
    given_up = [r for r in caplog.records if "given up" in r.getMessage()]
    assert len(given_up) == 1 and given_up[0].levelno == logging.ERROR
    assert "webhook: HTTP 503" in given_up[0].getMessage()
    assert all(reference_of(app, row["conversation_id"]) not in r.getMessage() and
               row["conversation_id"] not in r.getMessage() for r in caplog.records)


def test_a_deleted_conversations_pending_notification_is_gone(app, smtp, hook):
    patient = needs_review(app)
    kept = typed_likely(app)[0]
    assert len(outbox(app)) == 2
    patient.says("delete my answers")
    patient.taps("Yes, delete them")
    assert store_of(app).conversation(patient.sender) is None
    assert [r["conversation_id"] for r in outbox(app)] == [kept.sender]
    assert now_sender(app).run_once().sent == 1
    assert [b["category"] for b in hook.bodies()] == ["likely eligible"]


def test_notifications_off_send_nothing_and_keep_the_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    app = make_app(tmp_path / "off.sqlite3")
    needs_review(app)
    sender = now_sender(app)
    assert not sender.enabled and sender.channels.names == ()
    assert (sender.run_once().sent, sender.run_once().failed) == (0, 0)
    (row,) = outbox(app)
    assert (row["sent_at"], row["attempts"], row["next_try_at"], row["last_error"]) == (None, 0, None, None)
    store_of(app).engine.dispose()


def test_without_a_base_url_the_message_says_where_to_look(tmp_path, monkeypatch, smtp, hook):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    app = make_app(tmp_path / "nolink.sqlite3", **notify_config(smtp, hook, STAFF_BASE_URL=None))
    patient = needs_review(app)
    now_sender(app).run_once()
    reference = reference_of(app, patient.sender)
    text = smtp.parsed()[0].get_body(("plain",)).get_content()
    assert "http" not in text and f"search for the reference code {reference}" in text
    assert hook.bodies()[0]["link"] is None and hook.bodies()[0]["reference"] == reference
    store_of(app).engine.dispose()


def test_two_senders_at_once_send_each_row_once(app, smtp, hook, monkeypatch):
    for _ in range(3):
        needs_review(app)
    typed_likely(app)
    # both senders read the same due rows before either claims them: only the conditional UPDATE
    # (its row count) decides who sends which
    from bot import db
    both_read = threading.Barrier(2, timeout=10)
    claimed_once = threading.local()
    real_write = db.write

    def write_after_both_read(engine):
        if not getattr(claimed_once, "done", False):
            claimed_once.done = True
            both_read.wait()
        return real_write(engine)

    monkeypatch.setattr(db, "write", write_after_both_read)
    results = []

    def run() -> None:
        results.append(now_sender(app).run_once())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not both_read.broken, "both senders read the rows before claiming them"
    assert sum(r.sent for r in results) == 4
    assert len(smtp.messages) == 4 and len(hook.calls) == 4
    assert len({b["reference"] for b in hook.bodies()}) == 4
    assert all(row["attempts"] == 1 for row in outbox(app))


def test_a_claimed_row_is_not_claimed_again_until_its_lease_ends(app, smtp, hook):
    needs_review(app)
    clock = {"now": now_utc()}
    first = now_sender(app, clock=lambda: clock["now"])
    second = now_sender(app, clock=lambda: clock["now"])
    (claimed,) = first.claim()                  # a sender that stops right after claiming
    assert second.claim() == []
    clock["now"] += dt.timedelta(minutes=6)      # its lease (5 minutes) is over
    (again,) = second.claim()
    assert again.id == claimed.id and again.attempts == 2


def test_the_background_sender_of_the_web_server_sends_outside_the_turn(tmp_path, monkeypatch, smtp, hook):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    app = make_app(tmp_path / "background.sqlite3",
                   **notify_config(smtp, hook, NOTIFY_IN_SERVER=True, NOTIFY_INTERVAL_SECONDS=0.05))
    background = app.extensions["prescreen_notify"]
    assert not background.running, "started by the serving process, not by the factory"
    try:
        needs_review(app)                              # its requests start the thread
        assert background.running
        deadline = now_utc() + dt.timedelta(seconds=10)
        while len(hook.calls) < 1 and now_utc() < deadline:
            threading.Event().wait(0.02)
        assert len(hook.calls) == 1 and len(smtp.messages) == 1
        assert outbox(app)[0]["sent_at"] is not None
    finally:
        background.stop()
        store_of(app).engine.dispose()


def test_prescreen_notify_once(tmp_path, monkeypatch, smtp, hook):
    from bot.cli import main
    database = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    app = make_app(database)
    needs_review(app)
    store_of(app).engine.dispose()
    env = {"PRESCREEN_DATABASE_URL": f"sqlite:///{database}", "PRESCREEN_CRITERIA": CRITERIA,
           "PRESCREEN_NOTIFY_SMTP_HOST": "127.0.0.1", "PRESCREEN_NOTIFY_SMTP_PORT": str(smtp.port),
           "PRESCREEN_NOTIFY_SMTP_STARTTLS": "0", "PRESCREEN_NOTIFY_EMAIL_FROM": SENDER,
           "PRESCREEN_NOTIFY_EMAIL_TO": TEAM, "PRESCREEN_NOTIFY_WEBHOOK_URL": hook.url,
           "PRESCREEN_STAFF_BASE_URL": BASE + "/"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    hook.statuses = [500]
    failed = CliRunner().invoke(main, ["notify", "--once"])
    assert failed.exit_code == 1 and "failed 1" in failed.output, failed.output
    monkeypatch.setenv("PRESCREEN_NOTIFY_MAX_ATTEMPTS", "5")
    # the pause after a failure (a minute by default) is not over: nothing is due
    assert CliRunner().invoke(main, ["notify", "--once"]).exit_code == 0 and len(hook.calls) == 1
    assert len(smtp.messages) == 1 and f"{BASE}/staff/r/" in smtp.parsed()[0].get_body(("plain",)).get_content()
    for name in env:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PRESCREEN_DATABASE_URL", f"sqlite:///{database}")
    off = CliRunner().invoke(main, ["notify", "--once"])
    assert off.exit_code == 0 and "notifications are off" in off.output


def test_the_backoff_grows_and_is_capped():
    pauses = [backoff(n) for n in range(1, 12)]
    assert pauses[:4] == [60.0, 120.0, 240.0, 480.0]
    assert pauses == sorted(pauses) and max(pauses) == 6 * 3600


# -- settings -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("variables, named", [
    ({"PRESCREEN_NOTIFY_EMAIL_TO": "team@example.org, not an address"}, "PRESCREEN_NOTIFY_EMAIL_TO"),
    ({"PRESCREEN_NOTIFY_EMAIL_FROM": "a@example.org, b@example.org"}, "PRESCREEN_NOTIFY_EMAIL_FROM"),
    ({"PRESCREEN_NOTIFY_WEBHOOK_URL": "ftp://hooks.example.org/x"}, "PRESCREEN_NOTIFY_WEBHOOK_URL"),
    ({"PRESCREEN_NOTIFY_WEBHOOK_URL": "https:///no-host"}, "PRESCREEN_NOTIFY_WEBHOOK_URL"),
    ({"PRESCREEN_STAFF_BASE_URL": "prescreen.example.org"}, "PRESCREEN_STAFF_BASE_URL"),
    ({"PRESCREEN_NOTIFY_SMTP_HOST": "smtp.example.org"}, "PRESCREEN_NOTIFY_EMAIL_TO"),
    ({"PRESCREEN_NOTIFY_EMAIL_TO": TEAM}, "PRESCREEN_NOTIFY_SMTP_HOST"),
    ({"PRESCREEN_NOTIFY_WEBHOOK_SECRET": "s"}, "PRESCREEN_NOTIFY_WEBHOOK_URL"),
    ({"PRESCREEN_NOTIFY_SMTP_PORT": "70000"}, "PRESCREEN_NOTIFY_SMTP_PORT"),
    ({"PRESCREEN_NOTIFY_MAX_ATTEMPTS": "0"}, "PRESCREEN_NOTIFY_MAX_ATTEMPTS"),
    ({"PRESCREEN_NOTIFY_IN_SERVER": "perhaps"}, "PRESCREEN_NOTIFY_IN_SERVER"),
])
def test_a_bad_notification_setting_is_refused_by_name(variables, named):
    with pytest.raises(ConfigError, match=named):
        Settings.load(variables)


def test_the_smtp_password_is_never_shown():
    password = "pa55-word-for-the-test"
    variables = {"PRESCREEN_NOTIFY_SMTP_HOST": "smtp.example.org", "PRESCREEN_NOTIFY_EMAIL_FROM": SENDER,
                 "PRESCREEN_NOTIFY_EMAIL_TO": f"{TEAM},second@example.org", "PRESCREEN_NOTIFY_SMTP_USER": "prescreen",
                 "PRESCREEN_NOTIFY_SMTP_PASSWORD": password, "PRESCREEN_NOTIFY_WEBHOOK_SECRET": password,
                 "PRESCREEN_NOTIFY_WEBHOOK_URL": "https://hooks.example.org/in"}
    settings = Settings.load(variables)
    channels = Channels.from_config(settings.flask_config())
    assert channels.smtp_password == password and channels.email_to == (TEAM, "second@example.org")
    assert password not in repr(settings) and password not in repr(settings.flask_config())
    assert password not in repr(channels)
    with pytest.raises(ConfigError) as refused:   # a password without a user: refused, the value not shown
        Settings.load({**variables, "PRESCREEN_NOTIFY_SMTP_USER": ""})
    assert "PRESCREEN_NOTIFY_SMTP_USER" in str(refused.value) and password not in str(refused.value)
    defaults = Settings.load({})
    assert Channels.from_config(defaults.flask_config()).names == ()
    assert defaults.notify_in_server is False and defaults.notify_max_attempts == 10


# -- the staff link ----------------------------------------------------------------------------------

def test_the_staff_link_by_reference_needs_a_login_and_leads_to_the_conversation(tmp_path):
    app = csrf_app(tmp_path)
    add_staff(app, "carol")
    Chat(app, "likely-by-reference-0001").run(["hi", "tap:Start"])
    reference = reference_of(app, "likely-by-reference-0001")
    anonymous = app.test_client().get(f"/staff/r/{reference}")
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]
    assert "likely-by-reference" not in anonymous.headers["Location"]

    staff = app.test_client()
    assert login(staff).status_code == 302
    for typed in (reference, reference.lower(), reference.replace("-", "")):
        response = staff.get(f"/staff/r/{typed}")
        assert response.status_code == 302, typed
        assert response.headers["Location"] == "/staff/conversations/likely-by-reference-0001"
    assert staff.get("/staff/r/AAA-AAA").status_code == 404          # a code no conversation has
    assert staff.get("/staff/r/not-a-code").status_code == 404
    page = staff.get(f"/staff/r/{reference}", follow_redirects=True)
    assert page.status_code == 200 and reference in page.get_data(as_text=True)
    store_of(app).engine.dispose()


# -- PostgreSQL: the claiming query --------------------------------------------------------------------

@pytest.mark.postgres
def test_claiming_on_postgresql_skips_locked_rows_and_never_gives_a_row_twice(postgres_url, smtp, hook):  # noqa: F811
    from bot import create_app
    with postgres_schema(postgres_url, "notify") as url:
        app = create_app({"DATABASE_URL": url, "CRITERIA": CRITERIA, "ALLOW_TODAY": True, "TESTING": True,
                          "RATE_LIMITS": "off", **notify_config(smtp, hook)})
        engine = store_of(app).engine
        try:
            assert engine.dialect.name == "postgresql"
            needs_review(app)
            ids = [row["id"] for row in outbox(app)]
            with engine.begin() as conn:      # more rows for the same conversation, to claim in parallel
                cid = outbox(app)[0]["conversation_id"]
                conn.execute(insert(notifications), [{"conversation_id": cid, "reason": "contact_requested",
                                                      "created_at": now_utc(), "attempts": 0} for _ in range(19)])
            ids = [row["id"] for row in outbox(app)]
            assert len(ids) == 20

            # a row locked by another transaction (a sender in the middle of claiming it) is skipped at once
            held = engine.connect()
            locked = held.begin()
            held.execute(select(notifications.c.id).where(notifications.c.id == ids[0]).with_for_update())
            result: list = []
            waiting = threading.Thread(target=lambda: result.extend(now_sender(app).claim(limit=5)))
            waiting.start()
            waiting.join(5)
            stuck = waiting.is_alive()
            locked.rollback()
            held.close()
            waiting.join(10)
            assert not stuck, "SKIP LOCKED: a locked row is skipped, not waited for"
            claimed = result
            assert ids[0] not in [c.id for c in claimed] and len(claimed) == 5

            # senders claiming at the same moment get disjoint rows, and every row goes to one of them
            barrier = threading.Barrier(4)
            won: list[list[int]] = [[] for _ in range(4)]

            def claim(i: int) -> None:
                sender = now_sender(app)
                barrier.wait()
                while batch := sender.claim(limit=3):
                    won[i].extend(c.id for c in batch)

            threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            everything = [i for part in won for i in part] + [c.id for c in claimed]
            assert sorted(everything) == sorted(ids), "each row claimed exactly once"
            with engine.connect() as conn:
                assert set(conn.execute(select(notifications.c.attempts)).scalars()) == {1}
        finally:
            engine.dispose()
