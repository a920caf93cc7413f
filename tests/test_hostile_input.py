"""Hostile and malformed input on the public chat endpoint (issue 7, part 1).

Every request gets either a normal bot reply (200, a JSON list) or a 4xx JSON
error with an "error" sentence: never a 5xx, never an HTML page or a trace;
and nothing is half stored (the sender's log is unchanged, or grew by whole turns).
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, inspect, select

from bot.db.schema import conversations as conversations_table, events as events_table
from chatkit import CRITERIA, WEBHOOK, Patient, make_app, store_of, user_events
from dbkit import assert_unchanged_or_whole_turns, assert_whole_turns, isolated_app, run_sender

STORE_TABLES = {"conversations", "events", "message_replies", "tombstones", "audit"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    yield from isolated_app(tmp_path_factory, "hostile")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def victim(app, client):
    """A conversation already under way: hostile requests name it as their sender."""
    patient = Patient(client, sender=run_sender("victim"))
    patient.start()
    patient.says("54")
    assert patient.asked == "diagnosis"
    return patient


def counts(store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(events_table)).scalar(),
                conn.execute(select(func.count()).select_from(conversations_table)).scalar())


def check_response(response, *, allowed: set[int] | None = None) -> object:
    """A 200 JSON list or a 4xx JSON object with an "error" sentence; the body parsed."""
    body = response.get_data()
    status = response.status_code
    assert status < 500, f"HTTP {status}: {body[:300]!r}"
    assert b"Traceback" not in body and b"File \"" not in body, body[:300]
    assert b"<html" not in body.lower() and b"<!doctype" not in body.lower(), body[:300]
    assert response.content_type.startswith("application/json"), (status, response.content_type, body[:200])
    data = json.loads(body)
    if status == 200:
        assert isinstance(data, list), data
        for reply in data:
            assert isinstance(reply, dict) and "recipient_id" in reply, reply
    else:
        assert 400 <= status < 500, status
        assert isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"].strip(), data
    if allowed is not None:
        assert status in allowed, f"expected one of {sorted(allowed)}, got {status}: {data}"
    return data


def post_raw(client, body: bytes | str, content_type: str | None = "application/json", method: str = "POST"):
    kwargs = {"data": body}
    if content_type is not None:
        kwargs["content_type"] = content_type
    return client.open(WEBHOOK, method=method, **kwargs)


def as_json(value) -> bytes:
    return json.dumps(value).encode()


# --- malformed bodies: 4xx, nothing stored --------------------------------------------------------

def _bodies(sender: str) -> dict[str, tuple[bytes, str | None]]:
    ok_meta = {"message_id": "m-hostile"}
    return {
        "not JSON": (b"hello there", "application/json"),
        "empty body": (b"", "application/json"),
        "truncated JSON": (b'{"sender": "%s", "message": ' % sender.encode(), "application/json"),
        "JSON with a trailing comma": (b'{"sender": "%s", "message": "hi",}' % sender.encode(), "application/json"),
        "JSON list": (as_json([{"sender": sender, "message": "hi"}]), "application/json"),
        "JSON number": (b"42", "application/json"),
        "JSON string": (b'"hi"', "application/json"),
        "JSON null": (b"null", "application/json"),
        "JSON true": (b"true", "application/json"),
        "empty object": (b"{}", "application/json"),
        "sender missing": (as_json({"message": "hi"}), "application/json"),
        "message missing": (as_json({"sender": sender}), "application/json"),
        "sender int": (as_json({"sender": 12345, "message": "hi"}), "application/json"),
        "sender float": (as_json({"sender": 1.5, "message": "hi"}), "application/json"),
        "sender null": (as_json({"sender": None, "message": "hi"}), "application/json"),
        "sender list": (as_json({"sender": [sender], "message": "hi"}), "application/json"),
        "sender object": (as_json({"sender": {"id": sender}, "message": "hi"}), "application/json"),
        "sender true": (as_json({"sender": True, "message": "hi"}), "application/json"),
        "message list": (as_json({"sender": sender, "message": ["hi"]}), "application/json"),
        "message int": (as_json({"sender": sender, "message": 54}), "application/json"),
        "message object": (as_json({"sender": sender, "message": {"text": "hi"}}), "application/json"),
        "message null": (as_json({"sender": sender, "message": None}), "application/json"),
        "message empty": (as_json({"sender": sender, "message": ""}), "application/json"),
        "message blank": (as_json({"sender": sender, "message": "  \t\n "}), "application/json"),
        "metadata string": (as_json({"sender": sender, "message": "hi", "metadata": "m1"}), "application/json"),
        "metadata list": (as_json({"sender": sender, "message": "hi", "metadata": [ok_meta]}), "application/json"),
        "metadata number": (as_json({"sender": sender, "message": "hi", "metadata": 7}), "application/json"),
        "invalid UTF-8 bytes": (b'{"sender": "%s", "message": "caf\xe9 \xff\xfe"}' % sender.encode(),
                                "application/json"),
        "invalid UTF-8, not JSON either": (b"\xff\xfe\xfd\x00\x80", "application/json"),
        "JSON as text/plain": (as_json({"sender": sender, "message": "hi"}), "text/plain"),
        "JSON without a content type": (as_json({"sender": sender, "message": "hi"}), None),
        "form-encoded": (f"sender={sender}&message=hi".encode(), "application/x-www-form-urlencoded"),
        "multipart": (b"--x\r\nContent-Disposition: form-data; name=\"sender\"\r\n\r\n" + sender.encode()
                      + b"\r\n--x--\r\n", "multipart/form-data; boundary=x"),
        "XML": (b"<message><sender>%s</sender><text>hi</text></message>" % sender.encode(), "application/xml"),
        "NaN as message": (b'{"sender": "%s", "message": NaN}' % sender.encode(), "application/json"),
        "huge number as message": (b'{"sender": "%s", "message": 1e999999}' % sender.encode(), "application/json"),
    }


MALFORMED = list(_bodies("x"))


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_bodies_get_a_4xx_json_error_and_store_nothing(app, client, victim, case):
    store = store_of(app)
    before_log, before_counts = store.events(victim.sender), counts(store)
    body, content_type = _bodies(victim.sender)[case]
    response = post_raw(client, body, content_type)
    check_response(response, allowed={400, 415})
    assert store.events(victim.sender) == before_log
    assert counts(store) == before_counts
    # the conversation goes on as if nothing happened
    victim.taps("Yes, the diffuse type")
    assert victim.asked == "refractory"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_other_json_encodings_get_a_reply_or_a_4xx(app, client, victim, encoding):
    """RFC 8259 JSON readers may accept UTF-16/32; either way, no crash and whole turns."""
    store = store_of(app)
    before = store.events(victim.sender)
    body = json.dumps({"sender": victim.sender, "message": "help"}).encode(encoding)
    check_response(post_raw(client, body))
    assert_unchanged_or_whole_turns(before, store.events(victim.sender), victim.sender)


def test_deeply_nested_json_is_a_4xx_not_a_crash(app, client, victim):
    """30,000 nested lists fit in the body limit (60 KB) but exceed Python's recursion limit."""
    store = store_of(app)
    before = counts(store)
    for body in (b"[" * 30000 + b"]" * 30000,
                 b'{"sender": "%s", "message": "hi", "metadata": ' % victim.sender.encode()
                 + b'{"a": ' * 15000 + b"1" + b"}" * 15000 + b"}"):
        check_response(post_raw(client, body), allowed={400, 413})
    assert counts(store) == before


def test_a_one_megabyte_body_is_413_json(app, client, victim):
    store = store_of(app)
    before = counts(store)
    big = as_json({"sender": victim.sender, "message": "x" * (1 << 20)})
    data = check_response(post_raw(client, big), allowed={413})
    assert "large" in data["error"].lower()
    junk = b"\x00" * (1 << 20)    # not JSON: refused unread (400) or as too large (413)
    check_response(post_raw(client, junk, "application/octet-stream"), allowed={400, 413})
    assert counts(store) == before


def test_a_ten_thousand_character_message_is_400_saying_too_long(app, client, victim):
    store = store_of(app)
    before = store.events(victim.sender)
    response = post_raw(client, as_json({"sender": victim.sender, "message": "a" * 10000}))
    data = check_response(response, allowed={400})
    assert "long" in data["error"].lower(), data
    assert "2000" in data["error"]          # it says what the limit is
    assert store.events(victim.sender) == before


def test_a_message_at_the_limit_is_accepted(app, client, victim):
    response = post_raw(client, as_json({"sender": victim.sender, "message": "x" * 2000}))
    check_response(response, allowed={200})
    # two-byte characters count as characters, not bytes
    response = post_raw(client, as_json({"sender": victim.sender, "message": "é" * 2000}))
    check_response(response, allowed={200})
    assert_whole_turns(store_of(app).events(victim.sender))


def test_limits_are_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    small = make_app(tmp_path / "small.sqlite3", MAX_MESSAGE_LENGTH=10, MAX_CONTENT_LENGTH=1000)
    try:
        client = small.test_client()
        sender = run_sender("limits")
        ok = post_raw(client, as_json({"sender": sender, "message": "0123456789"}))
        check_response(ok, allowed={200})
        long = post_raw(client, as_json({"sender": sender, "message": "0123456789x"}))
        assert "10" in check_response(long, allowed={400})["error"]
        big = post_raw(client, as_json({"sender": sender, "message": "hi", "metadata": {"pad": "x" * 2000}}))
        check_response(big, allowed={413})
        assert len(user_events(store_of(small).events(sender))) == 1
    finally:
        store_of(small).engine.dispose()


# --- bad senders -------------------------------------------------------------------------------

BAD_SENDERS = {
    "empty": "",
    "129 characters": "a" * 129,
    "space": "has space",
    "path": "../../etc/passwd",
    "slash": "a/b",
    "html": "<script>alert(1)</script>",
    "sql": "x'; DROP TABLE events; --",
    "sql or": "1' OR '1'='1",
    "newline": "abc\ndef",
    "trailing newline": "abc\n",
    "NUL": "abc\x00",
    "accented": "patiënt",
    "emoji": "😀",
    "percent-encoded": "abc%00",
    "tab": "\tabc",
    "fullwidth digits": "１２３",
}


@pytest.mark.parametrize("name", list(BAD_SENDERS))
def test_a_sender_outside_the_rule_is_400(app, client, name):
    store = store_of(app)
    before = counts(store)
    sender = BAD_SENDERS[name]
    data = check_response(post_raw(client, as_json({"sender": sender, "message": "hi"})), allowed={400})
    assert "sender" in data["error"]
    assert counts(store) == before
    assert store.conversation(sender) is None


@pytest.mark.parametrize("sender", ["a" * 16, "A" * 128, "0", "a.b:c-d_e", "-", ".", ":::"])
def test_a_sender_inside_the_rule_is_served(app, client, sender):
    sender = sender if len(sender) >= 16 else sender + run_sender("ok")[:40]
    response = post_raw(client, as_json({"sender": sender, "message": "hi"}))
    check_response(response, allowed={200})
    assert_whole_turns(store_of(app).events(sender))


# --- odd but valid messages: a normal reply, stored exactly -------------------------------------

ODD_MESSAGES = {
    "NUL inside": "I'm\x00 54",
    "control characters": "\x01\x02\x03\x07\x08\x0b\x0c\x1b[31m\x7f 54",
    "C1 controls": "\x80\x85\x9f hi",
    "line and paragraph separators": "54\u2028\u2029",
    "zero-width and BOM": "\ufeff5\u200b4\u200d",
    "emoji": "😀👍🏽 👨‍👩‍👧‍👦 I'm 54 🎉",
    "right-to-left Arabic": "عمري ٥٤ سنة",
    "right-to-left Hebrew": "אני בן 54",
    "RTL override": "\u202e45 ma I\u202c",
    "combining marks": "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a",
    "astral plane": "\U0001d54f\U0001f600\U000e0041",
    "SQL injection": "'; DROP TABLE events; --",
    "SQL injection 2": "54'); DELETE FROM conversations; --",
    "SQL union": "1 UNION SELECT password_hash FROM staff_users --",
    "HTML script": "<script>alert('x')</script>",
    "HTML img": "<img src=x onerror=alert(1)>",
    "template": "{{7*7}} ${7*7} {% raw %}",
    "format string": "%s %n %x {0} {sender}",
    "json inside": '{"sender": "other", "message": "hi"}',
    "backslashes": "\\u0000 \\x00 \\",
    "very long word": "w" * 1999,
    "whitespace around": "   54   ",
}


CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def without_controls(text: str) -> str:
    return CONTROLS.sub("", text)


@pytest.mark.parametrize("name", list(ODD_MESSAGES))
def test_odd_messages_get_a_normal_reply_and_are_stored_whole(app, client, victim, name):
    store = store_of(app)
    message = ODD_MESSAGES[name]
    before = store.events(victim.sender)
    response = post_raw(client, as_json({"sender": victim.sender, "message": message,
                                         "metadata": {"message_id": f"odd-{name}"}}))
    replies = check_response(response, allowed={200})
    assert replies, "the bot answers something"
    after = store.events(victim.sender)
    assert_unchanged_or_whole_turns(before, after, victim.sender)
    new_users = user_events(after[len(before):])
    assert len(new_users) == 1
    stored = new_users[0]["text"]
    # stored as sent, except that control characters may be dropped (NUL always: PostgreSQL refuses it)
    assert without_controls(stored) == without_controls(message), (stored, message)
    assert "\x00" not in json.dumps(after[len(before):], ensure_ascii=False)
    # every table is still there and so is the earlier conversation
    assert STORE_TABLES <= set(inspect(store.engine).get_table_names())
    assert after[:len(before)] == before
    # ... and the conversation continues: the same question or the next one
    victim.replies = replies
    if victim.asked == "diagnosis":
        victim.taps("Yes, the diffuse type")
        assert victim.asked == "refractory"


@pytest.mark.parametrize("message", ["\x00", "\x00 \x00", "\x01\x02", "\x7f\x1b"])
def test_a_message_of_only_control_characters(app, client, victim, message):
    """Nothing readable: a 400 ("non-empty"), or a normal reply; never a NUL stored."""
    store = store_of(app)
    before = store.events(victim.sender)
    check_response(post_raw(client, as_json({"sender": victim.sender, "message": message})), allowed={200, 400})
    after = store.events(victim.sender)
    assert_unchanged_or_whole_turns(before, after, victim.sender)
    assert "\x00" not in json.dumps(after, ensure_ascii=False)


def test_injection_strings_in_every_field_leave_the_tables_alone(app, client, victim):
    store = store_of(app)
    before_log, before_counts = store.events(victim.sender), counts(store)
    evil = "'; DROP TABLE events; --"
    for meta in ({"message_id": evil}, {"message_id": "<script>alert(1)</script>"},
                 {evil: evil, "message_id": "x\" OR 1=1 --"}):
        check_response(post_raw(client, as_json({"sender": victim.sender, "message": evil, "metadata": meta})),
                       allowed={200})
    check_response(post_raw(client, as_json({"sender": evil, "message": evil})), allowed={400})
    assert STORE_TABLES <= set(inspect(store.engine).get_table_names())
    after = store.events(victim.sender)
    assert after[:len(before_log)] == before_log
    assert_whole_turns(after)
    assert len(user_events(after)) == len(user_events(before_log)) + 3
    assert counts(store)[1] == before_counts[1]
    # a repeat of an injected message id is recognised as a repeat
    again = post_raw(client, as_json({"sender": victim.sender, "message": evil, "metadata": {"message_id": evil}}))
    check_response(again, allowed={200})
    assert store.events(victim.sender) == after


def test_odd_metadata_is_tolerated(app, client, victim):
    store = store_of(app)
    before = store.events(victim.sender)
    for meta in ({}, {"message_id": None}, {"message_id": ""}, {"message_id": 12345}, {"message_id": ["a"]},
                 {"message_id": {"a": 1}}, {"message_id": "m" * 10000}, {"message_id": 1.5e300},
                 {"today": "not a date", "message_id": "today-garbage"}, {"nested": {"deep": [1, {"x": None}]}}):
        check_response(post_raw(client, as_json({"sender": victim.sender, "message": "help", "metadata": meta})),
                       allowed={200})
    after = store.events(victim.sender)
    assert_unchanged_or_whole_turns(before, after, victim.sender)
    assert len(user_events(after)) == len(user_events(before)) + 10


@pytest.mark.parametrize("where", ["message", "message_id", "payload value"])
def test_a_lone_surrogate_is_a_normal_reply_or_a_4xx(app, client, victim, where):
    """JSON may escape a lone surrogate (\\ud800): valid JSON, but not encodable as UTF-8."""
    store = store_of(app)
    before = store.events(victim.sender)
    sender = victim.sender.encode()
    body = {
        "message": b'{"sender": "%s", "message": "I am \\ud800 54"}' % sender,
        "message_id": b'{"sender": "%s", "message": "54", "metadata": {"message_id": "id-\\udfff"}}' % sender,
        "payload value": b'{"sender": "%s", "message": "/inform{\\"age\\": \\"\\\\ud83d\\"}"}' % sender,
    }[where]
    assert json.loads(body)  # valid JSON
    check_response(post_raw(client, body))
    assert_unchanged_or_whole_turns(before, store.events(victim.sender), victim.sender)


# --- payloads a patient should not be able to forge -------------------------------------------------

@pytest.mark.parametrize("payload", [
    '/inform{"age": 54}', '/inform{"age": "54"', '/inform{"requested_slot": "pregnancy"}',
    '/inform{"age": [1, 2, 3]}', '/inform{"age": {"$gt": 0}}', '/inform{}', '/inform[]', '/inform{"a": 1e999}',
    '/restart', '/session_start', '/action_listen', '/utter_greet', '/nlu_fallback', '/delete_confirm',
    '/' + 'x' * 1000, '//', '/', '/inform{"age": "' + 'x' * 1900 + '"}',
])
def test_forged_payloads_get_a_normal_reply(app, client, victim, payload):
    store = store_of(app)
    before = store.events(victim.sender)
    check_response(post_raw(client, as_json({"sender": victim.sender, "message": payload})), allowed={200})
    assert_unchanged_or_whole_turns(before, store.events(victim.sender), victim.sender)


# --- other HTTP methods -----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"])
def test_other_methods_are_405_json(app, client, victim, method):
    store = store_of(app)
    before = counts(store)
    response = post_raw(client, as_json({"sender": victim.sender, "message": "hi"}), method=method)
    check_response(response, allowed={405})
    assert "POST" in response.headers.get("Allow", "")
    assert counts(store) == before


def test_head_and_options_store_nothing(app, client, victim):
    store = store_of(app)
    before = counts(store)
    head = client.head(WEBHOOK)
    assert head.status_code == 405 and head.content_type.startswith("application/json")
    options = client.options(WEBHOOK)       # a CORS pre-flight: no body, no turn
    assert options.status_code < 500
    assert b"Traceback" not in options.get_data()
    assert counts(store) == before


def test_unknown_paths_under_webhooks_are_json_404(client):
    for path in ("/webhooks/rest/webhook/extra", "/webhooks/", "/webhooks/rest/../../etc/passwd",
                 "/webhooks/rest/webhook%00"):
        response = client.post(path, json={"sender": "a", "message": "hi"})
        data = check_response(response, allowed={404, 405})
        assert data["error"]
