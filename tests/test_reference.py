"""A printable result that connects to the staff record (issue 13, item 3): every conversation has a
short reference code, unique (enforced by the database, drawn again on a collision), in the result
as `reference` and in its text, on the staff pages, searchable there, and in the exports."""

from __future__ import annotations

import csv
import io

import pytest

import bot.conversation
from bot.reference import PATTERN, as_reference, new_reference
from test_staff_helpers import REAL_LIKELY, Chat, add_staff, csrf_app, login, store_of


@pytest.fixture()
def app(tmp_path):
    app = csrf_app(tmp_path)
    add_staff(app, "carol")
    return app


@pytest.fixture()
def staff(app):
    c = app.test_client()
    assert login(c).status_code == 302
    return c


def test_codes_are_readable_and_typed_forms_are_recognised():
    codes = {new_reference() for _ in range(2000)}
    assert all(PATTERN.match(c) for c in codes) and len(codes) > 1990
    assert not set("".join(codes)) & set("0O1IL2Z5S8B")   # nothing to misread aloud
    code = next(iter(codes))
    assert as_reference(code.lower()) == code and as_reference(code.replace("-", " ")) == code
    assert as_reference("ulcers") is None and as_reference("FINGER") is None and as_reference("") is None


def test_the_result_carries_the_conversations_code(app):
    chat = Chat(app, "likely").run(REAL_LIKELY)
    result = chat.result
    code = result["reference"]
    assert PATTERN.match(code)
    text = next(r["text"] for r in chat.replies if (r.get("custom") or {}).get("prescreen_result"))
    assert f"Reference: {code}" in text
    assert store_of(app).conversation("likely")["reference"] == code
    chat.say("start over")   # the same conversation keeps its code
    assert store_of(app).conversation("likely")["reference"] == code


def test_a_code_already_taken_is_drawn_again(app, monkeypatch):
    Chat(app, "first").say("hi")
    taken = store_of(app).conversation("first")["reference"]
    drawn = iter([taken, taken, "K7Q-4M3"])
    monkeypatch.setattr(bot.conversation, "new_reference", lambda: next(drawn))
    Chat(app, "second").say("hi")
    assert store_of(app).conversation("second")["reference"] == "K7Q-4M3"
    assert store_of(app).conversation("first")["reference"] == taken


def test_staff_find_a_conversation_by_its_code(app, staff):
    Chat(app, "likely").run(REAL_LIKELY)
    Chat(app, "other").run(REAL_LIKELY)
    code = store_of(app).conversation("likely")["reference"]
    for typed in (code, code.lower(), code.replace("-", "")):
        page = staff.get("/staff/conversations", query_string={"q": typed}).get_data(as_text=True)
        assert "/staff/conversations/likely" in page and "/staff/conversations/other" not in page, typed
    assert code in staff.get("/staff/conversations/likely").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(staff.get("/staff/export?format=csv").get_data(as_text=True))))
    assert {r["conversation_id"]: r["reference"] for r in rows}["likely"] == code
